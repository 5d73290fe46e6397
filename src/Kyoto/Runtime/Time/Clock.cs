using System.Diagnostics;
using Kyoto.Scheduling;
using Kyoto.Time;

namespace Kyoto.Timing;

/// <summary>
/// A runtime's clock: the system's monotonic clock, or, once paused, a virtual time that moves only when
/// advanced (by hand, or automatically to the next timer when the runtime is idle).
/// </summary>
/// <remarks>
/// Invariants: the state is one immutable <see cref="State"/> swapped atomically under <see cref="_lock"/>, so
/// readers take one volatile read and never see a torn pair. Time never goes backwards: resuming continues from
/// the frozen instant.
/// </remarks>
internal sealed class Clock
{
    private readonly Lock _lock = new();
    private volatile State _state;

    /// <summary>Paused: <see cref="Frozen"/> is now. Running: now is the system clock plus <see cref="Offset"/>.</summary>
    private sealed record State(bool Paused, long Frozen, long Offset);

    internal Clock(bool startPaused)
    {
        long now = Stopwatch.GetTimestamp();
        Origin = now;
        _state = new State(startPaused, now, 0);
    }

    /// <summary>The timestamp the runtime started at: wheel time 0.</summary>
    internal long Origin { get; }

    internal bool IsPaused => _state.Paused;

    /// <summary>The clock of the runtime the calling code runs on, if any.</summary>
    internal static Clock? Current => RuntimeHandle.TryCurrent?.Scheduler.Clock;

    internal Instant Now()
    {
        State s = _state;
        return new Instant(s.Paused ? s.Frozen : Stopwatch.GetTimestamp() + s.Offset);
    }

    /// <summary>Milliseconds since <see cref="Origin"/>, rounded down (the wheel's "now").</summary>
    internal ulong NowMs() => ToMsFloor(Now());

    internal ulong ToMsFloor(Instant instant)
    {
        long delta = instant.Timestamp - Origin;
        // Divided first, as ToMsCeil does: delta * 1000 overflows a long after 106.75 days at a 1 GHz frequency
        // (Linux's), which put every timer into a slot years away.
        return delta <= 0 ? 0 : (ulong)(delta / (Stopwatch.Frequency / 1000));
    }

    /// <summary>Milliseconds since <see cref="Origin"/>, rounded up: a timer at this tick is never early.</summary>
    internal ulong ToMsCeil(Instant instant)
    {
        long delta = instant.Timestamp - Origin;
        if (delta <= 0)
        {
            return 0;
        }

        ulong ms = (ulong)(delta / (Stopwatch.Frequency / 1000));
        return ms * (ulong)(Stopwatch.Frequency / 1000) == (ulong)delta ? ms : ms + 1;
    }

    /// <summary>The instant of a wheel millisecond.</summary>
    internal Instant FromMs(ulong ms) => new(Origin + (long)ms * (Stopwatch.Frequency / 1000));

    internal void Pause()
    {
        lock (_lock)
        {
            State s = _state;
            if (!s.Paused)
            {
                _state = new State(true, Stopwatch.GetTimestamp() + s.Offset, 0);
            }
        }
    }

    internal void Resume()
    {
        lock (_lock)
        {
            State s = _state;
            if (s.Paused)
            {
                _state = new State(false, 0, s.Frozen - Stopwatch.GetTimestamp());
            }
        }
    }

    /// <summary>Moves paused time forward by <paramref name="duration"/>.</summary>
    internal void Advance(TimeSpan duration)
    {
        lock (_lock)
        {
            State s = _state;
            if (!s.Paused)
            {
                throw new InvalidOperationException("The clock can only be advanced while it is paused: call Pause() first.");
            }

            _state = s with { Frozen = (s.Frozen + Instant.ToTimestamps(duration)) };
        }
    }

    /// <summary>Moves paused time forward to <paramref name="target"/> if that is later.</summary>
    internal void AdvanceTo(Instant target)
    {
        lock (_lock)
        {
            State s = _state;
            if (s.Paused && target.Timestamp > s.Frozen)
            {
                _state = s with { Frozen = target.Timestamp };
            }
        }
    }
}
