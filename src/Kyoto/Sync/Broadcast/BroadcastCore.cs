// The shared state of a broadcast channel: a ring of slots plus the tail (next position to write), the
// receiver count, the closed flag and the waiter list.
//
// Invariants:
//  1. Positions are 64-bit and never wrap. Position p lives in slot p & mask. A slot's Pos is the position it
//     holds; before its first write slot i holds i - capacity, so "slot.Pos == next" means "the value at `next`
//     is here" and "slot.Pos + capacity == next" means "not written yet". Under the tail lock, `next < tail`
//     implies slot(next).Pos >= next (written; overwritten if greater).
//  2. The tail lock (_tailLock) guards _tailPos, _receiverCount, _closed and _waiters. A send writes its slot
//     (under the slot's lock, taken inside the tail lock: lock order tail -> slot) and advances _tailPos in
//     the same critical section, so a receiver that finds nothing under the tail lock and queues its waiter
//     is woken by the next send or by close: no lost wake-up.
//  3. A slot's lock guards its Pos, Remaining and Value, and also every receiver cursor that points at the slot:
//     a receiver's cursor (its `next`) changes only while the lock of slot(next) is held, and whoever changes it
//     re-reads it under that lock first. So two receives on one receiver, or a receive and the receiver's
//     Dispose (which claims the cursor by setting it to LeftCursor), never both act on the same position.
//     Receivers read a slot under its lock only, without the tail lock: the fast path is one CAS per value.
//  4. Remaining starts at the receiver count of the send; every receiver subscribed then decrements it exactly
//     once: by reading the value (moving its cursor past it, under the slot lock) or, once it has left, in the
//     drain of Unsubscribe. The one that brings it to zero clears Value, so the reference is dropped once nobody
//     needs it. A value overwritten before everyone read it is dropped by the overwrite (those who missed it get
//     a lag error instead).
//  5. A receiver's waiter carries no value: a send or close takes it from _waiters (under the tail lock) and
//     wakes it with `true` after the lock is released; its receiver reads the ring in GetResult. A waiter leaves
//     the queue exactly once, under the tail lock (woken, or removed by cancellation or disposal and then
//     failed), so an abandoned wake-up (cancelled, aborted) loses nothing: the value stays for the next receive.
//  6. Completions (waking waiters) run after the tail lock is released; no user code runs under any lock.
using System.Diagnostics;
using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>The ring, tail and waiters shared by the senders and receivers of one broadcast channel.</summary>
internal sealed class BroadcastCore<T>
{
    /// <summary>The cursor of a receiver that left the channel (invariant 3).</summary>
    internal const long LeftCursor = long.MaxValue;

    private readonly Slot[] _slots;
    private readonly long _mask;

    // Guarded by _tailLock (invariant 2). _tailPos, _receiverCount and _closed are also read without it (snapshots).
    private TinyLock _tailLock;
    private long _tailPos;
    private int _receiverCount;
    private bool _closed;
    private WaiterQueue<bool> _waiters;

    // Changed with Interlocked only; starts at 1 (the sender Create returns).
    private int _senderCount = 1;

