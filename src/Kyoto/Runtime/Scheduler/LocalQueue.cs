using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kyoto.Scheduling;

/// <summary>
/// A worker's bounded run queue: one producer (the owner), many consumers (the owner pops, other workers
/// steal half). The design follows Tokio's multi-thread queue.
/// </summary>
/// <remarks>
/// <para>Invariants:</para>
/// <list type="number">
/// <item><c>_head</c> packs two 32-bit positions: <c>steal</c> (high) and <c>real</c> (low). Positions wrap.
/// When no steal is in progress they are equal. A stealer claims <c>[real, real + n)</c> by moving
/// <c>real</c> forward while leaving <c>steal</c> behind; the slots <c>[steal, real)</c> then belong to that
/// stealer until it sets <c>steal = real</c>. Only one steal can be in progress at a time.</item>
/// <item><c>_tail</c> is written only by the owner, with release semantics after the slot is written;
/// readers acquire it before reading slots.</item>
/// <item>The owner writes a slot only when <c>tail - steal &lt; Capacity</c>, so it never overwrites slots a
/// stealer is still copying.</item>
/// <item>When the queue is full and no steal is in progress, the owner moves half of it, plus the new item,
/// to the injection queue in one batch (one lock acquisition).</item>
/// <item>Slots are cleared when their item leaves, so the queue keeps nothing alive.</item>
/// </list>
/// </remarks>
internal sealed class LocalQueue
{
    /// <summary>Tokio's capacity: large enough to absorb bursts, small enough that a steal is cheap.</summary>
    internal const int DefaultCapacity = 256;

    private readonly WorkSlot[] _buffer;
    private readonly uint _mask;
    private readonly int _capacity;

    // Packed (steal << 32 | real). Written by the owner (pop) and stealers, always by CAS.
    private PaddedLong _head;

    // Written by the owner only.
    private PaddedInt _tail;

    internal LocalQueue(int capacity = DefaultCapacity)
    {
        Debug.Assert(capacity >= 4 && (capacity & (capacity - 1)) == 0, "capacity must be a power of two >= 4");
        _capacity = capacity;
        _mask = (uint)capacity - 1;
        _buffer = new WorkSlot[capacity];
    }

    internal int Capacity => _capacity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pack(uint steal, uint real) => ((ulong)steal << 32) | real;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (uint Steal, uint Real) Unpack(ulong packed) => ((uint)(packed >> 32), (uint)packed);

    /// <summary>Number of items (racy when read by a non-owner).</summary>
    internal int Count
    {
        get
        {
            var (_, real) = Unpack((ulong)Volatile.Read(ref _head.Value));
            uint tail = (uint)Volatile.Read(ref _tail.Value);
            return (int)(tail - real);
        }
    }

    internal bool IsEmpty => Count == 0;

    /// <summary>Free slots, as seen by the owner.</summary>
    internal int RemainingSlots
    {
        get
        {
            var (steal, _) = Unpack((ulong)Volatile.Read(ref _head.Value));
            uint tail = (uint)_tail.Value;
            return _capacity - (int)(tail - steal);
        }
    }

    /// <summary>Pushes at the back. Owner only. Overflows half the queue to <paramref name="inject"/> when full.</summary>
    internal void PushBack(IWorkItem item, InjectQueue inject)
    {
        while (true)
        {
            var (steal, real) = Unpack((ulong)Volatile.Read(ref _head.Value));
            uint tail = (uint)_tail.Value;
            if (tail - steal < (uint)_capacity)
            {
                _buffer[tail & _mask].Item = item;
                Volatile.Write(ref _tail.Value, (int)(tail + 1));
                return;
            }

            if (steal != real)
            {
                // A stealer is making room right now; the overflow batch cannot be claimed. One item to
                // the injection queue keeps the owner from waiting on the stealer.
                inject.Push(item);
                return;
            }

            if (TryPushOverflow(item, real, tail, inject))
            {
                return;
            }
            // A stealer took items between our read and our CAS: there is room now, retry.
        }
    }

