// The shared state of a watch channel: the value, its version, the closed flag, the receiver count and two
// waiter lists (receivers waiting for a change, senders waiting for the last receiver to go).
//
// Invariants:
//  1. Writers (send, replace, modify) serialize on _writeLock, a System.Threading.Lock because a modifier is
//     user code. A writer makes _seq odd (Interlocked: full fence) before touching _value and even again
//     (release) after; the version bump happens inside that window. A modifier may not write to the channel it
//     modifies (reentrant writes are refused: _writing), since a nested window would break the sequence.
//  2. Readers never see a torn value: they read _seq (even), _value and _state, then _seq again (after a read
//     barrier) and retry under _writeLock if it moved or was odd, so they never spin while a modifier runs.
//     A read returns a value and the version it belongs to together.
//  3. _state = version << 1 | closed bit. It changes only under _lock (a TinyLock for the waiter lists and the
//     receiver count): the version when a write lands (inside the write window of 1), the closed bit when the
//     last sender goes. A receiver checks its seen version against _state and queues its waiter under _lock,
//     and a write bumps the version and takes every queued waiter under _lock, so no change is missed.
//  4. Waiters carry no value: a change or close only wakes them (result true) and the receiver reads _state in
//     GetResult. A waiter leaves its queue once, under _lock: taken by a write/close/last-receiver-gone, or
//     removed by cancellation or disposal (then failed). Completions run after _lock is released.
//  5. The closed-waiters of senders are completed when _receiverCount reaches 0; a sender checks the count and
//     queues under _lock.
using System.Diagnostics;
using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>The value, version and waiters shared by the senders and receivers of one watch channel.</summary>
internal sealed class WatchCore<T>
{
    private const long ClosedBit = 1;

    // Invariant 1: written only under _writeLock, inside an odd _seq window.
    private readonly Lock _writeLock = new();
    private bool _writing;
    private T _value;
    private int _seq;

    // Invariant 3: changed only under _lock; read lock-free as a snapshot.
    private long _state;

    private TinyLock _lock;
    private WaiterQueue<bool> _changeWaiters;
    private WaiterQueue<bool> _closedWaiters;
    private int _receiverCount = 1;

    // Changed with Interlocked only; starts at 1 (the sender Create returns).
    private int _senderCount = 1;

    internal WatchCore(T initial) => _value = initial;

    /// <summary>The version and closed bit (a snapshot).</summary>
    internal long State => Volatile.Read(ref _state);

    internal static long VersionOf(long state) => state >> 1;

    internal static bool IsClosedState(long state) => (state & ClosedBit) != 0;

    internal int ReceiverCount => Volatile.Read(ref _receiverCount);

    /// <summary>Reads the value and the state (version) it belongs to, never torn (invariant 2).</summary>
    internal void Read(out T value, out long state)
    {
        int seq = Volatile.Read(ref _seq);
        if ((seq & 1) == 0)
        {
            value = _value;
            state = Volatile.Read(ref _state);
            Volatile.ReadBarrier();
            if (Volatile.Read(ref _seq) == seq)
            {
                return;
            }
        }

        ReadLocked(out value, out state);
    }

    private void ReadLocked(out T value, out long state)
    {
        // A write is in progress: wait for it on the writers' lock rather than spin (a modifier may be slow).
        lock (_writeLock)
        {
            value = _value;
            state = Volatile.Read(ref _state);
        }
    }

    /// <summary>Stores <paramref name="value"/>, bumps the version and wakes the waiting receivers.</summary>
    /// <returns>The previous value.</returns>
    internal T Replace(T value)
    {
        T previous;
        LinkedWaiter<bool>? chain;
        lock (_writeLock)
        {
            ThrowIfWritingUnsynchronized();
            BeginWriteUnsynchronized();
            previous = _value;
            _value = value;
            chain = BumpVersionUnsynchronized();
            EndWriteUnsynchronized();
        }

        // After the locks (invariant 4).
        Wake(chain);
        return previous;
    }

    /// <summary>Runs <paramref name="modify"/> on the value in place, then bumps the version and wakes the receivers.</summary>
    internal void Modify(WatchModifier<T> modify)
    {
        LinkedWaiter<bool>? chain = null;
        lock (_writeLock)
        {
            ThrowIfWritingUnsynchronized();
            BeginWriteUnsynchronized();
            _writing = true;
            bool modified = false;
            try
            {
                modify(ref _value);
                modified = true;
            }
            finally
            {
                // A modifier that throws leaves what it changed, but nobody is notified (as Tokio).
                _writing = false;
                if (modified)
                {
                    chain = BumpVersionUnsynchronized();
                }

                EndWriteUnsynchronized();
            }
        }

        Wake(chain);
    }

    /// <summary>Runs <paramref name="modify"/> on the value in place; bumps the version and wakes the receivers if it returns true.</summary>
    internal bool ModifyIf(WatchConditionalModifier<T> modify)
    {
        LinkedWaiter<bool>? chain = null;
        bool modified = false;
        lock (_writeLock)
        {
            ThrowIfWritingUnsynchronized();
            BeginWriteUnsynchronized();
            _writing = true;
            try
            {
                modified = modify(ref _value);
            }
            finally
            {
                _writing = false;
                if (modified)
                {
                    chain = BumpVersionUnsynchronized();
                }

                EndWriteUnsynchronized();
            }
        }

        Wake(chain);
        return modified;
    }

    private void ThrowIfWritingUnsynchronized()
    {
        if (_writing)
        {
            throw new InvalidOperationException("A watch modifier cannot write to the channel it is modifying.");
        }
    }

    private void BeginWriteUnsynchronized() => Interlocked.Increment(ref _seq);

