// Invariants (BranchGroup, the machinery under Select and Join.TryAllAsync):
// 1. One group serves one operation at a time, owned by the task that runs it (the "owner"). The owner starts
//    the branches, one after another, with the group's token; each branch that does not complete synchronously
//    gets a BranchWatcher, whose completion callback reports to the group.
// 2. `_unfinished` counts the watchers that have not reported, plus one for the owner while it is still
//    starting branches; it, `_decided` and `_waitingForAll` change only under `_lock`.
// 3. The decision is made once, under the lock: in Select mode by the first branch to complete, in TryAll
//    mode by the first branch to fail, or (AllSucceeded) when nothing is left unfinished without a failure.
//    `_decision` is completed iff the decision is made after the owner ended the starting phase (EndStart saw
//    it undecided), and the owner awaits it iff so; `_finished` is completed iff the owner armed it
//    (ArmFinished saw unfinished watchers), and the owner awaits it iff so. So each signal is completed and
//    consumed exactly once per operation, and once the owner has consumed what it armed no watcher touches
//    the group again: only then is the group reused.
// 4. Signals are completed after the lock is released. They never complete with an error: an abort of the
//    owner (which parks on them) is handled by linking the token to the task's abort token, so the branches
//    are cancelled and every branch is still awaited before the operation ends.
// 5. The token source is reset and reused only if it was never cancelled, and only after the registrations
//    that could cancel it (the caller's token, the task's abort token) are disposed (Dispose waits for a
//    running callback).
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// Tracks a set of started branches: which completed first (or failed first), and when all have finished.
/// Pooled per thread together with its token source.
/// </summary>
internal sealed class BranchGroup
{
    internal const int Undecided = int.MinValue;

    /// <summary>The TryAll decision when every branch succeeded.</summary>
    internal const int AllSucceeded = -1;

    [ThreadStatic]
    private static BranchGroup? t_cached;

    private readonly Signal _decision = new();
    private readonly Signal _finished = new();
    private CancellationTokenSource _cts = new();
    private CancellationTokenRegistration _callerLink;
    private CancellationTokenRegistration _abortLink;
    private CancellationToken _callerToken;
    private bool _tryAll;
    private int _completions;

    // Guarded by _lock (_decided is also read without it, as a hint).
    private TinyLock _lock;
    private int _unfinished;
    private volatile int _decided;
    private bool _starting;
    private bool _waitingForAll;

    private BranchGroup()
    {
    }

    /// <summary>The token every branch receives: cancelled when the operation no longer needs the others, or
    /// when the caller's token is cancelled.</summary>
    internal CancellationToken Token => _cts.Token;

    /// <summary>The caller's token.</summary>
    internal CancellationToken CallerToken => _callerToken;

    /// <summary>True once the decision is made (a hint without the lock).</summary>
    internal bool IsDecided => _decided != Undecided;

    /// <summary>The decision: the deciding branch's index, or <see cref="AllSucceeded"/>.</summary>
    internal int Decided => _decided;

    /// <summary>Takes a group for a new operation; the caller's token cancels the branches' token.</summary>
    /// <param name="tryAll">True: decide on the first failure (TryAll); false: on the first completion (Select).</param>
    /// <param name="callerToken">The caller's token: cancelling it cancels the branches.</param>
    internal static BranchGroup Rent(bool tryAll, CancellationToken callerToken)
    {
        BranchGroup? group = t_cached;
        if (group is not null)
        {
            t_cached = null;
        }
        else
        {
            group = new BranchGroup();
        }

        group._tryAll = tryAll;
        group._callerToken = callerToken;
        group._decided = Undecided;
        group._unfinished = 1;
        group._starting = true;
        group._waitingForAll = false;
        group._completions = 0;
        group._decision.Reset();
        group._finished.Reset();
        if (callerToken.CanBeCanceled)
        {
            group._callerLink = callerToken.UnsafeRegister(static s => ((BranchGroup)s!).CancelBranches(), group);
        }

        return group;
    }

    /// <summary>
    /// Links the branches' token to the running task's abort, so an aborted owner cancels its branches (and
    /// still waits for them). Called when the operation goes asynchronous.
    /// </summary>
    internal void LinkToTaskAbort()
    {
        if (RuntimeContext.CurrentOrNull?.CurrentTask is { } task)
        {
            _abortLink = task.Token.UnsafeRegister(static s => ((BranchGroup)s!).CancelBranches(), this);
        }
    }

    /// <summary>Returns the group for reuse. Only after every armed signal was consumed (invariant 3).</summary>
    internal void Return()
    {
        _callerLink.Dispose();
        _callerLink = default;
        _abortLink.Dispose();
        _abortLink = default;
        _callerToken = default;
        if (!_cts.TryReset())
        {
            // Cancelled: a branch may still hold its token, so a cancelled source is never reused.
            _cts = new CancellationTokenSource();
        }

        t_cached = this;
    }

