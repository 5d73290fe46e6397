using System.Diagnostics.CodeAnalysis;

namespace Kyoto.Sync;

/// <summary>
/// The outcome of <see cref="Select.AnyAsync{T}(ReadOnlySpan{Func{CancellationToken, ValueTask{T}}}, SelectOrder, CancellationToken)"/>:
/// which branch's value this is, that value, and what the other branches left behind.
/// </summary>
/// <remarks>
/// A losing branch is cancelled through its token, but it may still complete with a value (it won against its
/// cancellation, e.g. a receive that had already taken a message). Such values are never dropped silently:
/// they are in <see cref="LateValues"/>. Check it when a branch consumes something (a message, a connection).
/// </remarks>
/// <typeparam name="T">The branches' result type.</typeparam>
public readonly struct SelectResult<T>
{
    private readonly (int Index, T Value)[]? _lateValues;
    private readonly (int Index, Exception Exception)[]? _loserErrors;

    internal SelectResult(int index, T value, (int Index, T Value)[]? lateValues, (int Index, Exception Exception)[]? loserErrors)
    {
        Index = index;
        Value = value;
        _lateValues = lateValues;
        _loserErrors = loserErrors;
    }

    /// <summary>
    /// The index (in the order given) of the branch whose value this is: the first branch to complete, or, if
    /// that one failed, the first to complete with a value.
    /// </summary>
    public int Index { get; }

    /// <summary>The value of branch <see cref="Index"/>.</summary>
    public T Value { get; }

    /// <summary>
    /// The values of other branches that completed successfully although they lost (usually empty), in
    /// branch order. Whatever they consumed is the caller's to handle.
    /// </summary>
    public IReadOnlyList<(int Index, T Value)> LateValues => _lateValues ?? Array.Empty<(int, T)>();

    /// <summary>
    /// The exceptions of other branches that failed with something other than the cancellation the select
    /// asked for (usually empty), in branch order.
    /// </summary>
    public IReadOnlyList<(int Index, Exception Exception)> LoserErrors => _loserErrors ?? Array.Empty<(int, Exception)>();
}

/// <summary>
/// The outcome of <see cref="Select.AnyAsync{T1, T2}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, SelectOrder, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <see cref="Index"/> names the branch whose value the select returns, and that branch always has a value.
/// A losing branch that completed with a value anyway (it won against its cancellation) has one too: test
/// every branch with <c>TryGet1</c>, <c>TryGet2</c> rather than <see cref="Index"/> alone when a branch
/// consumes something (a message, a connection), so no value is dropped.
/// </remarks>
/// <typeparam name="T1">The first branch's result type.</typeparam>
/// <typeparam name="T2">The second branch's result type.</typeparam>
public readonly struct SelectResult<T1, T2>
{
    private readonly T1 _value1;
    private readonly T2 _value2;
    private readonly (int Index, Exception Exception)[]? _loserErrors;

    internal SelectResult(int index, bool has1, T1 value1, bool has2, T2 value2, (int Index, Exception Exception)[]? loserErrors)
    {
        Index = index;
        HasValue1 = has1;
        _value1 = value1;
        HasValue2 = has2;
        _value2 = value2;
        _loserErrors = loserErrors;
    }

    /// <summary>
    /// The branch whose value the select returns: 0 for the first branch (<see cref="Value1"/>), 1 for the
    /// second (<see cref="Value2"/>). It is the first branch to complete, or, if that one failed, the first to
    /// complete with a value.
    /// </summary>
    public int Index { get; }

    /// <summary>True if the first branch completed with a value.</summary>
    public bool HasValue1 { get; }

    /// <summary>True if the second branch completed with a value.</summary>
    public bool HasValue2 { get; }

    /// <summary>The first branch's value.</summary>
    /// <exception cref="InvalidOperationException">The first branch produced no value.</exception>
    public T1 Value1 => HasValue1 ? _value1 : throw NoValue(1);

    /// <summary>The second branch's value.</summary>
    /// <exception cref="InvalidOperationException">The second branch produced no value.</exception>
    public T2 Value2 => HasValue2 ? _value2 : throw NoValue(2);

    /// <summary>
    /// The exceptions of branches other than <see cref="Index"/> that failed with something other than the
    /// cancellation the select asked for (usually empty), by branch index (0 or 1).
    /// </summary>
    public IReadOnlyList<(int Index, Exception Exception)> LoserErrors => _loserErrors ?? Array.Empty<(int, Exception)>();

    /// <summary>Gets the first branch's value, if it produced one.</summary>
    public bool TryGet1([MaybeNullWhen(false)] out T1 value)
    {
        value = _value1;
        return HasValue1;
    }

    /// <summary>Gets the second branch's value, if it produced one.</summary>
    public bool TryGet2([MaybeNullWhen(false)] out T2 value)
    {
        value = _value2;
        return HasValue2;
    }

    internal static InvalidOperationException NoValue(int branch) =>
        new($"Branch {branch} of the select produced no value (it lost and was cancelled, or failed).");
}

