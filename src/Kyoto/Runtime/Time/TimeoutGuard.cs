using Kyoto.Time;

namespace Kyoto.Timing;

/// <summary>
/// The timer and token behind <see cref="KyotoTime.Timeout{T}(TimeSpan, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>:
/// a wheel node that cancels a <see cref="CancellationTokenSource"/> when the deadline passes. Pooled per
/// thread together with its token source.
/// </summary>
/// <remarks>
/// A guard is pooled again only if its timer never fired (<see cref="TimeDriver.Unregister(TimerNode)"/> removed it) and
/// its source resets; a guard whose timer fired, or is firing right now on the driver thread, is left to the
/// GC, so a late <see cref="CancellationTokenSource.Cancel()"/> can never hit a reused source.
/// </remarks>
internal sealed class TimeoutGuard : TimerNode
{
    private const int MaxPooledPerThread = 64;

    [ThreadStatic]
    private static TimeoutGuard? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    private readonly CancellationTokenSource _cts = new();
    private TimeoutGuard? _nextFree;
    private TimeDriver? _driver;
    private CancellationTokenRegistration _link;
    private volatile bool _fired;
    private bool _armed;

    internal CancellationToken Token => _cts.Token;

    /// <summary>True once the deadline passed and the token was cancelled by it.</summary>
    internal bool Fired => _fired;

    internal static TimeoutGuard Rent(TimeDriver driver, CancellationToken linked)
    {
        TimeoutGuard? guard = t_free;
        if (guard is not null)
        {
            t_free = guard._nextFree;
            t_freeCount--;
            guard._nextFree = null;
        }
        else
        {
            guard = new TimeoutGuard();
        }

        guard._driver = driver;
        guard._fired = false;
        guard._armed = false;
        if (linked.CanBeCanceled)
        {
            guard._link = linked.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), guard._cts);
        }

        return guard;
    }

    internal void Arm(Instant deadline)
    {
        _armed = true;
        _driver!.Register(this, deadline);
    }

    internal override void Fire()
    {
        _fired = true;
        _cts.Cancel();
    }

    internal void Release()
    {
        // Armed: only a successful removal from the wheel proves the timer is not firing now.
        bool neverFired = !_armed || _driver!.Unregister(this);
        _link.Dispose();
        _link = default;
        _driver = null;
        if (neverFired && _cts.TryReset() && t_freeCount < MaxPooledPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
    }
}
