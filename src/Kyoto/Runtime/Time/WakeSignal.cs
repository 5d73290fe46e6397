using System.Diagnostics;
using Kyoto.Native;
using Microsoft.Win32.SafeHandles;

namespace Kyoto.Timing;

/// <summary>
/// What the timer driver sleeps on: a wait with a sub-millisecond timeout that another thread can cut short.
/// On Linux an <c>eventfd</c> polled with <c>ppoll</c> (nanosecond timeout, high-resolution timer), so a
/// timer fires within tens of microseconds of its millisecond boundary instead of up to a millisecond late
/// as with the BCL's millisecond waits; elsewhere a monitor.
/// </summary>
/// <remarks>
/// A wake that comes while nobody waits is remembered (the eventfd counter, or the flag) and makes the next
/// wait return at once; waits consume it. One thread waits at a time (the driver holder).
/// </remarks>
internal sealed unsafe class WakeSignal : IDisposable
{
    // Reference-counted so that a late Set() racing with Dispose() can never write into a reused descriptor.
    private readonly SafeFileHandle? _handle;
    private readonly object _monitor = new();
    private bool _signalled;

    internal WakeSignal()
    {
        if (OperatingSystem.IsLinux())
        {
            int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            if (fd >= 0)
            {
                _handle = new SafeFileHandle(fd, ownsHandle: true);
            }
        }
    }

    /// <summary>Waits until woken or until <paramref name="timeoutTicks"/> (Stopwatch ticks; negative: for ever).</summary>
    internal void Wait(long timeoutTicks)
    {
        if (_handle is null)
        {
            WaitMonitor(timeoutTicks);
            return;
        }

        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            PollAndDrain((int)_handle.DangerousGetHandle(), timeoutTicks);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    private static void PollAndDrain(int fd, long timeoutTicks)
    {
        Libc.PollFd pfd = new() { Fd = fd, Events = Libc.POLLIN };
        if (timeoutTicks < 0)
        {
            Libc.ppoll(&pfd, 1, null, null);
        }
        else
        {
            long ns = (long)(timeoutTicks * (1e9 / Stopwatch.Frequency));
            Libc.TimeSpec ts = new() { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
            Libc.ppoll(&pfd, 1, &ts, null);
        }

        ulong value;
        Libc.read(fd, &value, sizeof(ulong));
    }

    /// <summary>Forgets a pending wake.</summary>
    internal void Drain()
    {
        if (_handle is null)
        {
            lock (_monitor)
            {
                _signalled = false;
            }

            return;
        }

        Wait(0);
    }

    /// <summary>Wakes the waiter, or makes the next wait return at once.</summary>
    internal void Set()
    {
        if (_handle is null)
        {
            lock (_monitor)
            {
                _signalled = true;
                Monitor.Pulse(_monitor);
            }

            return;
        }

        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return; // the runtime is gone; nobody waits any more
        }

        try
        {
            ulong one = 1;
            Libc.write((int)_handle.DangerousGetHandle(), &one, sizeof(ulong));
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    private void WaitMonitor(long timeoutTicks)
    {
        lock (_monitor)
        {
            if (!_signalled)
            {
                int ms = timeoutTicks < 0 ? Timeout.Infinite : (int)Math.Min(int.MaxValue - 1, Math.Ceiling(timeoutTicks * 1000.0 / Stopwatch.Frequency));
                Monitor.Wait(_monitor, ms);
            }

            _signalled = false;
        }
    }

    public void Dispose() => _handle?.Dispose();
}
