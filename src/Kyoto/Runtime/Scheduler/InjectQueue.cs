
namespace Kyoto.Scheduling;

/// <summary>
/// The runtime's global injection queue: items woken or spawned off the workers, and overflow from full
/// local queues. Workers check it every <c>GlobalQueueInterval</c> ticks and when their own queue is empty.
/// </summary>
/// <remarks>
/// A growable ring under one <see cref="TinyLock"/>. <see cref="Count"/> is read without the lock (volatile) so that idle
/// checks are cheap; it is only a hint outside the lock. Workers pop in batches under one lock acquisition
/// (measured: 20-30% faster spawn from outside than popping one at a time).
/// </remarks>
internal sealed class InjectQueue
{
    private TinyLock _lock; // guards _items and _head; never held around anything that blocks
    private WorkSlot[] _items = new WorkSlot[256];
    private int _head; // index of the first item; guarded by _lock
    private volatile int _count; // written under _lock

    internal int Count => _count;

    internal bool IsEmpty => _count == 0;

    /// <summary>Pushes an item; returns true if the queue was empty before (the caller should wake a worker).</summary>
    internal bool Push(IWorkItem item)
    {
        _lock.Enter();
        try
        {
            bool wasEmpty = _count == 0;
            PushUnsynchronized(item);
            return wasEmpty;
        }
        finally
        {
            _lock.Exit();
        }
    }

    private void PushUnsynchronized(IWorkItem item)
    {
        int count = _count;
        if (count == _items.Length)
        {
            Grow();
        }

        _items[(_head + count) & (_items.Length - 1)].Item = item;
        _count = count + 1;
    }

    /// <summary>Pushes the ring slots <c>[first, first + n)</c> of a local queue's buffer and one more item.</summary>
    internal void PushOverflow(WorkSlot[] ring, uint first, uint n, uint mask, IWorkItem extra)
    {
        _lock.Enter();
        try
        {
            for (uint i = 0; i < n; i++)
            {
                uint idx = (first + i) & mask;
                PushUnsynchronized(ring[idx].Item!);
                ring[idx].Item = null;
            }

            PushUnsynchronized(extra);
        }
        finally
        {
            _lock.Exit();
        }
    }

    private void Grow()
    {
        var bigger = new WorkSlot[_items.Length * 2];
        int count = _count;
        for (int i = 0; i < count; i++)
        {
            bigger[i].Item = _items[(_head + i) & (_items.Length - 1)].Item;
        }

        _items = bigger;
        _head = 0;
    }

    internal IWorkItem? Pop()
    {
        if (_count == 0)
        {
            return null;
        }

        _lock.Enter();
        try
        {
            return PopUnsynchronized();
        }
        finally
        {
            _lock.Exit();
        }
    }

    private IWorkItem? PopUnsynchronized()
    {
        int count = _count;
        if (count == 0)
        {
            return null;
        }

        IWorkItem? item = _items[_head].Item;
        _items[_head].Item = null;
        _head = (_head + 1) & (_items.Length - 1);
        _count = count - 1;
        return item;
    }

    /// <summary>
    /// Pops up to <paramref name="max"/> items under one lock into <paramref name="into"/>; returns how many.
    /// </summary>
    internal int PopBatch(WorkSlot[] into, int max)
    {
        if (_count == 0)
        {
            return 0;
        }

        _lock.Enter();
        try
        {
            int n = Math.Min(max, _count);
            for (int i = 0; i < n; i++)
            {
                into[i].Item = PopUnsynchronized();
            }

            return n;
        }
        finally
        {
            _lock.Exit();
        }
    }
}
