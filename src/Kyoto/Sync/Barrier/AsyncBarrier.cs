// Invariants (AsyncBarrier):
// 1. `_waiters` holds exactly the callers of the current generation that have arrived and are still waiting;
//    its count is the generation's arrival count. It is touched only under `_lock`.
// 2. The caller whose arrival makes the count reach the number of participants is the generation's leader:
//    under the lock it takes every queued waiter (TakeAll) and starts the next generation, so each generation
//    has exactly one leader and every follower of it is released exactly once. Completions run after the
//    lock is released.
// 3. A waiter leaves the queue exactly once, under the lock: released by the leader, or removed by its own
//    cancellation (token or abort). A cancellation that finds it no longer queued lost the race to the
//    release and does nothing, so a cancelled caller is either released with its generation or leaves the
//    barrier as if it had never arrived.
// 4. A waiter's token is registered before it is queued, and queueing checks the token under the lock, so a
//    cancellation either finds the waiter queued or keeps it out of the queue.
// 5. Waiters are pooled (WaiterPool, guarded by `_lock`), reset before reuse; a pooled waiter is never queued.
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// A reusable rendezvous for a fixed number of tasks (Tokio's <c>Barrier</c>): each caller of
/// <see cref="WaitAsync"/> waits until <see cref="Participants"/> callers have arrived, then all of them go on
/// together and the barrier starts over for the next round (generation).
/// </summary>
/// <remarks>
/// <para>Exactly one caller of each generation is its leader (<see cref="BarrierWaitResult.IsLeader"/>): the
/// last to arrive, whose arrival releases the others. Use it to run once-per-round work.</para>
/// <para>Unlike <see cref="System.Threading.Barrier"/>, waiting never blocks a thread, and a cancelled wait
/// is withdrawn: the barrier behaves as if that caller had never arrived.</para>
/// <para>Waiting allocates nothing once warm: waiters are pooled and resume on the awaiting task's runtime.</para>
/// </remarks>
/// <example>
/// <code>
/// var barrier = new AsyncBarrier(3);
/// for (int i = 0; i &lt; 3; i++)
/// {
///     KyotoTask.Spawn(async () =&gt;
///     {
///         await LoadPartAsync();
///         BarrierWaitResult r = await barrier.WaitAsync();
///         if (r.IsLeader)
///         {
///             Console.WriteLine("all parts loaded");
///         }
///     });
/// }
/// </code>
/// </example>
public sealed class AsyncBarrier
{
    private readonly int _participants;

    // Guarded by _lock.
    private TinyLock _lock;
    private WaiterQueue<BarrierWaitResult> _waiters;
    private long _generation;
    private WaiterPool<BarrierWaitResult> _pool;

    /// <summary>Creates a barrier that releases its waiters once <paramref name="participants"/> callers have arrived.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="participants"/> is less than 1.</exception>
    public AsyncBarrier(int participants)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(participants, 1);
        _participants = participants;
    }

    /// <summary>How many callers each generation waits for.</summary>
    public int Participants => _participants;

    /// <summary>How many callers of the current generation are waiting (a snapshot).</summary>
    internal int WaiterCount => _waiters.Count; // a snapshot (a volatile read)

    /// <summary>How many generations have been released so far (a snapshot).</summary>
    internal long Generation
    {
        get
        {
            _lock.Enter();
            long g = _generation;
            _lock.Exit();
            return g;
        }
    }

    /// <summary>
    /// Arrives at the barrier and waits until <see cref="Participants"/> callers (this one included) have
    /// arrived in the current generation.
    /// </summary>
    /// <returns>Whether this caller is the generation's leader (the last to arrive).</returns>
    /// <remarks>
    /// <b>Cancel safety:</b> a wait cancelled before its generation is released withdraws the arrival: the barrier
    /// then needs one more caller, as if this one had never come, and nothing else is affected. A cancellation
    /// that races with the release loses: the caller is released with its generation and the wait succeeds.
    /// A caller whose task is aborted after its generation was released still counted as arrived.
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the generation was released.</exception>
    public ValueTask<BarrierWaitResult> WaitAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<BarrierWaitResult>(cancellationToken);
        }

        if (_participants == 1)
        {
            // Every caller is alone in its generation, hence its leader.
            _lock.Enter();
            _generation++;
            _lock.Exit();
            return Leader();
        }

        BarrierWaiter waiter = RentWaiter();
        waiter.RegisterCancellation(cancellationToken);

        _lock.Enter();
        if (cancellationToken.IsCancellationRequested)
        {
            _lock.Exit();
            waiter.DisposeRegistration();
            ReturnWaiter(waiter);
            return ValueTask.FromCanceled<BarrierWaitResult>(cancellationToken);
        }

        if (_waiters.Count + 1 < _participants)
        {
            _waiters.PushBack(waiter);
            _lock.Exit();
            return waiter.AsValueTask();
        }

        // The last arrival: release the generation and start the next one.
        LinkedWaiter<BarrierWaitResult>? followers = _waiters.TakeAll();
        _generation++;
        _lock.Exit();

        waiter.DisposeRegistration();
        ReturnWaiter(waiter);

        WaiterChain.CompleteAll(followers, new BarrierWaitResult(isLeader: false));

        return Leader();
    }

    private ValueTask<BarrierWaitResult> Leader()
    {
        var result = new BarrierWaitResult(isLeader: true);
        if (Coop.TryConsume())
        {
            return new ValueTask<BarrierWaitResult>(result);
        }

        // Out of budget: hand the result over only after a yield (queued at the back of the run queue).
        BarrierWaiter waiter = RentWaiter();
        waiter.SetResultAfterYield(result);
        return waiter.AsValueTask();
    }

    /// <summary>Takes a cancelled waiter out of the queue; it completes only if it was still queued.</summary>
    private void Cancel(BarrierWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        bool removed = _waiters.Remove(waiter, version);
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    private BarrierWaiter RentWaiter() => (BarrierWaiter?)_pool.TryRent(ref _lock) ?? new BarrierWaiter(this);

    private void ReturnWaiter(BarrierWaiter waiter) => _pool.Return(ref _lock, waiter);

    /// <summary>A pooled arrival of an <see cref="AsyncBarrier"/>.</summary>
    private sealed class BarrierWaiter(AsyncBarrier barrier) : LinkedWaiter<BarrierWaitResult>
    {
        protected override void OnCancellationRequested(Exception error, short version) => barrier.Cancel(this, error, version);

        // A released arrival cannot be withdrawn: the generation has moved on, so there is nothing to give back.
        protected override void OnConsumed() => barrier.ReturnWaiter(this);
    }
}