    private bool TryPushOverflow(IWorkItem item, uint head, uint tail, InjectQueue inject)
    {
        uint n = (uint)(_capacity / 2);
        Debug.Assert(tail - head == (uint)_capacity, "overflow only when full");
        long prev = (long)Pack(head, head);
        long next = (long)Pack(head + n, head + n);
        if (Interlocked.CompareExchange(ref _head.Value, next, prev) != prev)
        {
            return false;
        }

        // The slots [head, head + n) are ours now; stealers cannot see them any more.
        inject.PushOverflow(_buffer, head, n, _mask, item);
        return true;
    }

    /// <summary>Pops from the front. Owner only.</summary>
    internal IWorkItem? Pop()
    {
        long head = Volatile.Read(ref _head.Value);
        while (true)
        {
            var (steal, real) = Unpack((ulong)head);
            if (real == (uint)_tail.Value)
            {
                return null;
            }

            uint nextReal = real + 1;
            long next = (long)(steal == real ? Pack(nextReal, nextReal) : Pack(steal, nextReal));
            long actual = Interlocked.CompareExchange(ref _head.Value, next, head);
            if (actual == head)
            {
                uint idx = real & _mask;
                IWorkItem? item = _buffer[idx].Item;
                _buffer[idx].Item = null;
                return item;
            }

            head = actual;
        }
    }

    /// <summary>
    /// Steals about half of this queue into <paramref name="dst"/> (owned by the calling thread) and returns
    /// one of the stolen items to run at once, or null if nothing could be stolen.
    /// </summary>
    internal IWorkItem? StealInto(LocalQueue dst)
    {
        uint dstTail = (uint)dst._tail.Value;
        var (dstSteal, _) = Unpack((ulong)Volatile.Read(ref dst._head.Value));
        if (dstTail - dstSteal > (uint)(dst._capacity / 2))
        {
            // The destination has no room for half of a full queue: do not steal.
            return null;
        }

        uint n = StealInto2(dst, dstTail);
        if (n == 0)
        {
            return null;
        }

        // Keep the last stolen item to return; publish the others.
        n--;
        uint retIdx = (dstTail + n) & dst._mask;
        IWorkItem? ret = dst._buffer[retIdx].Item;
        dst._buffer[retIdx].Item = null;
        if (n > 0)
        {
            Volatile.Write(ref dst._tail.Value, (int)(dstTail + n));
        }

        return ret;
    }

    private uint StealInto2(LocalQueue dst, uint dstTail)
    {
        long prevPacked = Volatile.Read(ref _head.Value);
        long nextPacked;
        uint n;
        while (true)
        {
            var (srcSteal, srcReal) = Unpack((ulong)prevPacked);
            if (srcSteal != srcReal)
            {
                return 0; // another worker is stealing from this queue
            }

            uint srcTail = (uint)Volatile.Read(ref _tail.Value);
            n = srcTail - srcReal;
            n -= n / 2;
            if (n == 0)
            {
                return 0;
            }

            nextPacked = (long)Pack(srcSteal, srcReal + n);
            long actual = Interlocked.CompareExchange(ref _head.Value, nextPacked, prevPacked);
            if (actual == prevPacked)
            {
                break;
            }

            prevPacked = actual;
        }

        Debug.Assert(n <= (uint)(_capacity / 2), "steal at most half");
        uint first = Unpack((ulong)nextPacked).Steal;
        for (uint i = 0; i < n; i++)
        {
            uint srcIdx = (first + i) & _mask;
            dst._buffer[(dstTail + i) & dst._mask].Item = _buffer[srcIdx].Item;
            _buffer[srcIdx].Item = null;
        }

        // Release the claimed range: steal catches up with real (which the owner may have moved on).
        prevPacked = nextPacked;
        while (true)
        {
            uint real = Unpack((ulong)prevPacked).Real;
            long next = (long)Pack(real, real);
            long actual = Interlocked.CompareExchange(ref _head.Value, next, prevPacked);
            if (actual == prevPacked)
            {
                return n;
            }

            Debug.Assert(Unpack((ulong)actual).Steal != Unpack((ulong)actual).Real, "steal in progress");
            prevPacked = actual;
        }
    }
}

/// <summary>A long alone on its cache line, so the owner's and the stealers' counters do not false-share.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    [FieldOffset(64)]
    public long Value;
}

/// <summary>An int alone on its cache line.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedInt
{
    [FieldOffset(64)]
    public int Value;
}