    internal BroadcastCore(int capacity)
    {
        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity);
        _slots = new Slot[size];
        _mask = size - 1;
        for (int i = 0; i < size; i++)
        {
            _slots[i].Pos = i - (long)size;
        }
    }

    /// <summary>The capacity, a power of two.</summary>
    internal int Capacity => _slots.Length;

    /// <summary>The next position a send writes (a snapshot).</summary>
    internal long TailPos => Volatile.Read(ref _tailPos);

    internal int ReceiverCount => Volatile.Read(ref _receiverCount);

    internal bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>Counts another sender (from a live sender, so the channel is not closed).</summary>
    internal void AddSender() => Interlocked.Increment(ref _senderCount);

    /// <summary>Uncounts a sender; the last one closes the channel and wakes every waiting receiver.</summary>
    internal void RemoveSender()
    {
        if (Interlocked.Decrement(ref _senderCount) != 0)
        {
            return;
        }

        _tailLock.Enter();
        Volatile.Write(ref _closed, true);
        LinkedWaiter<bool>? chain = _waiters.TakeAll();
        AssertInvariantsUnsynchronized();
        _tailLock.Exit();
        Wake(chain);
    }

    /// <summary>Creates a receiver that sees only the values sent after this call.</summary>
    internal BroadcastReceiver<T> Subscribe()
    {
        _tailLock.Enter();
        _receiverCount++;
        long next = _tailPos;
        _tailLock.Exit();
        return new BroadcastReceiver<T>(this, next);
    }

    /// <summary>
    /// Stores <paramref name="value"/> for every current receiver and wakes the waiting ones. False (nothing
    /// stored) if there is no receiver.
    /// </summary>
    internal bool TrySend(T value, out int receivers)
    {
        _tailLock.Enter();
        int count = _receiverCount;
        if (count == 0)
        {
            _tailLock.Exit();
            receivers = 0;
            return false;
        }

        long pos = _tailPos;
        ref Slot slot = ref _slots[pos & _mask];
        slot.Lock.Enter();
        slot.Pos = pos;
        slot.Remaining = count;
        slot.Value = value;
        slot.Lock.Exit();
        Volatile.Write(ref _tailPos, pos + 1);
        LinkedWaiter<bool>? chain = _waiters.TakeAll();
        AssertInvariantsUnsynchronized();
        _tailLock.Exit();

        // After the lock (invariant 6).
        Wake(chain);
        receivers = count;
        return true;
    }

    /// <summary>
    /// Reads the value at the cursor <paramref name="next"/> if it is there (the fast path: the slot's lock
    /// only), else decides under the tail lock: lagged, closed, empty, or disposed. Never queues.
    /// </summary>
    internal BroadcastOutcome TryRecv(ref long next, out T value, out long skipped)
    {
        skipped = 0;
        BroadcastOutcome outcome = TryReadSlot(ref next, out value);
        return outcome == BroadcastOutcome.Empty
            ? RecvSlow(ref next, out value, out skipped, null, yieldIfReady: false, default)
            : outcome;
    }

    /// <summary>
    /// Takes the value at the cursor <paramref name="next"/> if its slot holds it, and advances the cursor
    /// (Received); Empty if the slot does not hold it (not written yet, or overwritten: the slow path decides);
    /// Disposed if the receiver left.
    /// </summary>
    internal BroadcastOutcome TryReadSlot(ref long next, out T value)
    {
        while (true)
        {
            long pos = Volatile.Read(ref next);
            if (pos == LeftCursor)
            {
                value = default!;
                return BroadcastOutcome.Disposed;
            }

            ref Slot slot = ref _slots[pos & _mask];
            slot.Lock.Enter();
            if (next != pos)
            {
                // Moved meanwhile (a concurrent receive, or Dispose): look again (invariant 3).
                slot.Lock.Exit();
                continue;
            }

            if (slot.Pos != pos)
            {
                slot.Lock.Exit();
                value = default!;
                return BroadcastOutcome.Empty;
            }

            value = TakeUnsynchronized(ref slot);
            Volatile.Write(ref next, pos + 1);
            slot.Lock.Exit();
            return BroadcastOutcome.Received;
        }
    }

    /// <summary>
    /// The slow path of a receive, under the tail lock. Nothing new at the cursor: closed, or (with a
    /// <paramref name="waiter"/>, armed by the caller) cancelled, or the waiter is queued (Pending). Something
    /// new: with <paramref name="yieldIfReady"/>, Yield (the caller reads after a trip through the run queue);
    /// otherwise reads the value now, or reports a lag and moves the cursor to the oldest retained value.
    /// Disposed if the receiver left.
    /// </summary>
    internal BroadcastOutcome RecvSlow(ref long next, out T value, out long skipped, LinkedWaiter<bool>? waiter, bool yieldIfReady, CancellationToken cancellationToken)
    {
        value = default!;
        skipped = 0;
        while (true)
        {
            _tailLock.Enter();
            long pos = Volatile.Read(ref next);
            if (pos == LeftCursor)
            {
                _tailLock.Exit();
                return BroadcastOutcome.Disposed;
            }

            long tail = _tailPos;
            Debug.Assert(pos <= tail, "A receiver is never ahead of the tail.");
            if (tail == pos)
            {
                BroadcastOutcome outcome;
                if (_closed)
                {
                    outcome = BroadcastOutcome.Closed;
                }
                else if (waiter is null)
                {
                    outcome = BroadcastOutcome.Empty;
                }
                else if (cancellationToken.IsCancellationRequested)
                {
                    outcome = BroadcastOutcome.Cancelled;
                }
                else
                {
                    // A Dispose that claims the cursor after this finds the waiter here and fails it.
                    _waiters.PushBack(waiter);
                    outcome = BroadcastOutcome.Pending;
                }

                AssertInvariantsUnsynchronized();
                _tailLock.Exit();
                return outcome;
            }

            if (yieldIfReady)
            {
                _tailLock.Exit();
                return BroadcastOutcome.Yield;
            }

            // tail > pos, so the slot at pos was written (invariant 1): still there, or overwritten.
            ref Slot slot = ref _slots[pos & _mask];
            slot.Lock.Enter();
            if (next != pos)
            {
                slot.Lock.Exit();
                _tailLock.Exit();
                continue;
            }

            if (slot.Pos == pos)
            {
                value = TakeUnsynchronized(ref slot);
                Volatile.Write(ref next, pos + 1);
                slot.Lock.Exit();
                _tailLock.Exit();
                return BroadcastOutcome.Received;
            }

            Debug.Assert(slot.Pos > pos, "A written slot holds its position or a later one.");
            long oldest = tail - _slots.Length;
            Volatile.Write(ref next, oldest);
            slot.Lock.Exit();
            _tailLock.Exit();
            skipped = oldest - pos;
            return BroadcastOutcome.Lagged;
        }
    }

    /// <summary>Under the slot's lock: reads its value and counts this reader off (invariant 4).</summary>
    private static T TakeUnsynchronized(ref Slot slot)
    {
        T value = slot.Value;
        if (--slot.Remaining == 0)
        {
            // The last reader of this value: drop the reference.
            slot.Value = default!;
        }

        return value;
    }

    /// <summary>
    /// Takes a receiver's cursor for good: sets it to <see cref="LeftCursor"/> under the lock of its slot
    /// (invariant 3) and returns where it was, or <see cref="LeftCursor"/> if it was taken already.
    /// </summary>
    internal long ClaimCursor(ref long next)
    {
        while (true)
        {
            long pos = Volatile.Read(ref next);
            if (pos == LeftCursor)
            {
                return LeftCursor;
            }

            ref Slot slot = ref _slots[pos & _mask];
            slot.Lock.Enter();
            if (next == pos)
            {
                Volatile.Write(ref next, LeftCursor);
                slot.Lock.Exit();
                return pos;
            }

            slot.Lock.Exit();
        }
    }

    /// <summary>
    /// A waiter's await was cancelled: takes it out of the queue and fails it, unless a send or close took it
    /// first. True if it was taken out (its await then only throws).
    /// </summary>
    internal bool CancelWait(LinkedWaiter<bool> waiter, Exception error, short version)
    {
        _tailLock.Enter();
        bool removed = _waiters.Remove(waiter, version);
        _tailLock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }

        return removed;
    }

    /// <summary>
    /// Uncounts a receiver that left, then gives up its claim on the values it had not read (from
    /// <paramref name="next"/>, where <see cref="ClaimCursor"/> found its cursor), so that they can be dropped.
    /// Called once per receiver.
    /// </summary>
    internal void Unsubscribe(long next)
    {
        _tailLock.Enter();
        _receiverCount--;
        long until = _tailPos;
        AssertInvariantsUnsynchronized();
        _tailLock.Exit();

        // Positions before until - capacity are overwritten already; sends from `until` on did not count it.
        for (long pos = Math.Max(next, until - _slots.Length); pos < until; pos++)
        {
            ref Slot slot = ref _slots[pos & _mask];
            slot.Lock.Enter();
            if (slot.Pos == pos && --slot.Remaining == 0)
            {
                slot.Value = default!;
            }

            slot.Lock.Exit();
        }
    }

    /// <summary>Wakes a chain taken from the queue (after the tail lock is released).</summary>
    private static void Wake(LinkedWaiter<bool>? chain) => WaiterChain.CompleteAll(chain, true);

    /// <summary>Test hook: whether the slot that held <paramref name="pos"/> still holds a value for it.</summary>
    internal bool IsRetained(long pos)
    {
        ref Slot slot = ref _slots[pos & _mask];
        slot.Lock.Enter();
        bool retained = slot.Pos == pos && slot.Remaining > 0;
        slot.Lock.Exit();
        return retained;
    }

    /// <summary>Test hook: waiters queued now.</summary>
    internal int WaiterCount => _waiters.Count; // a snapshot (a volatile read)

    [Conditional("DEBUG")]
    private void AssertInvariantsUnsynchronized()
    {
        Debug.Assert(_receiverCount >= 0, "The receiver count never goes below zero.");
        Debug.Assert(_tailPos >= 0, "The tail never goes below zero.");
        Debug.Assert(!_closed || _waiters.IsEmpty, "Nobody waits on a closed channel.");
        Debug.Assert(_waiters.Count <= _receiverCount, "At most one waiter per subscribed receiver.");
    }

    /// <summary>One value of the ring; see invariants 1, 3 and 4.</summary>
    private struct Slot
    {
        internal TinyLock Lock;
        internal long Pos;
        internal int Remaining;
        internal T Value;
    }
}
