// Invariants (Join): AllAsync awaits every operation it was given, in argument order, before it returns or
// throws. TryAllAsync follows the BranchGroup invariants: its branches are started in order, a branch that
// fails at once stops the later ones from starting, and it never returns or throws while a started branch is
// still running.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Kyoto.Sync;

/// <summary>
/// Waits for several asynchronous operations together (Tokio's <c>join!</c> and <c>try_join!</c>).
/// </summary>
/// <remarks>
/// <para><see cref="AllAsync{T1, T2}(ValueTask{T1}, ValueTask{T2})"/> awaits operations the caller has
/// already started and returns all their results; it cannot cancel them. If any failed, it throws the
/// exception of the first failed operation in argument order, after all have finished (like
/// <c>await Task.WhenAll(...)</c>); the other failures are not reported.</para>
/// <para><see cref="TryAllAsync{T1, T2}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, CancellationToken)"/>
/// starts the operations itself, in order, each with a token linked to the caller's (and, inside a Kyoto
/// task, to the task's abort). On the first failure it cancels the others, waits for them, and throws that
/// failure; the others' values and exceptions are then dropped (as <c>try_join!</c> drops the other futures).
/// An operation that fails synchronously stops the later ones from being started.</para>
/// <para>When everything completes synchronously, both allocate nothing but the result.</para>
/// </remarks>
/// <example>
/// <code>
/// (User user, Order[] orders) = await Join.TryAllAsync(
///     ct =&gt; users.GetAsync(id, ct),
///     ct =&gt; orders.ListAsync(id, ct),
///     cancellationToken);
/// </code>
/// </example>
public static class Join
{
    /// <summary>Awaits both operations and returns both results.</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> this cannot cancel the operations; they were started by the caller and are awaited
    /// to the end. If one fails, the first failure in argument order is thrown after both finished.
    /// </remarks>
    public static ValueTask<(T1, T2)> AllAsync<T1, T2>(ValueTask<T1> first, ValueTask<T2> second)
    {
        if (first.IsCompletedSuccessfully && second.IsCompletedSuccessfully)
        {
            return new ValueTask<(T1, T2)>((first.Result, second.Result));
        }

        return AllSlowAsync(first, second);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2)> AllSlowAsync<T1, T2>(ValueTask<T1> first, ValueTask<T2> second)
    {
        ExceptionDispatchInfo? error = null;
        T1 r1 = default!;
        T2 r2 = default!;
        try
        {
            r1 = await first.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r2 = await second.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        error?.Throw();
        return (r1, r2);
    }

    /// <summary>Awaits the three operations and returns all results.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="AllAsync{T1, T2}(ValueTask{T1}, ValueTask{T2})"/>.</remarks>
    public static ValueTask<(T1, T2, T3)> AllAsync<T1, T2, T3>(ValueTask<T1> first, ValueTask<T2> second, ValueTask<T3> third)
    {
        if (first.IsCompletedSuccessfully && second.IsCompletedSuccessfully && third.IsCompletedSuccessfully)
        {
            return new ValueTask<(T1, T2, T3)>((first.Result, second.Result, third.Result));
        }

        return AllSlowAsync(first, second, third);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2, T3)> AllSlowAsync<T1, T2, T3>(ValueTask<T1> first, ValueTask<T2> second, ValueTask<T3> third)
    {
        ExceptionDispatchInfo? error = null;
        T1 r1 = default!;
        T2 r2 = default!;
        T3 r3 = default!;
        try
        {
            r1 = await first.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r2 = await second.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r3 = await third.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        error?.Throw();
        return (r1, r2, r3);
    }

    /// <summary>Awaits the four operations and returns all results.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="AllAsync{T1, T2}(ValueTask{T1}, ValueTask{T2})"/>.</remarks>
    public static ValueTask<(T1, T2, T3, T4)> AllAsync<T1, T2, T3, T4>(ValueTask<T1> first, ValueTask<T2> second, ValueTask<T3> third, ValueTask<T4> fourth)
    {
        if (first.IsCompletedSuccessfully && second.IsCompletedSuccessfully && third.IsCompletedSuccessfully && fourth.IsCompletedSuccessfully)
        {
            return new ValueTask<(T1, T2, T3, T4)>((first.Result, second.Result, third.Result, fourth.Result));
        }

        return AllSlowAsync(first, second, third, fourth);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2, T3, T4)> AllSlowAsync<T1, T2, T3, T4>(ValueTask<T1> first, ValueTask<T2> second, ValueTask<T3> third, ValueTask<T4> fourth)
    {
        ExceptionDispatchInfo? error = null;
        T1 r1 = default!;
        T2 r2 = default!;
        T3 r3 = default!;
        T4 r4 = default!;
        try
        {
            r1 = await first.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r2 = await second.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r3 = await third.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        try
        {
            r4 = await fourth.ConfigureAwait(true);
        }
        catch (Exception e)
        {
            error ??= ExceptionDispatchInfo.Capture(e);
        }

        error?.Throw();
        return (r1, r2, r3, r4);
    }

    /// <summary>Awaits every operation and returns their results, in the same order.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="AllAsync{T1, T2}(ValueTask{T1}, ValueTask{T2})"/>.</remarks>
    public static ValueTask<T[]> AllAsync<T>(ReadOnlySpan<ValueTask<T>> operations)
    {
        if (operations.IsEmpty)
        {
            return new ValueTask<T[]>(Array.Empty<T>());
        }

        var results = new T[operations.Length];
        for (int i = 0; i < operations.Length; i++)
        {
            if (!operations[i].IsCompletedSuccessfully)
            {
                // Copy what is left (a span cannot cross an await) and await it in order.
                return AllSlowAsync(results, i, operations[i..].ToArray());
            }

            results[i] = operations[i].Result;
        }

        return new ValueTask<T[]>(results);
    }

    private static async ValueTask<T[]> AllSlowAsync<T>(T[] results, int offset, ValueTask<T>[] rest)
    {
        ExceptionDispatchInfo? error = null;
        for (int i = 0; i < rest.Length; i++)
        {
            try
            {
                results[offset + i] = await rest[i].ConfigureAwait(true);
            }
            catch (Exception e)
            {
                error ??= ExceptionDispatchInfo.Capture(e);
            }
        }

        error?.Throw();
        return results;
    }

    /// <summary>
    /// Starts both operations in order and returns both results; on the first failure, cancels the other,
    /// waits for it, and throws that failure.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> cancelling <paramref name="cancellationToken"/> cancels both operations; the call
    /// waits for them and throws. What an operation loses when cancelled is lost; a value an operation still
    /// produced is dropped, as on any failure. Use <see cref="AllAsync{T1, T2}(ValueTask{T1}, ValueTask{T2})"/>
    /// when every value matters.
    /// </remarks>
    /// <exception cref="ArgumentNullException">An operation is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="Exception">The first failure, with its original stack.</exception>
    public static ValueTask<(T1, T2)> TryAllAsync<T1, T2>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<(T1, T2)>(cancellationToken);
        }

        var s = new TryState2<T1, T2> { Group = BranchGroup.Rent(tryAll: true, cancellationToken) };
        s.B1.Start(s.Group, 0, first);
        if (!s.Group.IsDecided)
        {
            s.B2.Start(s.Group, 1, second);
        }

        if (s.Group.EndStart(out bool mustAwaitDecision))
        {
            return TryAllSlowAsync(s, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<(T1, T2)>(s.Complete(deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<(T1, T2)>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2)> TryAllSlowAsync<T1, T2>(TryState2<T1, T2> s, bool mustAwaitDecision)
    {
        Exception? deferred = await s.Group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return s.Complete(deferred);
    }

    /// <summary>
    /// Starts the three operations in order and returns all results; on the first failure, cancels the
    /// others, waits for them, and throws that failure.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="TryAllAsync{T1, T2}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, CancellationToken)"/>.</remarks>
    /// <exception cref="ArgumentNullException">An operation is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<(T1, T2, T3)> TryAllAsync<T1, T2, T3>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        Func<CancellationToken, ValueTask<T3>> third,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(third);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<(T1, T2, T3)>(cancellationToken);
        }

        var s = new TryState3<T1, T2, T3> { Group = BranchGroup.Rent(tryAll: true, cancellationToken) };
        s.B1.Start(s.Group, 0, first);
        if (!s.Group.IsDecided)
        {
            s.B2.Start(s.Group, 1, second);
        }

        if (!s.Group.IsDecided)
        {
            s.B3.Start(s.Group, 2, third);
        }

        if (s.Group.EndStart(out bool mustAwaitDecision))
        {
            return TryAllSlowAsync(s, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<(T1, T2, T3)>(s.Complete(deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<(T1, T2, T3)>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2, T3)> TryAllSlowAsync<T1, T2, T3>(TryState3<T1, T2, T3> s, bool mustAwaitDecision)
    {
        Exception? deferred = await s.Group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return s.Complete(deferred);
    }

    /// <summary>
    /// Starts the four operations in order and returns all results; on the first failure, cancels the
    /// others, waits for them, and throws that failure.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="TryAllAsync{T1, T2}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, CancellationToken)"/>.</remarks>
    /// <exception cref="ArgumentNullException">An operation is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<(T1, T2, T3, T4)> TryAllAsync<T1, T2, T3, T4>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        Func<CancellationToken, ValueTask<T3>> third,
        Func<CancellationToken, ValueTask<T4>> fourth,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(third);
        ArgumentNullException.ThrowIfNull(fourth);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<(T1, T2, T3, T4)>(cancellationToken);
        }

        var s = new TryState4<T1, T2, T3, T4> { Group = BranchGroup.Rent(tryAll: true, cancellationToken) };
        s.B1.Start(s.Group, 0, first);
        if (!s.Group.IsDecided)
        {
            s.B2.Start(s.Group, 1, second);
        }

        if (!s.Group.IsDecided)
        {
            s.B3.Start(s.Group, 2, third);
        }

        if (!s.Group.IsDecided)
        {
            s.B4.Start(s.Group, 3, fourth);
        }

        if (s.Group.EndStart(out bool mustAwaitDecision))
        {
            return TryAllSlowAsync(s, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<(T1, T2, T3, T4)>(s.Complete(deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<(T1, T2, T3, T4)>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(T1, T2, T3, T4)> TryAllSlowAsync<T1, T2, T3, T4>(TryState4<T1, T2, T3, T4> s, bool mustAwaitDecision)
    {
        Exception? deferred = await s.Group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return s.Complete(deferred);
    }

    /// <summary>
    /// Starts every operation in order and returns their results, in the same order; on the first failure,
    /// cancels the others, waits for them, and throws that failure.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="TryAllAsync{T1, T2}(Func{CancellationToken, ValueTask{T1}}, Func{CancellationToken, ValueTask{T2}}, CancellationToken)"/>.</remarks>
    /// <exception cref="ArgumentException"><paramref name="operations"/> holds null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<T[]> TryAllAsync<T>(ReadOnlySpan<Func<CancellationToken, ValueTask<T>>> operations, CancellationToken cancellationToken = default)
    {
        foreach (Func<CancellationToken, ValueTask<T>> op in operations)
        {
            if (op is null)
            {
                throw new ArgumentException("An operation is null.", nameof(operations));
            }
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T[]>(cancellationToken);
        }

        int n = operations.Length;
        if (n == 0)
        {
            return new ValueTask<T[]>(Array.Empty<T>());
        }

        Branch<T>[] state = ArrayPool<Branch<T>>.Shared.Rent(n);
        BranchGroup group = BranchGroup.Rent(tryAll: true, cancellationToken);
        for (int i = 0; i < n && !group.IsDecided; i++)
        {
            state[i].Start(group, i, operations[i]);
        }

        if (group.EndStart(out bool mustAwaitDecision))
        {
            return TryAllSlowAsync(state, n, group, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<T[]>(Complete(state, n, group, deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<T[]>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<T[]> TryAllSlowAsync<T>(Branch<T>[] state, int n, BranchGroup group, bool mustAwaitDecision)
    {
        Exception? deferred = await group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return Complete(state, n, group, deferred);
    }

    private static T[] Complete<T>(Branch<T>[] state, int n, BranchGroup group, Exception? deferred)
    {
        try
        {
            for (int i = 0; i < n; i++)
            {
                state[i].Collect();
            }

            int decided = group.Decided;
            CancellationToken callerToken = group.CallerToken;
            group.Return();
            BranchGroup.ThrowDeferred(deferred);
            if (decided != BranchGroup.AllSucceeded)
            {
                throw BranchGroup.Rethrow(state[decided].Error!, callerToken);
            }

            var results = new T[n];
            for (int i = 0; i < n; i++)
            {
                results[i] = state[i].Value!;
            }

            return results;
        }
        finally
        {
            Array.Clear(state, 0, n);
            ArrayPool<Branch<T>>.Shared.Return(state);
        }
    }

    /// <summary>The decision of a finished try-join: throws the first failure, if any.</summary>
    private static void ThrowIfFailed(BranchGroup group, Exception? deferred, ReadOnlySpan<Exception?> errors)
    {
        int decided = group.Decided;
        CancellationToken callerToken = group.CallerToken;
        group.Return();
        BranchGroup.ThrowDeferred(deferred);
        if (decided != BranchGroup.AllSucceeded)
        {
            throw BranchGroup.Rethrow(errors[decided]!, callerToken);
        }
    }

    private struct TryState2<T1, T2>
    {
        internal BranchGroup Group;
        internal Branch<T1> B1;
        internal Branch<T2> B2;

        internal (T1, T2) Complete(Exception? deferred)
        {
            B1.Collect();
            B2.Collect();
            ThrowIfFailed(Group, deferred, [B1.Error, B2.Error]);
            return (B1.Value!, B2.Value!);
        }
    }

    private struct TryState3<T1, T2, T3>
    {
        internal BranchGroup Group;
        internal Branch<T1> B1;
        internal Branch<T2> B2;
        internal Branch<T3> B3;

        internal (T1, T2, T3) Complete(Exception? deferred)
        {
            B1.Collect();
            B2.Collect();
            B3.Collect();
            ThrowIfFailed(Group, deferred, [B1.Error, B2.Error, B3.Error]);
            return (B1.Value!, B2.Value!, B3.Value!);
        }
    }

    private struct TryState4<T1, T2, T3, T4>
    {
        internal BranchGroup Group;
        internal Branch<T1> B1;
        internal Branch<T2> B2;
        internal Branch<T3> B3;
        internal Branch<T4> B4;

        internal (T1, T2, T3, T4) Complete(Exception? deferred)
        {
            B1.Collect();
            B2.Collect();
            B3.Collect();
            B4.Collect();
            ThrowIfFailed(Group, deferred, [B1.Error, B2.Error, B3.Error, B4.Error]);
            return (B1.Value!, B2.Value!, B3.Value!, B4.Value!);
        }
    }
}
