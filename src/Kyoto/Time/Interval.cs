using System.Threading.Tasks.Sources;
using Kyoto.Timing;

namespace Kyoto.Time;

/// <summary>
/// Ticks at a fixed period (Tokio's <c>Interval</c>). The first tick completes at once (at the start
/// instant); later ticks follow the schedule, and <see cref="MissedTickBehavior"/> decides how to catch up
/// when the consumer falls behind.
/// </summary>
/// <remarks>
/// One tick may be awaited at a time. Ticking allocates nothing.
/// <para><b>Cancel safety:</b> cancelling <see cref="TickAsync"/> loses no tick: the next call waits for the same
/// deadline.</para>
/// </remarks>
/// <example>
/// <code>
/// using var interval = KyotoTime.Interval(TimeSpan.FromSeconds(1));
/// while (true) { Instant tick = await interval.TickAsync(ct); Report(tick); }
/// </code>
/// </example>
public sealed class Interval : IDisposable, IValueTaskSource<Instant>
{
    private static readonly TimeSpan MissedThreshold = TimeSpan.FromMilliseconds(5);

    private readonly TimeDriver _driver;
    private readonly SleepSource _source = new(pooled: false);
    private Instant _next;
    private Instant? _restartAfterTick; // a reset that came after the pending tick's sleep fired
    private bool _pending;
    private bool _disposed;

    internal Interval(TimeDriver driver, Instant start, TimeSpan period)
    {
        if (period <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "The period of an interval must be positive.");
        }

        _driver = driver;
        _next = start;
        Period = period;
    }

    /// <summary>The time between ticks.</summary>
    public TimeSpan Period { get; }

    /// <summary>How missed ticks are handled. Defaults to <see cref="Time.MissedTickBehavior.Burst"/>.</summary>
    public MissedTickBehavior MissedTickBehavior { get; set; } = MissedTickBehavior.Burst;

    /// <summary>The deadline of the next tick.</summary>
    public Instant NextTick => _next;

    /// <summary>
    /// Waits for the next tick and returns its scheduled instant (which may be earlier than now if ticks were
    /// missed).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another tick is being awaited.</exception>
    /// <exception cref="ObjectDisposedException">The interval was disposed.</exception>
    public ValueTask<Instant> TickAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pending)
        {
            throw new InvalidOperationException("An Interval can be awaited by one caller at a time.");
        }

        if (_restartAfterTick is { } restart)
        {
            // A reset that came (from another task) after the last tick had been taken: it applies now.
            _restartAfterTick = null;
            _next = restart;
        }

        Instant now = _driver.Clock.Now();
        if (_next <= now)
        {
            return new ValueTask<Instant>(TakeTick(now));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Instant>(cancellationToken);
        }

        _pending = true;
        _source.Reset();
        _source.Start(_driver, _next, cancellationToken);

        // The interval itself is the source of the returned value task: it forwards to the sleep and takes the
        // tick when the result is read, so a pending tick allocates nothing.
        return new ValueTask<Instant>(this, _source.Version);
    }

    ValueTaskSourceStatus IValueTaskSource<Instant>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<Instant>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _source.OnCompleted(continuation, state, token, flags);

    Instant IValueTaskSource<Instant>.GetResult(short token)
    {
        try
        {
            _source.GetResult(token);
        }
        finally
        {
            _pending = false;
        }

        return TakeTick(_driver.Clock.Now());
    }

    private Instant TakeTick(Instant now)
    {
        Instant tick = _next;
        if (now - tick > MissedThreshold)
        {
            _next = MissedTickBehavior switch
            {
                MissedTickBehavior.Delay => now + Period,
                MissedTickBehavior.Skip => now + (Period - TimeSpan.FromTicks((now - tick).Ticks % Period.Ticks)),
                _ => tick + Period,
            };
        }
        else
        {
            _next = tick + Period;
        }

        if (_restartAfterTick is { } restart)
        {
            _restartAfterTick = null;
            _next = restart;
        }

        return tick;
    }

    /// <summary>Restarts the schedule: the next tick is one period from now.</summary>
    public void Reset() => ResetAt(_driver.Clock.Now() + Period);

    /// <summary>Makes the next tick complete at once, then continues one period apart from now.</summary>
    public void ResetImmediately() => ResetAt(_driver.Clock.Now());

    /// <summary>Makes the next tick happen at <paramref name="deadline"/>.</summary>
    public void ResetAt(Instant deadline)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pending && !_source.Reset(_source.Version, deadline))
        {
            // The pending tick's sleep has already fired: that tick is delivered as it came due, and the schedule
            // restarts at the deadline after it. (Moving _next now handed the waiting task a future instant at once.)
            _restartAfterTick = deadline;
            return;
        }

        _next = deadline;
    }

    /// <summary>Stops the interval; a pending tick throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (_pending)
            {
                _source.Cancel();
            }
        }
    }
}
