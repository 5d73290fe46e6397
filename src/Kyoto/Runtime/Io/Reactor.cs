// The I/O reactor: an edge-triggered epoll set owned by the runtime (DESIGN.md, architecture item 6).
//
// Invariants:
//  1. One registration (a ScheduledIo from the slab) per file descriptor, registered once for
//     EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; its epoll data is (generation << 32) | slab index. The
//     generation changes when the slot is freed, so an event read for a freed (or freed and reused) slot is
//     dropped: here if the token no longer matches, and inside SetReadiness if the slot was reused between that
//     check and the publication (the state carries the registration's stamp, ScheduledIo invariant 5).
//  2. Readiness lives in ScheduledIo's state word: readiness bits plus a tick that every event dispatch bumps.
//     A caller that got EAGAIN clears the bits it saw only if the tick (and the stamp) is unchanged
//     (ClearReadiness), so an event that arrived between its syscall and its clear is never lost (edge-triggered
//     epoll reports it once).
//  3. Data 0 is the reactor's own eventfd: Wake() writes it, Turn() drains it. A wake while nobody waits makes
//     the next Turn return at once.
//  4. One thread turns the reactor at a time (the driver holder); registration and wake are thread-safe.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Kyoto.Native;
using Microsoft.Win32.SafeHandles;

namespace Kyoto.Reactor;

/// <summary>An edge-triggered epoll set with a wake-up eventfd, dispatching readiness to <see cref="ScheduledIo"/>.</summary>
internal sealed unsafe class IoReactor : IDisposable
{
    private const ulong WakeToken = 0;
    private const int MaxEvents = 256;

    private readonly int _epfd;
    private readonly int _eventfd;