    private void EndWriteUnsynchronized() => Volatile.Write(ref _seq, _seq + 1);

    /// <summary>Under the write lock: bumps the version and takes the waiting receivers (invariant 3).</summary>
    private LinkedWaiter<bool>? BumpVersionUnsynchronized()
    {
        _lock.Enter();
        Volatile.Write(ref _state, _state + 2);
        LinkedWaiter<bool>? chain = _changeWaiters.TakeAll();
        AssertInvariantsUnsynchronized();
        _lock.Exit();
        return chain;
    }

    /// <summary>Counts another sender (from a live sender, so the channel is not closed).</summary>
    internal void AddSender() => Interlocked.Increment(ref _senderCount);

    /// <summary>Uncounts a sender; the last one closes the channel and wakes every waiting receiver.</summary>
    internal void RemoveSender()
    {
        if (Interlocked.Decrement(ref _senderCount) != 0)
        {
            return;
        }

        _lock.Enter();
        Volatile.Write(ref _state, _state | ClosedBit);
        LinkedWaiter<bool>? chain = _changeWaiters.TakeAll();
        AssertInvariantsUnsynchronized();
        _lock.Exit();
        Wake(chain);
    }

    /// <summary>A new receiver that has seen the current value.</summary>
    internal WatchReceiver<T> Subscribe()
    {
        _lock.Enter();
        _receiverCount++;
        long seen = VersionOf(_state);
        _lock.Exit();
        return new WatchReceiver<T>(this, seen);
    }

    /// <summary>A new receiver that has seen version <paramref name="seen"/>.</summary>
    internal WatchReceiver<T> AddReceiver(long seen)
    {
        _lock.Enter();
        _receiverCount++;
        _lock.Exit();
        return new WatchReceiver<T>(this, seen);
    }

    /// <summary>Uncounts a disposed receiver; the last one wakes the senders waiting in ClosedAsync.</summary>
    internal void RemoveReceiver()
    {
        _lock.Enter();
        LinkedWaiter<bool>? chain = --_receiverCount == 0 ? _closedWaiters.TakeAll() : null;
        AssertInvariantsUnsynchronized();
        _lock.Exit();
        Wake(chain);
    }

    /// <summary>
    /// Queues a receiver's armed waiter unless the version moved past <paramref name="seen"/> (Ready), the channel
    /// is closed, the receiver is being disposed or the token is cancelled.
    /// </summary>
    internal WatchOutcome EnqueueChange(LinkedWaiter<bool> waiter, long seen, WatchReceiver<T> receiver, CancellationToken cancellationToken)
    {
        WatchOutcome outcome;
        _lock.Enter();
        long state = _state;
        if (VersionOf(state) != seen)
        {
            outcome = WatchOutcome.Ready;
        }
        else if (IsClosedState(state))
        {
            outcome = WatchOutcome.Closed;
        }
        else if (receiver.IsDisposeRequested)
        {
            outcome = WatchOutcome.Disposed;
        }
        else if (cancellationToken.IsCancellationRequested)
        {
            outcome = WatchOutcome.Cancelled;
        }
        else
        {
            _changeWaiters.PushBack(waiter);
            outcome = WatchOutcome.Pending;
        }

        _lock.Exit();
        return outcome;
    }

    /// <summary>
    /// Queues a sender's armed waiter unless no receiver is left (Ready), the sender is being disposed or the
    /// token is cancelled.
    /// </summary>
    internal WatchOutcome EnqueueClosed(LinkedWaiter<bool> waiter, WatchSender<T> sender, CancellationToken cancellationToken)
    {
        WatchOutcome outcome;
        _lock.Enter();
        if (_receiverCount == 0)
        {
            outcome = WatchOutcome.Ready;
        }
        else if (sender.IsDisposeRequested)
        {
            outcome = WatchOutcome.Disposed;
        }
        else if (cancellationToken.IsCancellationRequested)
        {
            outcome = WatchOutcome.Cancelled;
        }
        else
        {
            _closedWaiters.PushBack(waiter);
            outcome = WatchOutcome.Pending;
        }

        _lock.Exit();
        return outcome;
    }

    /// <summary>A waiter's await was cancelled: takes it out of its queue and fails it, unless it was woken first.</summary>
    internal void CancelWait(LinkedWaiter<bool> waiter, Exception error, bool closedWaiter, short version)
    {
        _lock.Enter();
        bool removed = closedWaiter ? _closedWaiters.Remove(waiter, version) : _changeWaiters.Remove(waiter, version);
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    /// <summary>Wakes a chain taken from a queue (after the locks are released).</summary>
    private static void Wake(LinkedWaiter<bool>? chain) => WaiterChain.CompleteAll(chain, true);

    /// <summary>Test hook: receivers waiting for a change now.</summary>
    internal int ChangeWaiterCount => _changeWaiters.Count; // a snapshot (a volatile read)

    /// <summary>Test hook: senders waiting for the receivers to go.</summary>
    internal int ClosedWaiterCount => _closedWaiters.Count; // a snapshot (a volatile read)

    [Conditional("DEBUG")]
    private void AssertInvariantsUnsynchronized()
    {
        Debug.Assert(_receiverCount >= 0, "The receiver count never goes below zero.");
        Debug.Assert(_receiverCount > 0 || _closedWaiters.IsEmpty, "Nobody waits for the receivers to go once they are gone.");
        Debug.Assert(!IsClosedState(_state) || _changeWaiters.IsEmpty, "Nobody waits for a change on a closed channel.");
        Debug.Assert(_changeWaiters.Count <= _receiverCount, "At most one change waiter per receiver.");
    }
}
