using Kyoto.Scheduling;
using Kyoto.Tasks;
using Kyoto.Timing;

namespace Kyoto.Time;

/// <summary>
/// Time on the current runtime (Tokio's <c>tokio::time</c>): sleeps, intervals, timeouts, and control of a
/// paused clock for tests. Timers live in the runtime's timer wheel; an idle worker sleeps until the next
/// deadline and fires it itself, and no timer ever fires before its deadline.
/// </summary>
/// <example>
/// <code>
/// await KyotoTime.Sleep(TimeSpan.FromMilliseconds(50));
/// int value = await KyotoTime.Timeout(TimeSpan.FromSeconds(1), ct =&gt; FetchAsync(ct));
/// </code>
/// </example>
public static class KyotoTime
{
    private static TimeDriver Driver => RuntimeHandle.Current.Scheduler.Time;

    /// <summary>Waits until <paramref name="duration"/> has passed. A zero or negative duration completes at once.</summary>
    /// <remarks><b>Cancel safety:</b> cancelling loses nothing; the timer leaves the wheel.</remarks>
    /// <exception cref="InvalidOperationException">There is no current runtime.</exception>
    public static Sleep Sleep(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        TimeDriver driver = Driver;
        return StartSleep(driver, driver.Clock.Now() + (duration < TimeSpan.Zero ? TimeSpan.Zero : duration), cancellationToken);
    }

    /// <summary>Waits until <paramref name="deadline"/>. A deadline in the past completes at once.</summary>
    /// <remarks><b>Cancel safety:</b> cancelling loses nothing; the timer leaves the wheel.</remarks>
    /// <exception cref="InvalidOperationException">There is no current runtime.</exception>
    public static Sleep SleepUntil(Instant deadline, CancellationToken cancellationToken = default)
        => StartSleep(Driver, deadline, cancellationToken);

    private static Sleep StartSleep(TimeDriver driver, Instant deadline, CancellationToken cancellationToken)
    {
        Coop.ThrowIfAborted();
        SleepSource source = SleepSource.Rent();
        var sleep = new Sleep(source);
        source.Start(driver, deadline, cancellationToken);
        return sleep;
    }

    /// <summary>An interval whose first tick is now and whose ticks are <paramref name="period"/> apart.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="period"/> is zero or negative.</exception>
    public static Interval Interval(TimeSpan period)
    {
        TimeDriver driver = Driver;
        return new Interval(driver, driver.Clock.Now(), period);
    }

    /// <summary>An interval whose first tick is at <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="period"/> is zero or negative.</exception>
    public static Interval IntervalAt(Instant start, TimeSpan period) => new(Driver, start, period);

    /// <summary>
    /// Runs <paramref name="operation"/> with a token that is cancelled if it has not completed within
    /// <paramref name="timeout"/>; then throws <see cref="ElapsedException"/>. If the operation completes
    /// (even late, ignoring its token), its result wins.
    /// </summary>
    /// <remarks>
    /// An operation that completes synchronously costs no timer. <b>Cancel safety:</b> that of the operation.
    /// </remarks>
    /// <exception cref="ElapsedException">The timeout passed first.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<T> Timeout<T>(TimeSpan timeout, Func<CancellationToken, ValueTask<T>> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return TimeoutCore(Driver, deadline: null, timeout, operation, cancellationToken);
    }

    /// <summary>Like <see cref="Timeout{T}(TimeSpan, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/> with a deadline.</summary>
    /// <exception cref="ElapsedException">The deadline passed first.</exception>
    public static ValueTask<T> TimeoutAt<T>(Instant deadline, Func<CancellationToken, ValueTask<T>> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return TimeoutCore(Driver, deadline, TimeSpan.Zero, operation, cancellationToken);
    }

    /// <summary>Like <see cref="Timeout{T}(TimeSpan, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/> for an operation without a result.</summary>
    /// <exception cref="ElapsedException">The timeout passed first.</exception>
    public static async ValueTask Timeout(TimeSpan timeout, Func<CancellationToken, ValueTask> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        await Timeout(timeout, async ct =>
        {
            await operation(ct).ConfigureAwait(true);
            return true;
        }, cancellationToken).ConfigureAwait(true);
    }

    /// <summary>
    /// The deadline is <paramref name="deadline"/>, or now + <paramref name="timeout"/> when null. The clock is
    /// read only when the operation goes pending: a ready operation costs no clock read and no timer.
    /// </summary>
    private static ValueTask<T> TimeoutCore<T>(TimeDriver driver, Instant? deadline, TimeSpan timeout, Func<CancellationToken, ValueTask<T>> operation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        bool elapsed = deadline is { } at ? at <= driver.Clock.Now() : timeout <= TimeSpan.Zero;
        if (elapsed)
        {
            // Already elapsed: the operation still gets a chance to complete synchronously.
            ValueTask<T> immediate = operation(new CancellationToken(canceled: true));
            if (immediate.IsCompletedSuccessfully)
            {
                return immediate;
            }

            return AwaitElapsed(immediate, timeout);
        }

        var guard = TimeoutGuard.Rent(driver, cancellationToken);
        ValueTask<T> pending;
        try
        {
            pending = operation(guard.Token);
        }
        catch
        {
            guard.Release();
            throw;
        }

        if (pending.IsCompleted)
        {
            guard.Release();
            return pending;
        }

        guard.Arm(deadline ?? driver.Clock.Now() + timeout);
        return AwaitWithGuard(pending, guard, timeout, cancellationToken);
    }

    private static async ValueTask<T> AwaitElapsed<T>(ValueTask<T> pending, TimeSpan timeout)
    {
        try
        {
            return await pending.ConfigureAwait(true);
        }
        catch (OperationCanceledException)
        {
            throw new ElapsedException(timeout);
        }
    }

    private static async ValueTask<T> AwaitWithGuard<T>(ValueTask<T> pending, TimeoutGuard guard, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await pending.ConfigureAwait(true);
        }
        catch (OperationCanceledException) when (guard.Fired && !cancellationToken.IsCancellationRequested)
        {
            throw new ElapsedException(timeout);
        }
        finally
        {
            guard.Release();
        }
    }

    /// <summary>Pauses the current runtime's clock: time stands still until advanced or resumed.</summary>
    public static void Pause() => RuntimeHandle.Current.Scheduler.Clock.Pause();

    /// <summary>Resumes the current runtime's clock from where it stood.</summary>
    public static void Resume() => RuntimeHandle.Current.Scheduler.Clock.Resume();

    /// <summary>
    /// Moves the paused clock forward by <paramref name="duration"/>, fires the timers that come due, and
    /// yields so that the tasks they wake run before this returns.
    /// </summary>
    /// <exception cref="InvalidOperationException">The clock is not paused.</exception>
    public static async Task AdvanceAsync(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        Scheduler scheduler = RuntimeHandle.Current.Scheduler;
        scheduler.Clock.Advance(duration);
        scheduler.Time.PollIfFree();
        scheduler.Time.Wake();
        await KyotoTask.Yield();
    }

    /// <summary>True if the current runtime's clock is paused.</summary>
    public static bool IsPaused => RuntimeHandle.Current.Scheduler.Clock.IsPaused;
}