    // Reference-counted so that a Wake() racing with Dispose() can never write into a reused descriptor.
    private readonly SafeFileHandle _eventHandle;
    private readonly byte* _events;
    private readonly Lock _slabLock = new();
    private ScheduledIo?[] _slots = new ScheduledIo?[64];
    private int _slotCount = 1; // slot 0 is never used: data 0 is the wake token
    private readonly Stack<int> _free = new();
    private int _disposed;
    private int _registered; // descriptors registered now (maintained under _slabLock, read without it)

    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    internal IoReactor()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Kyoto's I/O driver uses epoll and runs on Linux only.");
        }

        _epfd = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (_epfd < 0)
        {
            throw new IOException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        _eventfd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_eventfd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Libc.close(_epfd);
            throw new IOException($"eventfd failed (errno {errno}).");
        }

        _eventHandle = new SafeFileHandle(_eventfd, ownsHandle: true);
        byte* ev = stackalloc byte[16];
        Libc.WriteEpollEvent(ev, Libc.EPOLLIN | Libc.EPOLLET, WakeToken);
        if (Libc.epoll_ctl(_epfd, Libc.EPOLL_CTL_ADD, _eventfd, ev) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _eventHandle.Dispose();
            Libc.close(_epfd);
            throw new IOException($"epoll_ctl(ADD eventfd) failed (errno {errno}).");
        }

        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * Libc.EpollEventSize));
    }

    /// <summary>The I/O driver of the runtime the caller runs on.</summary>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime, or its builder disabled I/O.</exception>
    internal static IoReactor OfCurrentRuntime() => Kyoto.RuntimeHandle.Current.Scheduler.Time.Reactor
        ?? throw new InvalidOperationException("This runtime has no I/O driver: it was built with RuntimeBuilder.EnableIo = false.");

    /// <summary>How many descriptors are registered (a snapshot).</summary>
    internal int RegistrationCount => Volatile.Read(ref _registered);

    /// <summary>Registers <paramref name="fd"/> (non-blocking) for read and write readiness, edge-triggered.</summary>
    /// <exception cref="IOException">epoll refused the descriptor.</exception>
    internal ScheduledIo Register(int fd)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ScheduledIo io;
        lock (_slabLock)
        {
            int index;
            if (_free.Count > 0)
            {
                index = _free.Pop();
                io = _slots[index]!;
            }
            else
            {
                index = _slotCount++;
                if (index == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                }

                io = new ScheduledIo(this, index);
                _slots[index] = io;
            }

            io.Activate(fd);
            Volatile.Write(ref _registered, _registered + 1);
        }

        byte* ev = stackalloc byte[16];
        Libc.WriteEpollEvent(ev, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET, io.Token);
        if (Libc.epoll_ctl(_epfd, Libc.EPOLL_CTL_ADD, fd, ev) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Release(io);
            throw new IOException($"epoll_ctl(ADD) failed for descriptor {fd} (errno {errno}).");
        }

        return io;
    }

    /// <summary>
    /// Removes <paramref name="io"/>'s descriptor from the set (before the caller closes it) and fails its
    /// pending readiness waits with <see cref="ObjectDisposedException"/>.
    /// </summary>
    internal void Deregister(ScheduledIo io)
    {
        if (!io.Deactivate(out int fd))
        {
            return;
        }

        if (_disposed == 0)
        {
            Libc.epoll_ctl(_epfd, Libc.EPOLL_CTL_DEL, fd, null);
        }

        Release(io);
    }

    private void Release(ScheduledIo io)
    {
        lock (_slabLock)
        {
            io.Retire();
            _free.Push(io.Index);
            Volatile.Write(ref _registered, _registered - 1);
        }
    }

    /// <summary>
    /// Waits for events until <paramref name="timeoutTicks"/> (Stopwatch ticks; negative: for ever; 0: poll) or a
    /// <see cref="Wake"/>, and dispatches the readiness it finds. Returns how many descriptor events it saw.
    /// </summary>
    internal int Turn(long timeoutTicks)
    {
        Libc.TimeSpec ts = default;
        Libc.TimeSpec* timeout = null;
        if (timeoutTicks >= 0)
        {
            long ns = (long)(timeoutTicks * (1e9 / Stopwatch.Frequency));
            ts = new Libc.TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
            timeout = &ts;
        }

        int n = Libc.epoll_pwait2(_epfd, _events, MaxEvents, timeout, null);
        if (n <= 0)
        {
            return 0; // timeout, or EINTR: the caller re-checks its deadlines
        }

        int seen = 0;
        ScheduledIo?[] slots = Volatile.Read(ref _slots);
        for (int i = 0; i < n; i++)
        {
            (uint events, ulong data) = Libc.ReadEpollEvent(_events + (i * Libc.EpollEventSize));
            if (data == WakeToken)
            {
                ulong drained;
                Libc.read(_eventfd, &drained, sizeof(ulong));
                continue;
            }

            int index = (int)(data & 0xFFFF_FFFF);
            ScheduledIo? io = (uint)index < (uint)slots.Length ? slots[index] : null;
            if (io is not null && io.Token == data)
            {
                io.SetReadiness(ToReadiness(events), (uint)(data >> 32));
                seen++;
            }
        }

        return seen;
    }

    private static int ToReadiness(uint events)
    {
        int ready = 0;
        if ((events & (Libc.EPOLLIN | Libc.EPOLLPRI)) != 0)
        {
            ready |= Readiness.Readable;
        }

        if ((events & Libc.EPOLLOUT) != 0)
        {
            ready |= Readiness.Writable;
        }

        if ((events & Libc.EPOLLRDHUP) != 0)
        {
            ready |= Readiness.Readable | Readiness.ReadClosed;
        }

        if ((events & Libc.EPOLLHUP) != 0)
        {
            ready |= Readiness.Readable | Readiness.Writable | Readiness.ReadClosed | Readiness.WriteClosed;
        }

        if ((events & Libc.EPOLLERR) != 0)
        {
            ready |= Readiness.Readable | Readiness.Writable | Readiness.Error;
        }

        return ready;
    }

    /// <summary>Interrupts a <see cref="Turn"/> in progress, or makes the next one return at once.</summary>
    internal void Wake()
    {
        bool added = false;
        try
        {
            _eventHandle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return; // the runtime is gone; nobody turns the reactor any more
        }

        try
        {
            ulong one = 1;
            Libc.write(_eventfd, &one, sizeof(ulong));
        }
        finally
        {
            _eventHandle.DangerousRelease();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ScheduledIo?[] slots;
        lock (_slabLock)
        {
            slots = _slots;
        }

        foreach (ScheduledIo? io in slots)
        {
            if (io is not null && io.Deactivate(out _))
            {
                io.Retire();
            }
        }

        _eventHandle.Dispose();
        Libc.close(_epfd);
        NativeMemory.Free(_events);
    }
}

/// <summary>Readiness bits of a <see cref="ScheduledIo"/>.</summary>
internal static class Readiness
{
    internal const int Readable = 1;
    internal const int Writable = 2;
    internal const int ReadClosed = 4;
    internal const int WriteClosed = 8;
    internal const int Error = 16;

    /// <summary>The bits that wake a reader.</summary>
    internal const int ReadInterest = Readable | ReadClosed | Error;

    /// <summary>The bits that wake a writer.</summary>
    internal const int WriteInterest = Writable | WriteClosed | Error;

    /// <summary>The bits of a public <see cref="Kyoto.IO.Interest"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not Readable, Writable or ReadWrite.</exception>
    internal static int MaskOf(Kyoto.IO.Interest interest) => interest switch
    {
        Kyoto.IO.Interest.Readable => ReadInterest,
        Kyoto.IO.Interest.Writable => WriteInterest,
        Kyoto.IO.Interest.ReadWrite => ReadInterest | WriteInterest,
        _ => throw new ArgumentOutOfRangeException(nameof(interest), interest, "Readable, Writable or ReadWrite."),
    };
}
