// A non-blocking descriptor registered with the runtime's reactor, with the readiness loop every socket type
// uses: try the syscall first; on EAGAIN clear the readiness observed before the call (only if no newer edge
// came, ScheduledIo invariant 1) and wait for the next edge. Groundwork for Kyoto.Net (issue 5).
//
// Invariants:
//  1. The descriptor is non-blocking and registered once, for its whole life; Dispose deregisters it before it
//     is closed, so the reactor never reports an event for a reused descriptor number to this object.
//  2. One reader and one writer at a time (ScheduledIo invariant 2).
using System.Runtime.InteropServices;
using Kyoto.Native;
using Kyoto.Scheduling;

namespace Kyoto.Reactor;

/// <summary>A descriptor registered with the current runtime's reactor, with async read and write.</summary>
internal sealed class PollEvented : IDisposable
{
    private readonly ScheduledIo _io;
    private readonly bool _ownsFd;
    private int _fd;

    private PollEvented(IoReactor reactor, int fd, bool ownsFd)
    {
        _io = reactor.Register(fd);
        _fd = fd;
        _ownsFd = ownsFd;
    }

    /// <summary>Registers the non-blocking <paramref name="fd"/> with the current runtime's reactor.</summary>
    /// <exception cref="PlatformNotSupportedException">The runtime has no reactor (not Linux).</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    internal static PollEvented Register(int fd, bool ownsFd)
    {
        return new PollEvented(IoReactor.OfCurrentRuntime(), fd, ownsFd);
    }

    /// <summary>Reads into <paramref name="buffer"/>: the byte count, 0 at end of stream.</summary>
    /// <exception cref="IOException">The read failed (the message carries errno).</exception>
    /// <exception cref="ObjectDisposedException">The descriptor was closed.</exception>
    internal async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            long observed = _io.State;
            int n = TryRead(buffer.Span);
            if (n >= 0)
            {
                return n;
            }

            await _io.WaitAfterWouldBlockAsync(observed, Readiness.ReadInterest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>Writes all of <paramref name="buffer"/>, waiting for room as needed.</summary>
    /// <exception cref="IOException">The write failed (the message carries errno and how much was written).</exception>
    /// <exception cref="ObjectDisposedException">The descriptor was closed.</exception>
    internal async ValueTask WriteAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        int written = 0;
        while (written < buffer.Length)
        {
            long observed = _io.State;
            int n = TryWrite(buffer.Span[written..], written);
            if (n >= 0)
            {
                written += n;
                continue;
            }

            await _io.WaitAfterWouldBlockAsync(observed, Readiness.WriteInterest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>One non-blocking read: the byte count, or -1 if it would block.</summary>
    internal unsafe int TryRead(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return TryTransfer(write: false, p, buffer.Length, 0);
        }
    }

    /// <summary>One non-blocking write: the byte count, or -1 if it would block.</summary>
    private unsafe int TryWrite(ReadOnlySpan<byte> buffer, int writtenBefore)
    {
        fixed (byte* p = buffer)
        {
            return TryTransfer(write: true, p, buffer.Length, writtenBefore);
        }
    }

    /// <summary>One read or write, retried on EINTR: the byte count, or -1 on EAGAIN.</summary>
    private unsafe int TryTransfer(bool write, byte* p, int length, int writtenBefore)
    {
        int fd = Volatile.Read(ref _fd);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        while (true)
        {
            nint n = write ? Libc.write(fd, p, (nuint)length) : Libc.read(fd, p, (nuint)length);
            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EAGAIN)
            {
                return -1;
            }

            if (errno != Libc.EINTR)
            {
                throw new IOException(write ? $"write failed after {writtenBefore} bytes (errno {errno})." : $"read failed (errno {errno}).", errno);
            }
        }
    }

    /// <summary>Deregisters the descriptor (failing pending waits) and closes it if owned.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0)
        {
            return;
        }

        _io.Reactor.Deregister(_io);
        if (_ownsFd)
        {
            Libc.close(fd);
        }
    }
}
