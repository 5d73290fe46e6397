using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// The fair, FIFO counting semaphore under <see cref="AsyncSemaphore"/>, <see cref="AsyncMutex{T}"/>,
/// <see cref="AsyncRwLock{T}"/> and the bounded mpsc channel (Tokio's batch semaphore).
/// </summary>
/// <remarks>
/// <para>State: <c>_state</c> = available permits &lt;&lt; 1 | closed bit, changed by CAS. Waiters sit in an
/// intrusive FIFO queue under <c>_lock</c>; each records how many permits it still needs.</para>
/// <para>Invariants:</para>
/// <list type="number">
/// <item>Released permits go to the queue first: a release hands them to the head waiter (a large request at
/// the head takes them partially and blocks smaller ones behind it) and only what no waiter needs returns to
/// <c>_state</c>. So while anyone waits, <c>_state</c> holds no permit except during a lock-free release,
/// which then takes the lock and hands them on. Newcomers therefore cannot overtake the queue.</item>
/// <item>Lock-free release and enqueue form a Dekker pair: a releaser adds to <c>_state</c> (CAS, a full
/// fence) then reads <c>_waiterCount</c>; an enqueuer raises <c>_waiterCount</c> (full fence) then reads
/// <c>_state</c> under the lock. At least one of them sees the other, so no permit sits idle while a
/// waiter waits.</item>
/// <item>A waiter leaves the queue exactly once, under the lock: granted (its permits are its), cancelled
/// (the permits it was partially given are handed on) or failed by <see cref="Close"/>. Completion happens
/// after the lock is released.</item>
/// <item>A waiter's cancellation token is registered before the waiter is queued, and the queueing checks
/// the token under the lock, so a cancellation either finds the waiter queued or stops it from queueing.</item>
/// <item>Waiters are pooled per thread and per waiter type (<see cref="ThreadWaiterPool{TWaiter}"/>), not per
/// semaphore: renting and returning touch no shared cache line (measured: a per-semaphore pool under the
/// semaphore's lock cost a quarter of the contended benchmark). A waiter is bound to a semaphore when rented;
/// a late cancellation of its previous await is refused by the version check under the lock.</item>
/// </list>
/// </remarks>
internal sealed class BatchSemaphore
{
    /// <summary>The most permits a semaphore can hold.</summary>
    internal const int MaxPermits = int.MaxValue >> 1;

    private const int ClosedBit = 1;

    private int _state;
    private volatile int _waiterCount;
    private TinyLock _lock;
    private WaiterQueue<int> _waiters;

