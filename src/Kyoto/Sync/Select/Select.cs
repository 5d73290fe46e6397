// Invariants (Select): those of BranchGroup and BranchWatcher, plus:
// 1. Branches are started one after another on the caller's thread; before each start the owner checks the
//    decision, so once a branch has completed (synchronously, or already asynchronously) no later branch is
//    started and nothing is consumed from it.
// 2. AnyAsync never returns or throws while a started branch is still running: the asynchronous path always
//    ends with BranchGroup.FinishAsync, which waits for every watcher to report.
// 3. Every value a started branch produced is either returned (Value, Value1..3) or exposed (LateValues,
//    HasValue1..3); a select throws only when no branch produced a value.
using System.Buffers;
using System.Runtime.CompilerServices;

namespace Kyoto.Sync;

/// <summary>
/// Races asynchronous branches and takes the first to complete (Tokio's <c>select!</c>): the others are
/// cancelled and awaited before the select returns, so no work is left running behind it.
/// </summary>
/// <remarks>
/// <para>Each branch is a function of a <see cref="CancellationToken"/> that starts the operation. The
/// branches are started one after another (<see cref="SelectOrder"/>); a branch that completes at once wins
/// and the branches after it are not started at all. Otherwise the first branch to complete wins; the
/// token of every branch is then cancelled, and the select waits until each has finished.</para>
/// <para>The branches share one token, linked to the caller's token and, inside a Kyoto task, to the task's
/// abort. It is cancelled once the winner is known, so a branch must stop using it when it completes (do not
/// keep it in a value that outlives the branch).</para>
/// <para>Outcome rules:</para>
/// <list type="bullet">
/// <item>The winner's value is returned. A loser that completed with a value anyway (it won against its
/// cancellation) is not dropped: its value is in the result (<see cref="SelectResult{T}.LateValues"/>,
/// <see cref="SelectResult{T1, T2}.HasValue2"/>...).</item>
/// <item>A loser's <see cref="OperationCanceledException"/> raised after the select cancelled it is the
/// expected outcome and is swallowed; any other loser exception is reported in the result's
/// <c>LoserErrors</c>, never thrown over the winner's value.</item>
/// <item>If the winner failed, the select throws its exception (with its original stack) once every branch
/// has finished; but if another branch completed with a value meanwhile, the select returns that value
/// instead (so it is not lost) and reports the winner's exception in <c>LoserErrors</c>. A select therefore
/// throws only when no branch produced a value; the other branches' exceptions are then not reported.</item>
/// <item>If the caller's token is cancelled and no branch produced a value, the select throws an
/// <see cref="OperationCanceledException"/> for the caller's token.</item>
/// </list>
/// <para><b>Cancel safety:</b> a select is exactly as cancel-safe as its branches. The losers are cancelled
/// through their token; whatever a branch loses when cancelled (a receive that already took a message, a
/// half-written frame) is lost by the select too, except values a branch managed to return, which the
/// result exposes. Prefer branches that are cancel-safe (their cancellation loses nothing), as with Tokio.</para>
/// <para>The synchronous path (the first started branch completes at once) allocates nothing once warm.</para>
/// </remarks>
/// <example>
/// <code>
/// var r = await Select.AnyAsync(
///     ct =&gt; inbox.RecvAsync(ct),
///     async ct =&gt; { await KyotoTime.Sleep(TimeSpan.FromSeconds(5), ct); return true; },
///     cancellationToken);
/// if (r.TryGet1(out Message? message))
/// {
///     Handle(message); // even if the timeout won the race
/// }
/// else
/// {
///     Console.WriteLine("idle for 5 s");
/// }
/// </code>
/// </example>
public static class Select
{
    /// <summary>
    /// Starts <paramref name="branches"/> from a random one (<see cref="SelectOrder.Unbiased"/>) and returns the
    /// first to complete; see <see cref="Select"/> for the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentException"><paramref name="branches"/> is empty or holds null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T>> AnyAsync<T>(ReadOnlySpan<Func<CancellationToken, ValueTask<T>>> branches, CancellationToken cancellationToken = default) =>
        AnyAsync(branches, SelectOrder.Unbiased, cancellationToken);

