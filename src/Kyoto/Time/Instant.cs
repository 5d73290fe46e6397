using System.Diagnostics;
using Kyoto.Timing;

namespace Kyoto.Time;

/// <summary>
/// A point on a monotonic clock, for measuring durations and setting deadlines (Tokio's <c>Instant</c>).
/// Inside a runtime whose clock is paused, <see cref="Now"/> is the runtime's virtual time.
/// </summary>
public readonly struct Instant : IEquatable<Instant>, IComparable<Instant>
{
    private static readonly double s_ticksPerTimestamp = (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency;
    private static readonly double s_timestampsPerTick = Stopwatch.Frequency / (double)TimeSpan.TicksPerSecond;

    internal Instant(long timestamp) => Timestamp = timestamp;

    /// <summary>The raw <see cref="Stopwatch"/> timestamp.</summary>
    internal long Timestamp { get; }

    /// <summary>
    /// The current instant: the clock of the current runtime (virtual while paused), or the system's monotonic
    /// clock outside any runtime.
    /// </summary>
    public static Instant Now => Clock.Current?.Now() ?? new Instant(Stopwatch.GetTimestamp());

    /// <summary>Time passed since this instant (zero if it is in the future).</summary>
    public TimeSpan Elapsed => Now.Since(this);

    /// <summary>The duration from <paramref name="earlier"/> to this instant, zero if it is earlier.</summary>
    public TimeSpan Since(Instant earlier) => Timestamp <= earlier.Timestamp ? TimeSpan.Zero : ToTimeSpan(Timestamp - earlier.Timestamp);

    internal static TimeSpan ToTimeSpan(long timestamps) => new((long)(timestamps * s_ticksPerTimestamp));

    internal static long ToTimestamps(TimeSpan duration)
    {
        double t = duration.Ticks * s_timestampsPerTick;
        return t >= long.MaxValue / 2 ? long.MaxValue / 2 : (long)Math.Ceiling(t);
    }

    /// <summary>The instant <paramref name="duration"/> after <paramref name="instant"/> (saturating).</summary>
    public static Instant operator +(Instant instant, TimeSpan duration)
    {
        long delta = ToTimestamps(duration);
        long sum = instant.Timestamp + delta;
        if (delta > 0 && sum < instant.Timestamp)
        {
            sum = long.MaxValue;
        }

        return new Instant(sum);
    }

    /// <summary>The instant <paramref name="duration"/> before <paramref name="instant"/>.</summary>
    public static Instant operator -(Instant instant, TimeSpan duration) => new(instant.Timestamp - ToTimestamps(duration));

    /// <summary>The signed duration between two instants.</summary>
    public static TimeSpan operator -(Instant later, Instant earlier) => ToTimeSpan(later.Timestamp - earlier.Timestamp);

    /// <summary>Compares instants.</summary>
    public static bool operator <(Instant a, Instant b) => a.Timestamp < b.Timestamp;

    /// <summary>Compares instants.</summary>
    public static bool operator >(Instant a, Instant b) => a.Timestamp > b.Timestamp;

    /// <summary>Compares instants.</summary>
    public static bool operator <=(Instant a, Instant b) => a.Timestamp <= b.Timestamp;

    /// <summary>Compares instants.</summary>
    public static bool operator >=(Instant a, Instant b) => a.Timestamp >= b.Timestamp;

    /// <summary>Compares instants.</summary>
    public static bool operator ==(Instant a, Instant b) => a.Timestamp == b.Timestamp;

    /// <summary>Compares instants.</summary>
    public static bool operator !=(Instant a, Instant b) => a.Timestamp != b.Timestamp;

    /// <inheritdoc />
    public bool Equals(Instant other) => Timestamp == other.Timestamp;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Instant other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => Timestamp.GetHashCode();

    /// <inheritdoc />
    public int CompareTo(Instant other) => Timestamp.CompareTo(other.Timestamp);

    /// <inheritdoc />
    public override string ToString() => $"Instant({ToTimeSpan(Timestamp)})";
}