    internal BatchSemaphore(int permits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permits, MaxPermits);
        _state = permits << 1;
    }

    internal int AvailablePermits => Volatile.Read(ref _state) >> 1;

    internal bool IsClosed => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>How many callers are waiting (a snapshot).</summary>
    internal int WaiterCount => _waiterCount;

    internal enum Outcome
    {
        Acquired,
        NoPermits,
        Closed,
        Cancelled,
    }

    /// <summary>Takes <paramref name="n"/> permits if they are available now.</summary>
    internal Outcome TryAcquire(int n)
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            if ((state & ClosedBit) != 0)
            {
                return Outcome.Closed;
            }

            if ((state >> 1) < n)
            {
                return Outcome.NoPermits;
            }

            int seen = Interlocked.CompareExchange(ref _state, state - (n << 1), state);
            if (seen == state)
            {
                return Outcome.Acquired;
            }

            state = seen;
        }
    }

    /// <summary>
    /// An acquire of <paramref name="n"/> permits as every primitive starts one: refused if the token is
    /// cancelled or the semaphore closed; taken at once if free (through a yield-first waiter when the task's coop
    /// budget is spent); otherwise queued. Returns the waiter to await, or null with <paramref name="outcome"/>
    /// saying why (<see cref="Outcome.Acquired"/>: the permits are the caller's now).
    /// </summary>
    internal TWaiter? Acquire<TWaiter>(int n, CancellationToken cancellationToken, Func<BatchSemaphore, TWaiter> create, out Outcome outcome)
        where TWaiter : SemaphoreWaiter
    {
        if (cancellationToken.IsCancellationRequested)
        {
            outcome = Outcome.Cancelled;
            return null;
        }

        outcome = TryAcquire(n);
        if (outcome == Outcome.Acquired)
        {
            return Coop.TryConsume() ? null : Completed(n, create);
        }

        if (outcome == Outcome.Closed)
        {
            return null;
        }

        outcome = AcquireOrEnqueue(n, cancellationToken, create, out TWaiter? waiter);
        return waiter;
    }

    /// <summary>
    /// The slow path of an acquire: takes a waiter from the pool (or <paramref name="create"/>s one) and
    /// either acquires at once (returns <see cref="Outcome.Acquired"/>, no waiter), finds the semaphore closed or
    /// the token cancelled (<see cref="Outcome.Closed"/>, <see cref="Outcome.Cancelled"/>; no waiter, nothing
    /// taken), or queues the waiter (returns <see cref="Outcome.NoPermits"/>) whose value task completes when the
    /// permits are granted.
    /// </summary>
    internal Outcome AcquireOrEnqueue<TWaiter>(int n, CancellationToken cancellationToken, Func<BatchSemaphore, TWaiter> create, out TWaiter? waiter)
        where TWaiter : SemaphoreWaiter
    {
        // A cancellable wait registers its token before it can be seen (see the invariants), so it takes its
        // waiter first; the common uncancellable wait takes one from its thread's pool inside the critical section.
        TWaiter? w = null;
        if (cancellationToken.CanBeCanceled)
        {
            w = RentWaiter(create);
            w.RegisterCancellation(cancellationToken);
        }

        Outcome outcome;
        _lock.Enter();
        Interlocked.Increment(ref _waiterCount);
        int state = Volatile.Read(ref _state);
        if ((state & ClosedBit) != 0)
        {
            outcome = Outcome.Closed;
        }
        else if (cancellationToken.IsCancellationRequested)
        {
            outcome = Outcome.Cancelled;
        }
        else
        {
            // Nobody ahead: take what is available now, possibly all of it.
            int remaining = _waiters.IsEmpty ? n - TakeUpTo(n) : n;
            if (remaining != 0)
            {
                // Rare allocation under the lock: only while the pool is still cold.
                w ??= RentWaiter(create);
                w.Prepare(n);
                w.Remaining = remaining;
                _waiters.PushBack(w);
                _lock.Exit();
                waiter = w;
                return Outcome.NoPermits;
            }

            outcome = Outcome.Acquired;
        }

        Interlocked.Decrement(ref _waiterCount);
        _lock.Exit();

        // Not queued (and nothing partially taken): a waiter taken for the token goes back to the pool.
        if (w is not null)
        {
            w.DisposeRegistration();
            ReturnWaiter(w);
        }

        waiter = null;
        return outcome;
    }

    /// <summary>Takes up to <paramref name="wanted"/> permits from <c>_state</c>; returns how many.</summary>
    private int TakeUpTo(int wanted)
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            int take = Math.Min(state >> 1, wanted);
            if (take == 0)
            {
                return 0;
            }

            int seen = Interlocked.CompareExchange(ref _state, state - (take << 1), state);
            if (seen == state)
            {
                return take;
            }

            state = seen;
        }
    }

    /// <summary>Returns <paramref name="n"/> permits: to the waiters first, in order, then to the pool.</summary>
    /// <exception cref="SemaphoreFullException">The semaphore would hold more than <see cref="MaxPermits"/>.</exception>
    internal void Release(int n)
    {
        if (n == 0)
        {
            return;
        }

        if (_waiterCount == 0)
        {
            AddToState(n);
            if (_waiterCount == 0)
            {
                return;
            }

            _lock.Enter();
        }
        else
        {
            // Waiters are queued: hand the permits straight to them, in order, without a round trip through
            // _state (the usual case, one permit to one waiter, then costs no atomic operation on it).
            _lock.Enter();
            SemaphoreWaiter? first = null;
            SemaphoreWaiter? last = null;
            HandToQueueLocked(ref n, ref first, ref last);
            if (n > 0)
            {
                try
                {
                    AddToState(n);
                }
                catch
                {
                    _lock.Exit();
                    CompleteGranted(first);
                    throw;
                }
            }
            else if (_waiters.Head is not null && (Volatile.Read(ref _state) >> 1) > 0)
            {
                // A lock-free release left permits in _state meanwhile (invariant 2): they go to the queue too.
                SemaphoreWaiter? more = GrantLocked();
                if (more is not null)
                {
                    Chain(ref first, ref last, more);
                }
            }

            _lock.Exit();
            CompleteGranted(first);
            return;
        }

        SemaphoreWaiter? granted = GrantLocked();
        _lock.Exit();
        CompleteGranted(granted);
    }

    /// <summary>
    /// Under the lock: gives up to <paramref name="n"/> permits (the caller's, not in <c>_state</c>) to the waiters
    /// from the head, chaining those now fully granted; <paramref name="n"/> is left with what no waiter needed.
    /// </summary>
    private void HandToQueueLocked(ref int n, ref SemaphoreWaiter? first, ref SemaphoreWaiter? last)
    {
        while (n > 0 && _waiters.Head is SemaphoreWaiter head)
        {
            int give = Math.Min(n, head.Remaining);
            head.Remaining -= give;
            n -= give;
            if (head.Remaining != 0)
            {
                break;
            }

            _waiters.PopFront();
            Chain(ref first, ref last, head);
        }

        _waiterCount = _waiters.Count;
    }

    private static void Chain(ref SemaphoreWaiter? first, ref SemaphoreWaiter? last, SemaphoreWaiter waiter)
    {
        if (last is null)
        {
            first = waiter;
        }
        else
        {
            last.Next = waiter;
        }

        last = waiter;
    }

    private void AddToState(int n)
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            if ((state >> 1) > MaxPermits - n)
            {
                throw new SemaphoreFullException($"Adding {n} permits would exceed the maximum of {MaxPermits}.");
            }

            int seen = Interlocked.CompareExchange(ref _state, state + (n << 1), state);
            if (seen == state)
            {
                return;
            }

            state = seen;
        }
    }

    /// <summary>
    /// Under the lock: hands available permits to waiters from the head. Returns the chain (through
    /// <see cref="LinkedWaiter{T}.Next"/>) of waiters now fully granted, to complete after unlocking.
    /// </summary>
    private SemaphoreWaiter? GrantLocked()
    {
        SemaphoreWaiter? first = null;
        SemaphoreWaiter? last = null;
        while (_waiters.Head is SemaphoreWaiter head)
        {
            head.Remaining -= TakeUpTo(head.Remaining);
            if (head.Remaining != 0)
            {
                break;
            }

            _waiters.PopFront();
            Chain(ref first, ref last, head);
        }

        // Every change of _waiterCount happens under the lock, so a plain (volatile) write is enough here; the
        // enqueuer's increment stays an interlocked one for its fence (invariant 2).
        _waiterCount = _waiters.Count;
        return first;
    }

    private static void CompleteGranted(SemaphoreWaiter? chain)
    {
        while (chain is not null)
        {
            // Read the link first: once completed, the waiter may be consumed and reused.
            var next = (SemaphoreWaiter?)chain.Next;
            chain.Next = null;
            chain.TrySetResult(chain.Requested);
            chain = next;
        }
    }

    /// <summary>Removes a queued waiter whose wait was cancelled; hands on the permits it had been given.</summary>
    internal void Cancel(SemaphoreWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        if (!_waiters.Remove(waiter, version))
        {
            // Granted or failed already: that completion wins.
            _lock.Exit();
            return;
        }

        _waiterCount = _waiters.Count;
        int partial = waiter.Requested - waiter.Remaining;
        waiter.Remaining = waiter.Requested;
        SemaphoreWaiter? first = null;
        SemaphoreWaiter? last = null;

        // The permits it had been given go straight to the waiters behind it, as a release's do (invariant 1):
        // through _state, a lock-free TryAcquire could take them first and overtake the queue. Only what no
        // waiter needs returns to _state (these permits never left the lock's view: no overflow is possible).
        HandToQueueLocked(ref partial, ref first, ref last);
        if (partial > 0)
        {
            Interlocked.Add(ref _state, partial << 1);
        }
        else if (_waiters.Head is not null && (Volatile.Read(ref _state) >> 1) > 0)
        {
            // The cancelled waiter may have been the large request that blocked smaller ones behind it.
            SemaphoreWaiter? more = GrantLocked();
            if (more is not null)
            {
                Chain(ref first, ref last, more);
            }
        }

        _lock.Exit();
        CompleteGranted(first);
        waiter.TrySetException(error);
    }

    /// <summary>Closes the semaphore: every waiter fails, and so does every later acquire.</summary>
    /// <returns>False if it was already closed.</returns>
    internal bool Close(Func<Exception> error)
    {
        _lock.Enter();
        int state = Volatile.Read(ref _state);
        while ((state & ClosedBit) == 0)
        {
            int seen = Interlocked.CompareExchange(ref _state, state | ClosedBit, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        if ((state & ClosedBit) != 0)
        {
            _lock.Exit();
            return false;
        }

        LinkedWaiter<int>? chain = _waiters.TakeAll();
        int partial = 0;
        for (LinkedWaiter<int>? w = chain; w is not null; w = w.Next)
        {
            var sw = (SemaphoreWaiter)w;
            partial += sw.Requested - sw.Remaining;
        }

        _waiterCount = 0;
        if (partial > 0)
        {
            Interlocked.Add(ref _state, partial << 1);
        }

        _lock.Exit();
        while (chain is not null)
        {
            LinkedWaiter<int>? next = chain.Next;
            chain.Next = null;
            chain.TrySetException(error());
            chain = next;
        }

        return true;
    }

    /// <summary>Removes up to <paramref name="n"/> available permits for good; returns how many.</summary>
    internal int Forget(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        return TakeUpTo(n);
    }

    /// <summary>
    /// A waiter already granted <paramref name="n"/> permits (taken by the caller): awaiting it goes through the
    /// run queue, which is how an out-of-budget task yields before it continues.
    /// </summary>
    internal TWaiter Completed<TWaiter>(int n, Func<BatchSemaphore, TWaiter> create)
        where TWaiter : SemaphoreWaiter
    {
        TWaiter w = RentWaiter(create);
        w.Prepare(n);
        w.Remaining = 0;
        w.SetResultAfterYield(n);
        return w;
    }

    private TWaiter RentWaiter<TWaiter>(Func<BatchSemaphore, TWaiter> create)
        where TWaiter : SemaphoreWaiter
    {
        TWaiter? w = ThreadWaiterPool<TWaiter>.TryRent();
        if (w is null)
        {
            return create(this);
        }

        w.Semaphore = this;
        return w;
    }

    internal static void ReturnWaiter<TWaiter>(TWaiter waiter)
        where TWaiter : SemaphoreWaiter
    {
        waiter.Reset();
        ThreadWaiterPool<TWaiter>.Return(waiter);
    }
}

/// <summary>
/// A pending acquire of a <see cref="BatchSemaphore"/>. Its result is the number of permits granted; a
/// primitive derives from it to expose its own result type (a permit, a guard).
/// </summary>
internal abstract class SemaphoreWaiter : LinkedWaiter<int>
{
    protected SemaphoreWaiter(BatchSemaphore semaphore) => Semaphore = semaphore;

    internal BatchSemaphore Semaphore;

    /// <summary>Permits asked for.</summary>
    internal int Requested;

    /// <summary>Permits still missing; guarded by the semaphore's lock.</summary>
    internal int Remaining;

    internal void Prepare(int n)
    {
        Requested = n;
        Remaining = n;
    }

    protected override void OnCancellationRequested(Exception error, short version) => Semaphore.Cancel(this, error, version);

    protected override void OnResultDropped(int result) => Semaphore.Release(result);

    protected override void OnConsumed() => ReturnToPool();

    /// <summary>Returns the waiter to its type's per-thread pool.</summary>
    protected abstract void ReturnToPool();
}

/// <summary>Per-thread free lists of waiters of one type: renting and returning touch no shared memory.</summary>
internal static class ThreadWaiterPool<TWaiter>
    where TWaiter : SemaphoreWaiter
{
    private const int MaxPerThread = 32;

    [ThreadStatic]
    private static TWaiter? t_head;

    [ThreadStatic]
    private static int t_count;

    internal static TWaiter? TryRent()
    {
        TWaiter? w = t_head;
        if (w is not null)
        {
            t_head = (TWaiter?)w.Next;
            t_count--;
            w.Next = null;
        }

        return w;
    }

    internal static void Return(TWaiter waiter)
    {
        if (t_count < MaxPerThread)
        {
            waiter.Next = t_head;
            t_head = waiter;
            t_count++;
        }
    }
}
