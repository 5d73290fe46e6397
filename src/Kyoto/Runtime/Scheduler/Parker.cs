using System.Diagnostics;
using System.Runtime.InteropServices;
using Kyoto.Native;

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
/// <para>On Linux (x86-64, arm64) the state word lives in native memory and a parked thread sleeps in
/// <c>futex_wait</c> on it: a park and its unpark cost one <c>futex_wait</c> and one <c>futex_wake</c>, where
/// the monitor's lock hand-offs cost more (the echo server's futex calls fell from 6,713 to 4,746 per 50,000
/// requests; BDN's ping-pong and remote-spawn workloads showed no difference beyond this machine's noise). The
/// wait sleeps only while the word still says Parked, so an unpark between the state change and the syscall is
/// not lost.</para>
/// </remarks>
internal sealed unsafe class Parker
{
    private const int Empty = 0;
    private const int Parked = 1;
    private const int Notified = 2;
    private const int ParkedInDriver = 3;

    private static readonly bool s_useFutex = OperatingSystem.IsLinux() && Libc.SysFutex > 0;

    private readonly object _monitor = new();
    private readonly IParkDriver? _driver;

    // The state word: native memory (futex needs a fixed address) on Linux, else this object's own field.
    // Workers live as long as their runtime's process in practice; the word is freed by the finalizer.
    private readonly int* _futexWord;
    private int _stateField;

    internal Parker(IParkDriver? driver)
    {
        _driver = driver;
        if (s_useFutex)
        {
            _futexWord = (int*)NativeMemory.AllocZeroed(sizeof(int));
        }
    }

    ~Parker()
    {
        if (_futexWord != null)
        {
            NativeMemory.Free(_futexWord);
        }
    }

    private ref int StateWord => ref (_futexWord != null ? ref *_futexWord : ref _stateField);

    /// <summary>Parks until unparked or until <paramref name="timeout"/> passes (infinite if negative).</summary>
    internal void Park(TimeSpan timeout)
    {
        // Fast path: a pending notification.
        if (Interlocked.CompareExchange(ref StateWord, Empty, Notified) == Notified)
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

        if (_futexWord != null)
        {
            ParkOnFutex(timeout);
        }
        else
        {
            ParkOnMonitor(timeout);
        }
    }

    private void ParkOnFutex(TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref StateWord, Parked, Empty) != Empty)
        {
            // Notified between the fast path and here: consume it.
            Volatile.Write(ref StateWord, Empty);
            return;
        }

        long deadline = timeout < TimeSpan.Zero ? long.MaxValue : Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Libc.TimeSpec remaining;
            Libc.TimeSpec* limit = null;
            if (deadline != long.MaxValue)
            {
                long left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    // Timed out: back to Empty unless a notification raced in (then consume it).
                    if (Interlocked.CompareExchange(ref StateWord, Empty, Parked) != Parked)
                    {
                        Volatile.Write(ref StateWord, Empty);
                    }

                    return;
                }

                long ns = (long)(left * (1_000_000_000.0 / Stopwatch.Frequency));
                remaining = new Libc.TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
                limit = &remaining;
            }

            // Sleeps only while the word is still Parked: an unpark that came first makes this return at once.
            Libc.FutexWait(_futexWord, Parked, limit);
            if (Interlocked.CompareExchange(ref StateWord, Empty, Notified) == Notified)
            {
                return;
            }

            // Spurious wake-up, EINTR or a timeout (checked at the top): wait again.
        }
    }

    private void ParkInDriver(TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref StateWord, ParkedInDriver, Empty) != Empty)
        {
            // Notified meanwhile.
            Volatile.Write(ref StateWord, Empty);
            return;
        }

        _driver!.Park(timeout, this);
        Interlocked.Exchange(ref StateWord, Empty);
    }

    private void ParkOnMonitor(TimeSpan timeout)
    {
        lock (_monitor)
        {
            if (Interlocked.CompareExchange(ref StateWord, Parked, Empty) != Empty)
            {
                // Notified between the fast path and here: consume it.
                Volatile.Write(ref StateWord, Empty);
                return;
            }

            int ms = timeout < TimeSpan.Zero ? Timeout.Infinite : (int)Math.Min(int.MaxValue - 1, Math.Ceiling(timeout.TotalMilliseconds));
            while (true)
            {
                bool signalled = Monitor.Wait(_monitor, ms);
                if (Interlocked.CompareExchange(ref StateWord, Empty, Notified) == Notified)
                {
                    return;
                }

                if (!signalled && ms != Timeout.Infinite)
                {
                    // Timed out: back to Empty unless a notification raced in.
                    if (Interlocked.CompareExchange(ref StateWord, Empty, Parked) == Parked)
                    {
                        return;
                    }

                    Volatile.Write(ref StateWord, Empty);
                    return;
                }
                // Spurious wake-up: wait again.
            }
        }
    }

    /// <summary>Wakes the parked thread, or makes its next <see cref="Park"/> return at once.</summary>
    internal void Unpark()
    {
        switch (Interlocked.Exchange(ref StateWord, Notified))
        {
            case Parked when _futexWord != null:
                Libc.FutexWake(_futexWord, 1);
                break;
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
