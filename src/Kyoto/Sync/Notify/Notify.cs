using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// Wakes tasks waiting for an event, without carrying data (Tokio's <c>Notify</c>).
/// </summary>
/// <remarks>
/// <para><see cref="NotifyOne"/> wakes the longest-waiting task, or, if none is waiting, stores one permit that the
/// next <see cref="NotifiedAsync"/> consumes at once (several calls still store a single permit).
/// <see cref="NotifyWaiters"/> wakes every task waiting now and stores nothing. <see cref="NotifyLast"/> wakes the
/// most recent waiter.</para>
/// <para>A wait is registered when <see cref="NotifiedAsync"/> is called, not when it is awaited, so
/// <c>var notified = notify.NotifiedAsync(); StartWork(); await notified;</c> cannot miss a notification sent
/// by <c>StartWork</c>, even through <see cref="NotifyWaiters"/>. Always await the returned task: until then it
/// counts as a waiter and takes a notification. With <see cref="NotifyOne"/> the usual loop
/// <c>while (!Ready()) await notify.NotifiedAsync(ct);</c> is safe as it is, since the stored permit covers the
/// gap between the check and the wait.</para>
/// <para>Invariants: the waiter queue and the decision "wake a waiter or store the permit" are under one lock, so
/// a notification is never lost between a waiter's check and its enqueue. <c>_permit</c> (0 or 1) is set only
/// under the lock and only when nobody waits; it may be consumed without the lock (a CAS), since it is one
/// token. A waiter woken by <see cref="NotifyOne"/>/<see cref="NotifyLast"/> whose task was aborted before it
/// resumed passes the notification on, so it is not lost.</para>
/// </remarks>
/// <example>
/// <code>
/// var dataReady = new Notify();
/// KyotoTask.Spawn(async () =&gt; { Produce(); dataReady.NotifyOne(); });
/// await dataReady.NotifiedAsync();
/// </code>
/// </example>
public sealed class Notify
{
    // How a waiter was woken, so that a waiter whose task was aborted before it resumed can pass it on.
    private const int ByAll = 0;
    private const int ByFirst = 1;
    private const int ByLast = 2;

    private TinyLock _lock;
    private WaiterQueue<int> _waiters;
    private WaiterPool<int> _pool;
    private int _permit;

    /// <summary>How many tasks are waiting (a snapshot).</summary>
    internal int WaiterCount => _waiters.Count;

    /// <summary>
    /// Waits for a notification: returns at once if a permit is stored (consuming it), otherwise joins the
    /// waiters now, before the returned task is awaited.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe. A cancelled wait leaves the queue; a <see cref="NotifyOne"/> that reached it as
    /// its task was aborted is passed to the next waiter (or stored).
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask NotifiedAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (Volatile.Read(ref _permit) == 1 && Interlocked.CompareExchange(ref _permit, 0, 1) == 1)
        {
            return Coop.TryConsume() ? default : Ready();
        }

        var waiter = (NotifyWaiter?)_pool.TryRent(ref _lock) ?? new NotifyWaiter(this);
        waiter.RegisterCancellation(cancellationToken);
        _lock.Enter();
        bool notified = Interlocked.CompareExchange(ref _permit, 0, 1) == 1;
        if (notified || cancellationToken.IsCancellationRequested)
        {
            // A permit taken here is this call's result even if the token is cancelled too: it must not be lost.
            _lock.Exit();
            waiter.DisposeRegistration();
            _pool.Return(ref _lock, waiter);
            return notified ? default : ValueTask.FromCanceled(cancellationToken);
        }

        _waiters.PushBack(waiter);
        _lock.Exit();
        return waiter.AsValueTaskVoid();
    }

    private ValueTask Ready()
    {
        // Out of budget with the permit in hand: complete through a waiter so the caller yields first (if the
        // task is aborted before it resumes, the permit is stored again).
        var waiter = (NotifyWaiter?)_pool.TryRent(ref _lock) ?? new NotifyWaiter(this);
        waiter.SetResultAfterYield(ByFirst);
        return waiter.AsValueTaskVoid();
    }

    /// <summary>Wakes the longest-waiting task, or stores a permit for the next wait if none is waiting.</summary>
    public void NotifyOne() => NotifyEnd(fromBack: false);

    /// <summary>Wakes the most recent waiter, or stores a permit for the next wait if none is waiting.</summary>
    public void NotifyLast() => NotifyEnd(fromBack: true);

    private void NotifyEnd(bool fromBack)
    {
        _lock.Enter();
        LinkedWaiter<int>? waiter = fromBack ? _waiters.PopBack() : _waiters.PopFront();
        if (waiter is null)
        {
            Volatile.Write(ref _permit, 1);
        }

        _lock.Exit();
        waiter?.TrySetResult(fromBack ? ByLast : ByFirst);
    }

    /// <summary>Wakes every task waiting now. Stores no permit: a later wait still waits.</summary>
    public void NotifyWaiters()
    {
        _lock.Enter();
        LinkedWaiter<int>? chain = _waiters.TakeAll();
        _lock.Exit();
        WaiterChain.CompleteAll(chain, ByAll);
    }

    private void Cancel(NotifyWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        bool removed = _waiters.Remove(waiter, version);
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    private sealed class NotifyWaiter(Notify owner) : LinkedWaiter<int>
    {
        protected override void OnCancellationRequested(Exception error, short version) => owner.Cancel(this, error, version);

        protected override void OnResultDropped(int result)
        {
            if (result != ByAll)
            {
                owner.NotifyEnd(fromBack: result == ByLast);
            }
        }

        protected override void OnConsumed() => owner._pool.Return(ref owner._lock, this);
    }
}
