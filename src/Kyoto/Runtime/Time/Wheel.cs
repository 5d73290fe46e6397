using System.Diagnostics;
using System.Numerics;

namespace Kyoto.Timing;

/// <summary>
/// A hierarchical timing wheel (Tokio's design): 6 levels of 64 slots, 1 ms per slot at level 0, so level
/// <c>n</c> slots span <c>64^n</c> ms and the wheel covers 64^6 ms (about 2.2 years). Insert and cancel are
/// O(1); finding the next deadline is O(levels) with one bit scan per level.
/// </summary>
/// <remarks>
/// <para>
/// <c>level = significant bit of (elapsed XOR when) / 6</c>: a timer sits at the lowest level where its
/// deadline and the wheel's current time agree on all higher digits, so every level-0 timer is due before
/// any level-1 timer, and so on. When a slot above level 0 comes due, its timers cascade down: each is
/// re-inserted relative to the slot's start, or fires if its deadline has come.
/// </para>
/// <para>Not thread-safe: <see cref="TimeDriver"/> calls it under its lock.</para>
/// </remarks>
internal sealed class Wheel
{
    internal const int NumLevels = 6;
    private const int SlotBits = 6;
    private const int SlotsPerLevel = 1 << SlotBits;
    private const ulong SlotMask = SlotsPerLevel - 1;

    /// <summary>The largest deadline the wheel holds; later ones are clamped (about 2.2 years ahead).</summary>
    internal const ulong MaxDuration = (1UL << (SlotBits * NumLevels)) - 1;

    private readonly TimerNode?[] _slots = new TimerNode?[NumLevels * SlotsPerLevel];
    private readonly ulong[] _occupied = new ulong[NumLevels];
    private ulong _elapsed;
    private int _count;

    /// <summary>The wheel's current time, in ms: every timer due at or before it has fired.</summary>
    internal ulong Elapsed => _elapsed;

    /// <summary>Timers in the wheel.</summary>
    internal int Count => _count;

    /// <summary>
    /// Inserts <paramref name="node"/> due at <paramref name="when"/> ms. Returns false, without inserting,
    /// if that is not after <see cref="Elapsed"/> (the caller fires it at once).
    /// </summary>
    internal bool TryInsert(TimerNode node, ulong when)
    {
        Debug.Assert(!node.IsInWheel, "a node is in the wheel once");
        if (when <= _elapsed)
        {
            return false;
        }

        when = Math.Min(when, _elapsed + MaxDuration);
        node.When = when;
        Link(node, LevelFor(_elapsed, when));
        _count++;
        return true;
    }

    private void Link(TimerNode node, int level)
    {
        int slot = (int)((node.When >> (level * SlotBits)) & SlotMask);
        int index = (level * SlotsPerLevel) + slot;
        node.Level = level;
        node.Prev = null;
        node.Next = _slots[index];
        if (node.Next is not null)
        {
            node.Next.Prev = node;
        }

        _slots[index] = node;
        _occupied[level] |= 1UL << slot;
    }

    /// <summary>Removes <paramref name="node"/> if it is in the wheel; false otherwise.</summary>
    internal bool Remove(TimerNode node)
    {
        if (!node.IsInWheel)
        {
            return false;
        }

        int level = node.Level;
        int slot = (int)((node.When >> (level * SlotBits)) & SlotMask);
        int index = (level * SlotsPerLevel) + slot;
        if (node.Prev is not null)
        {
            node.Prev.Next = node.Next;
        }
        else
        {
            _slots[index] = node.Next;
        }

        if (node.Next is not null)
        {
            node.Next.Prev = node.Prev;
        }

        if (_slots[index] is null)
        {
            _occupied[level] &= ~(1UL << slot);
        }

        node.Prev = null;
        node.Next = null;
        node.Level = -1;
        _count--;
        return true;
    }

    private static int LevelFor(ulong elapsed, ulong when)
    {
        ulong masked = (elapsed ^ when) | SlotMask;
        int significant = 63 - BitOperations.LeadingZeroCount(masked);
        return Math.Min(significant / SlotBits, NumLevels - 1);
    }

    /// <summary>The next time, in ms, at which <see cref="Advance"/> has work to do; null when empty.</summary>
    internal ulong? NextExpiration()
    {
        if (_count == 0)
        {
            return null;
        }

        for (int level = 0; level < NumLevels; level++)
        {
            if (NextExpiration(level, out _, out ulong deadline))
            {
                return deadline;
            }
        }

        return null;
    }

    private bool NextExpiration(int level, out int slot, out ulong deadline)
    {
        ulong occupied = _occupied[level];
        if (occupied == 0)
        {
            slot = 0;
            deadline = 0;
            return false;
        }

        int shift = level * SlotBits;
        int nowSlot = (int)((_elapsed >> shift) & SlotMask);

        // The top level's current slot holds only timers of its next turn (a deadline in the current top slot's
        // range differs from now below the top level, so it sits lower): scanning from it would put it first
        // and hide the due slots after it behind a whole turn. There the scan starts at the next slot.
        int start = level == NumLevels - 1 ? (nowSlot + 1) % SlotsPerLevel : nowSlot;
        int zeros = BitOperations.TrailingZeroCount(BitOperations.RotateRight(occupied, start));
        slot = (zeros + start) % SlotsPerLevel;

        ulong slotRange = 1UL << shift;
        ulong levelRange = slotRange << SlotBits;
        deadline = (_elapsed & ~(levelRange - 1)) + ((ulong)slot * slotRange);
        if (deadline <= _elapsed)
        {
            if (level == NumLevels - 1)
            {
                // Only the top level holds timers beyond its current turn (its level index is capped):
                // a slot at or before the current one belongs to the next turn.
                deadline += levelRange;
            }
            else
            {
                // The current slot of a lower level: its timers are due for cascading now.
                deadline = _elapsed;
            }
        }

        return true;
    }

    /// <summary>
    /// Moves the wheel to <paramref name="now"/> ms, appending every timer due at or before it to
    /// <paramref name="expired"/> (removed from the wheel) in deadline order per slot.
    /// </summary>
    internal void Advance(ulong now, List<TimerNode> expired)
    {
        while (_count > 0)
        {
            int level = -1;
            int slot = 0;
            ulong deadline = 0;
            for (int l = 0; l < NumLevels; l++)
            {
                if (NextExpiration(l, out slot, out deadline))
                {
                    level = l;
                    break;
                }
            }

            if (level < 0 || deadline > now)
            {
                break;
            }

            // Take the whole slot, then fire or cascade each timer relative to the slot's start.
            int index = (level * SlotsPerLevel) + slot;
            TimerNode? node = _slots[index];
            _slots[index] = null;
            _occupied[level] &= ~(1UL << slot);
            if (deadline > _elapsed)
            {
                _elapsed = deadline;
            }

            while (node is not null)
            {
                TimerNode? next = node.Next;
                node.Prev = null;
                node.Next = null;
                node.Level = -1;
                if (node.When <= _elapsed)
                {
                    _count--;
                    expired.Add(node);
                }
                else
                {
                    Link(node, LevelFor(_elapsed, node.When));
                }

                node = next;
            }
        }

        if (now > _elapsed)
        {
            _elapsed = now;
        }
    }
}