/// <summary>
/// The outcome of <see cref="Select.AnyAsync{T1, T2, T3}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, Func{CancellationToken, ValueTask{T3}}, SelectOrder, CancellationToken)"/>.
/// </summary>
/// <remarks>As <see cref="SelectResult{T1, T2}"/>, with a third branch.</remarks>
/// <typeparam name="T1">The first branch's result type.</typeparam>
/// <typeparam name="T2">The second branch's result type.</typeparam>
/// <typeparam name="T3">The third branch's result type.</typeparam>
public readonly struct SelectResult<T1, T2, T3>
{
    private readonly T1 _value1;
    private readonly T2 _value2;
    private readonly T3 _value3;
    private readonly (int Index, Exception Exception)[]? _loserErrors;

    internal SelectResult(int index, bool has1, T1 value1, bool has2, T2 value2, bool has3, T3 value3, (int Index, Exception Exception)[]? loserErrors)
    {
        Index = index;
        HasValue1 = has1;
        _value1 = value1;
        HasValue2 = has2;
        _value2 = value2;
        HasValue3 = has3;
        _value3 = value3;
        _loserErrors = loserErrors;
    }

    /// <summary>
    /// The branch whose value the select returns: 0, 1 or 2 for the first, second or third branch
    /// (<see cref="Value1"/>, <see cref="Value2"/>, <see cref="Value3"/>).
    /// </summary>
    public int Index { get; }

    /// <summary>True if the first branch completed with a value.</summary>
    public bool HasValue1 { get; }

    /// <summary>True if the second branch completed with a value.</summary>
    public bool HasValue2 { get; }

    /// <summary>True if the third branch completed with a value.</summary>
    public bool HasValue3 { get; }

    /// <summary>The first branch's value.</summary>
    /// <exception cref="InvalidOperationException">The first branch produced no value.</exception>
    public T1 Value1 => HasValue1 ? _value1 : throw SelectResult<T1, T2>.NoValue(1);

    /// <summary>The second branch's value.</summary>
    /// <exception cref="InvalidOperationException">The second branch produced no value.</exception>
    public T2 Value2 => HasValue2 ? _value2 : throw SelectResult<T1, T2>.NoValue(2);

    /// <summary>The third branch's value.</summary>
    /// <exception cref="InvalidOperationException">The third branch produced no value.</exception>
    public T3 Value3 => HasValue3 ? _value3 : throw SelectResult<T1, T2>.NoValue(3);

    /// <summary>
    /// The exceptions of branches other than <see cref="Index"/> that failed with something other than the
    /// cancellation the select asked for (usually empty), by branch index (0, 1 or 2).
    /// </summary>
    public IReadOnlyList<(int Index, Exception Exception)> LoserErrors => _loserErrors ?? Array.Empty<(int, Exception)>();

    /// <summary>Gets the first branch's value, if it produced one.</summary>
    public bool TryGet1([MaybeNullWhen(false)] out T1 value)
    {
        value = _value1;
        return HasValue1;
    }

    /// <summary>Gets the second branch's value, if it produced one.</summary>
    public bool TryGet2([MaybeNullWhen(false)] out T2 value)
    {
        value = _value2;
        return HasValue2;
    }

    /// <summary>Gets the third branch's value, if it produced one.</summary>
    public bool TryGet3([MaybeNullWhen(false)] out T3 value)
    {
        value = _value3;
        return HasValue3;
    }
}
