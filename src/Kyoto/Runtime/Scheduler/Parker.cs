namespace Kyoto.Scheduling;

/// <summary>
/// Parks one worker thread until it is unparked, with a token so that an unpark that comes first is not lost.
/// </summary>
/// <remarks>
/// <para>States: <c>Empty</c>, <c>Parked</c>, <c>Notified</c>. <see cref="Unpark"/> always leaves
/// <c>Notified</c>; <see cref="Park"/> consumes it. The parked thread moves Empty to Parked while holding the
/// monitor and releases it only inside <see cref="Monitor.Wait(object)"/>, so an unparker that saw Parked and
/// then takes the monitor always pulses a thread that is already waiting.</para>
/// <para>A driver (I/O, timers) plugs in through <see cref="IParkDriver"/>: the worker that wins the driver
/// parks inside it (for example in <c>epoll_wait</c>) instead of on the monitor, and an unpark then wakes
/// the driver. Until a driver is installed, every worker parks on its monitor.</para>
/// <para>No spinning before parking: on two cores it doubled ping-pong latency in the prototype.</para>
/// </remarks>
internal sealed class Parker
{
    private const int Empty = 0;
    private const int Parked = 1;
    private const int Notified = 2;
    private const int ParkedInDriver = 3;

    private readonly object _monitor = new();
    private readonly IParkDriver? _driver;
    private int _state;

    internal Parker(IParkDriver? driver) => _driver = driver;

    /// <summary>Parks until unparked or until <paramref name="timeout"/> passes (infinite if negative).</summary>
    internal void Park(TimeSpan timeout)
    {
        // Fast path: a pending notification.
        if (Interlocked.CompareExchange(ref _state, Empty, Notified) == Notified)
        {
            return;
        }

        if (timeout == TimeSpan.Zero)
        {
            _driver?.Poll(this);
            return;
        }

        if (_driver is not null && _driver.TryLock())
        {
            try
            {
                ParkInDriver(timeout);
            }
            finally
            {
                _driver.Unlock();
            }

            return;
        }

        ParkOnMonitor(timeout);
    }

    private void ParkInDriver(TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref _state, ParkedInDriver, Empty) != Empty)
        {
            // Notified meanwhile.
            Volatile.Write(ref _state, Empty);
            return;
        }

        _driver!.Park(timeout, this);
        Interlocked.Exchange(ref _state, Empty);
    }

    private void ParkOnMonitor(TimeSpan timeout)
    {
        lock (_monitor)
        {
            if (Interlocked.CompareExchange(ref _state, Parked, Empty) != Empty)
            {
                // Notified between the fast path and here: consume it.
                Volatile.Write(ref _state, Empty);
                return;
            }

            int ms = timeout < TimeSpan.Zero ? Timeout.Infinite : (int)Math.Min(int.MaxValue - 1, Math.Ceiling(timeout.TotalMilliseconds));
            while (true)
            {
                bool signalled = Monitor.Wait(_monitor, ms);
                if (Interlocked.CompareExchange(ref _state, Empty, Notified) == Notified)
                {
                    return;
                }

                if (!signalled && ms != Timeout.Infinite)
                {
                    // Timed out: back to Empty unless a notification raced in.
                    if (Interlocked.CompareExchange(ref _state, Empty, Parked) == Parked)
                    {
                        return;
                    }

                    Volatile.Write(ref _state, Empty);
                    return;
                }
                // Spurious wake-up: wait again.
            }
        }
    }

    /// <summary>Wakes the parked thread, or makes its next <see cref="Park"/> return at once.</summary>
    internal void Unpark()
    {
        switch (Interlocked.Exchange(ref _state, Notified))
        {
            case Parked:
                lock (_monitor)
                {
                    Monitor.Pulse(_monitor);
                }

                break;
            case ParkedInDriver:
                _driver!.Wake();
                break;
        }
    }
}

/// <summary>
/// A driver that a worker can park inside (the I/O reactor or the timer wheel). Exactly one worker holds it
/// at a time (<see cref="TryLock"/>); the others park on their own monitors.
/// </summary>
internal interface IParkDriver
{
    /// <summary>Tries to become the thread that parks in the driver.</summary>
    bool TryLock();

    /// <summary>Releases the driver.</summary>
    void Unlock();

    /// <summary>Blocks in the driver until an event, <see cref="Wake"/>, or the timeout (infinite if negative).</summary>
    void Park(TimeSpan timeout, Parker parker);

    /// <summary>Processes ready events without blocking, if the driver is free.</summary>
    void Poll(Parker parker);

    /// <summary>Interrupts a thread blocked in <see cref="Park"/>.</summary>
    void Wake();
}
