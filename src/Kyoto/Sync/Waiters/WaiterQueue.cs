using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>
/// A pending await that can sit in an intrusive <see cref="WaiterQueue{T}"/>: the links live in the waiter
/// itself, so queueing allocates nothing.
/// </summary>
/// <remarks>
/// Invariants: <see cref="Next"/>, <see cref="Prev"/> and <see cref="Queued"/> are read and written only
/// under the lock of the primitive that owns the queue. <see cref="Queued"/> is true exactly while the waiter
/// is linked; a cancellation that finds it false lost the race to a hand-off and must not complete the waiter.
/// </remarks>
internal abstract class LinkedWaiter<T> : KyotoValueTaskSource<T>
{
    internal LinkedWaiter<T>? Next;
    internal LinkedWaiter<T>? Prev;
    internal bool Queued;
}

/// <summary>
/// A FIFO doubly linked list of <see cref="LinkedWaiter{T}"/>; O(1) push, pop and removal. Not thread-safe:
/// its owner guards it with a lock. Use only as a field (never copy it).
/// </summary>
internal struct WaiterQueue<T>
{
    private LinkedWaiter<T>? _head;
    private LinkedWaiter<T>? _tail;
    private int _count;

    internal readonly bool IsEmpty => _head is null;

    /// <summary>How many waiters are queued; read without the owner's lock it is a snapshot (a volatile read).</summary>
    internal readonly int Count => Volatile.Read(in _count);

    internal readonly LinkedWaiter<T>? Head => _head;

    internal void PushBack(LinkedWaiter<T> waiter)
    {
        waiter.Next = null;
        waiter.Prev = _tail;
        if (_tail is null)
        {
            _head = waiter;
        }
        else
        {
            _tail.Next = waiter;
        }

        _tail = waiter;
        waiter.Queued = true;
        _count++;
    }

    internal LinkedWaiter<T>? PopFront()
    {
        LinkedWaiter<T>? waiter = _head;
        if (waiter is not null)
        {
            Unlink(waiter);
        }

        return waiter;
    }

    internal LinkedWaiter<T>? PopBack()
    {
        LinkedWaiter<T>? waiter = _tail;
        if (waiter is not null)
        {
            Unlink(waiter);
        }

        return waiter;
    }

    /// <summary>
    /// Unlinks <paramref name="waiter"/> if it is queued here for the await of <paramref name="version"/>; false if
    /// it was already taken (or was reset and queued again for a later await, which this cancellation must not touch).
    /// </summary>
    internal bool Remove(LinkedWaiter<T> waiter, short version)
    {
        if (!waiter.Queued || !waiter.IsCurrentVersion(version))
        {
            return false;
        }

        Unlink(waiter);
        return true;
    }

    /// <summary>
    /// Empties the queue and returns its waiters as a chain through <see cref="LinkedWaiter{T}.Next"/>, each
    /// marked not queued, so the caller can complete them after leaving its lock.
    /// </summary>
    internal LinkedWaiter<T>? TakeAll()
    {
        LinkedWaiter<T>? head = _head;
        for (LinkedWaiter<T>? w = head; w is not null; w = w.Next)
        {
            w.Queued = false;
            w.Prev = null;
        }

        _head = null;
        _tail = null;
        _count = 0;
        return head;
    }

    private void Unlink(LinkedWaiter<T> waiter)
    {
        LinkedWaiter<T>? prev = waiter.Prev;
        LinkedWaiter<T>? next = waiter.Next;
        if (prev is null)
        {
            _head = next;
        }
        else
        {
            prev.Next = next;
        }

        if (next is null)
        {
            _tail = prev;
        }
        else
        {
            next.Prev = prev;
        }

        waiter.Next = null;
        waiter.Prev = null;
        waiter.Queued = false;
        _count--;
    }
}

/// <summary>
/// A small free list of waiters for one primitive, linked through <see cref="LinkedWaiter{T}.Next"/> and guarded
/// by the primitive's lock (passed in), so a warm primitive's waits allocate nothing. Use only as a field.
/// </summary>
internal struct WaiterPool<T>
{
    private const int MaxPooled = 64;

    private LinkedWaiter<T>? _free;
    private int _count;

    /// <summary>A pooled waiter, or null if the pool is empty.</summary>
    internal LinkedWaiter<T>? TryRent(ref TinyLock gate)
    {
        if (Volatile.Read(ref _free) is null)
        {
            return null;
        }

        gate.Enter();
        LinkedWaiter<T>? w = _free;
        if (w is not null)
        {
            _free = w.Next;
            _count--;
            w.Next = null;
        }

        gate.Exit();
        return w;
    }

    /// <summary>Resets <paramref name="waiter"/> and keeps it for the next wait (unless the pool is full).</summary>
    internal void Return(ref TinyLock gate, LinkedWaiter<T> waiter)
    {
        waiter.Reset();
        gate.Enter();
        if (_count < MaxPooled)
        {
            waiter.Next = _free;
            _free = waiter;
            _count++;
        }

        gate.Exit();
    }
}

/// <summary>Completes chains of waiters taken from a <see cref="WaiterQueue{T}"/> (after the lock is released).</summary>
internal static class WaiterChain
{
    /// <summary>
    /// Completes every waiter of <paramref name="chain"/> (linked through <see cref="LinkedWaiter{T}.Next"/>)
    /// with <paramref name="result"/>, reading each link before completing its waiter: a completed waiter may be
    /// consumed and reused at once.
    /// </summary>
    internal static void CompleteAll<T>(LinkedWaiter<T>? chain, T result)
    {
        while (chain is not null)
        {
            LinkedWaiter<T>? next = chain.Next;
            chain.Next = null;
            chain.TrySetResult(result);
            chain = next;
        }
    }
}