    /// <summary>
    /// Starts <paramref name="branches"/> in the given <paramref name="order"/> and returns the first to
    /// complete; see <see cref="Select"/> for the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentException"><paramref name="branches"/> is empty or holds null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T>> AnyAsync<T>(ReadOnlySpan<Func<CancellationToken, ValueTask<T>>> branches, SelectOrder order, CancellationToken cancellationToken = default)
    {
        if (branches.IsEmpty)
        {
            throw new ArgumentException("A select needs at least one branch.", nameof(branches));
        }

        foreach (Func<CancellationToken, ValueTask<T>> b in branches)
        {
            if (b is null)
            {
                throw new ArgumentException("A select branch is null.", nameof(branches));
            }
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<SelectResult<T>>(cancellationToken);
        }

        int n = branches.Length;
        Branch<T>[] state = ArrayPool<Branch<T>>.Shared.Rent(n);
        BranchGroup group = BranchGroup.Rent(tryAll: false, cancellationToken);
        int start = StartIndex(order, n);
        for (int k = 0; k < n && !group.IsDecided; k++)
        {
            int i = start + k < n ? start + k : start + k - n;
            state[i].Start(group, i, branches[i]);
        }

        if (group.EndStart(out bool mustAwaitDecision))
        {
            return AnyAsyncSlow(state, n, group, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<SelectResult<T>>(Complete(state, n, group, deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<SelectResult<T>>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<SelectResult<T>> AnyAsyncSlow<T>(Branch<T>[] state, int n, BranchGroup group, bool mustAwaitDecision)
    {
        Exception? deferred = await group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return Complete(state, n, group, deferred);
    }

    /// <summary>Collects the outcomes (every branch has finished), returns the group and the array, and builds the result.</summary>
    private static SelectResult<T> Complete<T>(Branch<T>[] state, int n, BranchGroup group, Exception? deferred)
    {
        int decided = group.Decided;
        CancellationToken callerToken = group.CallerToken;
        BranchOutcome[] outcomes = ArrayPool<BranchOutcome>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                state[i].Collect();
                outcomes[i] = state[i].Outcome;
            }

            group.Return();
            BranchGroup.ThrowDeferred(deferred);
            int index = BranchOutcome.Resolve(outcomes.AsSpan(0, n), decided, callerToken, out (int, Exception)[]? errors);
            int lateCount = 0;
            for (int i = 0; i < n; i++)
            {
                if (i != index && outcomes[i].Succeeded)
                {
                    lateCount++;
                }
            }

            (int, T)[]? late = null;
            if (lateCount > 0)
            {
                late = new (int, T)[lateCount];
                int k = 0;
                for (int i = 0; i < n; i++)
                {
                    if (i != index && outcomes[i].Succeeded)
                    {
                        late[k++] = (i, state[i].Value!);
                    }
                }
            }

            return new SelectResult<T>(index, state[index].Value!, late, errors);
        }
        finally
        {
            Array.Clear(outcomes, 0, n);
            ArrayPool<BranchOutcome>.Shared.Return(outcomes);
            Array.Clear(state, 0, n);
            ArrayPool<Branch<T>>.Shared.Return(state);
        }
    }

    /// <summary>
    /// Races two branches of different result types, starting from a random one; see <see cref="Select"/> for
    /// the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentNullException">A branch is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T1, T2>> AnyAsync<T1, T2>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        CancellationToken cancellationToken = default) =>
        AnyAsync(first, second, SelectOrder.Unbiased, cancellationToken);

    /// <summary>
    /// Races two branches of different result types, started in the given <paramref name="order"/>; see
    /// <see cref="Select"/> for the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentNullException">A branch is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T1, T2>> AnyAsync<T1, T2>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        SelectOrder order,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<SelectResult<T1, T2>>(cancellationToken);
        }

        var s = new State2<T1, T2> { Group = BranchGroup.Rent(tryAll: false, cancellationToken) };
        int start = StartIndex(order, 2);
        for (int k = 0; k < 2 && !s.Group.IsDecided; k++)
        {
            switch ((start + k) % 2)
            {
                case 0:
                    s.B1.Start(s.Group, 0, first);
                    break;
                default:
                    s.B2.Start(s.Group, 1, second);
                    break;
            }
        }

        if (s.Group.EndStart(out bool mustAwaitDecision))
        {
            return AnyAsyncSlow(s, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<SelectResult<T1, T2>>(s.Complete(deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<SelectResult<T1, T2>>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<SelectResult<T1, T2>> AnyAsyncSlow<T1, T2>(State2<T1, T2> s, bool mustAwaitDecision)
    {
        Exception? deferred = await s.Group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return s.Complete(deferred);
    }

    /// <summary>
    /// Races three branches of different result types, starting from a random one; see <see cref="Select"/>
    /// for the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentNullException">A branch is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T1, T2, T3>> AnyAsync<T1, T2, T3>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        Func<CancellationToken, ValueTask<T3>> third,
        CancellationToken cancellationToken = default) =>
        AnyAsync(first, second, third, SelectOrder.Unbiased, cancellationToken);

    /// <summary>
    /// Races three branches of different result types, started in the given <paramref name="order"/>; see
    /// <see cref="Select"/> for the rules.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> that of the branches (see <see cref="Select"/>).</remarks>
    /// <exception cref="ArgumentNullException">A branch is null.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no branch produced a value.</exception>
    public static ValueTask<SelectResult<T1, T2, T3>> AnyAsync<T1, T2, T3>(
        Func<CancellationToken, ValueTask<T1>> first,
        Func<CancellationToken, ValueTask<T2>> second,
        Func<CancellationToken, ValueTask<T3>> third,
        SelectOrder order,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(third);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<SelectResult<T1, T2, T3>>(cancellationToken);
        }

        var s = new State3<T1, T2, T3> { Group = BranchGroup.Rent(tryAll: false, cancellationToken) };
        int start = StartIndex(order, 3);
        for (int k = 0; k < 3 && !s.Group.IsDecided; k++)
        {
            switch ((start + k) % 3)
            {
                case 0:
                    s.B1.Start(s.Group, 0, first);
                    break;
                case 1:
                    s.B2.Start(s.Group, 1, second);
                    break;
                default:
                    s.B3.Start(s.Group, 2, third);
                    break;
            }
        }

        if (s.Group.EndStart(out bool mustAwaitDecision))
        {
            return AnyAsyncSlow(s, mustAwaitDecision);
        }

        try
        {
            return new ValueTask<SelectResult<T1, T2, T3>>(s.Complete(deferred: null));
        }
        catch (Exception e)
        {
            return ValueTask.FromException<SelectResult<T1, T2, T3>>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<SelectResult<T1, T2, T3>> AnyAsyncSlow<T1, T2, T3>(State3<T1, T2, T3> s, bool mustAwaitDecision)
    {
        Exception? deferred = await s.Group.FinishAsync(mustAwaitDecision).ConfigureAwait(true);
        return s.Complete(deferred);
    }

    /// <summary>The first branch to start: 0 when biased, a random one otherwise.</summary>
    private static int StartIndex(SelectOrder order, int n) => order == SelectOrder.Biased || n == 1 ? 0 : Random.Shared.Next(n);

    private struct State2<T1, T2>
    {
        internal BranchGroup Group;
        internal Branch<T1> B1;
        internal Branch<T2> B2;

        internal SelectResult<T1, T2> Complete(Exception? deferred)
        {
            B1.Collect();
            B2.Collect();
            int decided = Group.Decided;
            CancellationToken callerToken = Group.CallerToken;
            Group.Return();
            BranchGroup.ThrowDeferred(deferred);
            int index = BranchOutcome.Resolve([B1.Outcome, B2.Outcome], decided, callerToken, out (int, Exception)[]? errors);
            return new SelectResult<T1, T2>(index, B1.Succeeded, B1.Value!, B2.Succeeded, B2.Value!, errors);
        }
    }

    private struct State3<T1, T2, T3>
    {
        internal BranchGroup Group;
        internal Branch<T1> B1;
        internal Branch<T2> B2;
        internal Branch<T3> B3;

        internal SelectResult<T1, T2, T3> Complete(Exception? deferred)
        {
            B1.Collect();
            B2.Collect();
            B3.Collect();
            int decided = Group.Decided;
            CancellationToken callerToken = Group.CallerToken;
            Group.Return();
            BranchGroup.ThrowDeferred(deferred);
            int index = BranchOutcome.Resolve([B1.Outcome, B2.Outcome, B3.Outcome], decided, callerToken, out (int, Exception)[]? errors);
            return new SelectResult<T1, T2, T3>(index, B1.Succeeded, B1.Value!, B2.Succeeded, B2.Value!, B3.Succeeded, B3.Value!, errors);
        }
    }
}