    /// <summary>Cancels the branches' token. Exceptions thrown by their cancellation callbacks propagate.</summary>
    internal void CancelBranches()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Never disposed by the group; a branch that disposed it does not stop the operation.
        }
    }

    /// <summary>The next completion's sequence number (1, 2, ...): the order branches completed in.</summary>
    internal int NextOrder() => Interlocked.Increment(ref _completions);

    /// <summary>The owner records a branch that completed while being started; it may decide the operation.</summary>
    internal void CompletedSynchronously(int index, bool failed)
    {
        _lock.Enter();
        if (_decided == Undecided && (!_tryAll || failed))
        {
            _decided = index;
        }

        _lock.Exit();
    }

    /// <summary>Counts a watcher about to be registered (before its callback can run).</summary>
    internal void Watching()
    {
        _lock.Enter();
        _unfinished++;
        _lock.Exit();
    }

    /// <summary>A watched branch completed: its outcome is in <paramref name="watcher"/>.</summary>
    internal void Report(BranchWatcher watcher)
    {
        bool signalDecision = false;
        bool signalFinished = false;
        _lock.Enter();
        watcher.Order = NextOrder();
        _unfinished--;
        if (_decided == Undecided)
        {
            if (!_tryAll || watcher.Error is not null)
            {
                _decided = watcher.Index;
                signalDecision = !_starting;
            }
            else if (_unfinished == 0)
            {
                _decided = AllSucceeded;
                signalDecision = !_starting;
            }
        }

        if (_waitingForAll && _unfinished == 0)
        {
            signalFinished = true;
        }

        int decided = _decided;
        _lock.Exit();

        // After unlocking (invariant 4). Each completes at most once per operation (invariant 3).
        if (signalDecision)
        {
            _decision.TrySetResult(decided);
        }

        if (signalFinished)
        {
            _finished.TrySetResult(0);
        }
    }

    /// <summary>
    /// The owner has started every branch it is going to start. Returns true if some branch is still running
    /// (the operation goes asynchronous); <paramref name="mustAwaitDecision"/> tells whether the decision is
    /// still to come (then await <see cref="WaitDecisionAsync"/>).
    /// </summary>
    internal bool EndStart(out bool mustAwaitDecision)
    {
        _lock.Enter();
        _starting = false;
        _unfinished--;
        if (_decided == Undecided && _tryAll && _unfinished == 0)
        {
            _decided = AllSucceeded;
        }

        mustAwaitDecision = _decided == Undecided;
        bool running = _unfinished > 0;
        _lock.Exit();
        return running;
    }

    /// <summary>Completes with the decision. Await only if <see cref="EndStart"/> said so.</summary>
    internal ValueTask<int> WaitDecisionAsync() => _decision.AsValueTask();

    /// <summary>True if some branch is still running: then await <see cref="WaitFinishedAsync"/>.</summary>
    internal bool ArmFinished()
    {
        _lock.Enter();
        bool running = _unfinished > 0;
        _waitingForAll = running;
        _lock.Exit();
        return running;
    }

    /// <summary>Completes when every watched branch has reported. Await only if <see cref="ArmFinished"/> said so.</summary>
    internal ValueTask WaitFinishedAsync() => _finished.AsValueTaskVoid();

    /// <summary>
    /// The asynchronous part of an operation, once the owner has started its branches and some are still
    /// running: waits for the decision (if <paramref name="mustAwaitDecision"/>), cancels the branches still
    /// running, and waits until every one has finished. Returns an exception to throw once the outcome is
    /// collected and the group returned: the task's abort (sticky: it would surface at the next await anyway),
    /// or what a branch's cancellation callback threw; null otherwise.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<Exception?> FinishAsync(bool mustAwaitDecision)
    {
        LinkToTaskAbort();
        Exception? deferred = null;
        if (mustAwaitDecision)
        {
            try
            {
                await WaitDecisionAsync().ConfigureAwait(true);
            }
            catch (TaskAbortedException e)
            {
                // Sticky abort seen at the await: the decision is made; still cancel and wait for the branches.
                deferred = e;
            }
        }

        if (HasUnfinished)
        {
            try
            {
                CancelBranches();
            }
            catch (AggregateException e)
            {
                deferred ??= e;
            }
        }

        if (ArmFinished())
        {
            try
            {
                await WaitFinishedAsync().ConfigureAwait(true);
            }
            catch (TaskAbortedException e)
            {
                deferred ??= e;
            }
        }

        return deferred;
    }

    private bool HasUnfinished
    {
        get
        {
            _lock.Enter();
            bool running = _unfinished > 0;
            _lock.Exit();
            return running;
        }
    }

    /// <summary>Throws <paramref name="deferred"/> (from <see cref="FinishAsync"/>) with its original stack, if any.</summary>
    internal static void ThrowDeferred(Exception? deferred)
    {
        if (deferred is not null)
        {
            ExceptionDispatchInfo.Throw(deferred);
        }
    }

    /// <summary>
    /// True if <paramref name="error"/> is the branch's reaction to the group's token: an
    /// <see cref="OperationCanceledException"/> from a branch whose token was cancelled when it completed.
    /// </summary>
    internal static bool IsCancellation(Exception? error, bool tokenWasCancelled) =>
        tokenWasCancelled && error is OperationCanceledException;

    /// <summary>
    /// Throws what an operation that produced no value throws: if the caller's token is cancelled and the
    /// branch ended in cancellation, an <see cref="OperationCanceledException"/> for the caller's token;
    /// otherwise the branch's own exception, with its original stack.
    /// </summary>
    internal static Exception Rethrow(Exception error, CancellationToken callerToken)
    {
        if (callerToken.IsCancellationRequested && error is OperationCanceledException && error is not TaskAbortedException)
        {
            throw new OperationCanceledException(error.Message, error, callerToken);
        }

        ExceptionDispatchInfo.Throw(error);
        return error;
    }

    /// <summary>
    /// A one-shot completion the owner awaits. It never completes with an error: an abort of the owner is
    /// served through the token link (invariant 4), so the request to cancel the await itself is ignored.
    /// </summary>
    private sealed class Signal : KyotoValueTaskSource<int>
    {
        protected override void OnCancellationRequested(Exception error, short version)
        {
        }
    }
}
