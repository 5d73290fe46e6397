using System.Diagnostics;
using Kyoto.Scheduling;
using Kyoto.Time;

namespace Kyoto.Timing;

/// <summary>
/// A runtime's clock as a <see cref="TimeProvider"/>: timestamps and timers follow the runtime's (possibly
/// paused) clock, so <c>Task.Delay(t, provider)</c>, <c>new CancellationTokenSource(t, provider)</c> and
/// any library that takes a <see cref="TimeProvider"/> run on virtual time in tests.
/// </summary>
internal sealed class KyotoTimeProvider(Scheduler scheduler) : TimeProvider
{
    /// <inheritdoc />
    public override long GetTimestamp() => scheduler.Clock.Now().Timestamp;

    /// <inheritdoc />
    public override long TimestampFrequency => Stopwatch.Frequency;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow()
        => DateTimeOffset.UtcNow + (scheduler.Clock.Now() - new Instant(Stopwatch.GetTimestamp()));

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new ProviderTimer(scheduler, callback, state, dueTime, period);
    }
}

/// <summary>
/// An <see cref="ITimer"/> on the timer wheel. Its callback runs as a work item on the runtime (never inside
/// the driver), so while it is queued the runtime is not idle and a paused clock does not jump past it.
/// </summary>
/// <remarks>Fields other than the node's links are guarded by <c>this</c>; the callback runs outside the lock.</remarks>
internal sealed class ProviderTimer : TimerNode, ITimer
{
    private static readonly Action<object?> s_run = static s => ((ProviderTimer)s!).Run();

    private readonly Scheduler _scheduler;
    private readonly TimerCallback _callback;
    private readonly object? _state;
    private TimeSpan _period;
    private bool _disposed;

    internal ProviderTimer(Scheduler scheduler, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _scheduler = scheduler;
        _callback = callback;
        _state = state;
        Change(dueTime, period);
    }

    /// <inheritdoc />
    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        Validate(dueTime, nameof(dueTime));
        Validate(period, nameof(period));
        lock (this)
        {
            if (_disposed)
            {
                return false;
            }

            _period = period;
            _scheduler.Time.Unregister(this);
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                _scheduler.Time.Register(this, _scheduler.Clock.Now() + dueTime);
            }
        }

        return true;
    }

    private static void Validate(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be non-negative or Timeout.InfiniteTimeSpan.");
        }
    }

    internal override void Fire()
        => _scheduler.Schedule(ActionWorkItem.Rent(s_run, this, owner: null, _scheduler), isYield: false);

    private void Run()
    {
        lock (this)
        {
            if (_disposed)
            {
                return;
            }
        }

        _callback(_state);
        lock (this)
        {
            if (!_disposed && _period != Timeout.InfiniteTimeSpan && _period > TimeSpan.Zero && !IsArmed)
            {
                _scheduler.Time.Register(this, _scheduler.Clock.Now() + _period);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (this)
        {
            _disposed = true;
            _scheduler.Time.Unregister(this);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
