// A non-blocking .NET Socket registered with the runtime's reactor: the readiness loops of Kyoto's socket types
// (try the call first; on EAGAIN clear the readiness observed before it, ScheduledIo invariant 1, and wait for
// the next edge). The Socket only ever runs its synchronous, non-blocking calls, so .NET's own socket engine
// never registers it: Kyoto's reactor is the only one watching the descriptor. Awaits inside Kyoto's own code use
// ConfigureAwait(true): an async method's ValueTask awaited with ConfigureAwait(false) would resume off the runtime.
//
// Invariants:
//  1. Registered once for the socket's life; Dispose deregisters (failing pending waits with
//     ObjectDisposedException) before the socket is closed, so no event for a reused descriptor number reaches it.
//  2. One reader and one writer at a time (ScheduledIo invariant 2), which is what a stream's read and write
//     halves need.
using System.Net.Sockets;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Net;

internal sealed class SocketIo : IDisposable
{
    private readonly ScheduledIo _io;
    private int _disposed;

    /// <summary>Registers <paramref name="socket"/> with the current runtime's reactor.</summary>
    internal SocketIo(Socket socket)
        : this(socket, CurrentReactor())
    {
    }

    /// <summary>Registers <paramref name="socket"/> with <paramref name="reactor"/> (an accepted socket joins its acceptor's).</summary>
    internal SocketIo(Socket socket, IoReactor reactor)
    {
        socket.Blocking = false;
        Socket = socket;
        _io = reactor.Register((int)socket.Handle);
    }

    internal IoReactor Reactor => _io.Reactor;

    private static IoReactor CurrentReactor() => RuntimeHandle.Current.Scheduler.Time.Reactor
        ?? throw new PlatformNotSupportedException("Kyoto's sockets run on Linux only (they use the runtime's epoll driver).");

    internal Socket Socket { get; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Receives into <paramref name="buffer"/>: the byte count, 0 at end of stream.</summary>
    internal async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // The coop budget is spent before the call (as Tokio's poll_proceed), so a yield never holds data that
        // was already read: a connection whose data is always ready cannot keep its worker from other tasks.
        await KyotoTask.ConsumeBudget();
        while (true)
        {
            ThrowIfDisposed();
            long observed = _io.State;
            int n = Socket.Receive(buffer.Span, SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                return n;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            await _io.WaitAfterWouldBlockAsync(observed, Readiness.ReadInterest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>Sends what fits of <paramref name="buffer"/> (waiting until something fits): the byte count.</summary>
    internal async ValueTask<int> SendSomeAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await KyotoTask.ConsumeBudget();
        while (true)
        {
            ThrowIfDisposed();
            long observed = _io.State;
            int n = Socket.Send(buffer.Span, SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                return n;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            await _io.WaitAfterWouldBlockAsync(observed, Readiness.WriteInterest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>Sends all of <paramref name="buffer"/>; a failure reports how much went out.</summary>
    internal async ValueTask SendAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        int sent = 0;
        while (sent < buffer.Length)
        {
            try
            {
                sent += await SendSomeAsync(buffer[sent..], cancellationToken).ConfigureAwait(true);
            }
            catch (SocketException e)
            {
                throw new PartialWriteException(sent, e);
            }
        }
    }

    /// <summary>Waits until the socket is writable (a non-blocking connect finishing).</summary>
    internal ValueTask<long> WritableAsync(CancellationToken cancellationToken) => _io.ReadyAsync(Readiness.WriteInterest, cancellationToken);

    /// <summary>After an accept returned EAGAIN: waits until the listener is readable again.</summary>
    internal ValueTask<long> WaitReadableAfterWouldBlock(long observed, CancellationToken cancellationToken) =>
        _io.WaitAfterWouldBlockAsync(observed, Readiness.ReadInterest, cancellationToken);

    /// <summary>
    /// The step of a custom readiness loop after a socket call returned EAGAIN: clears the readiness observed
    /// (<see cref="State"/> read before the call) and waits for the next edge in <paramref name="interest"/>
    /// (<see cref="Readiness.ReadInterest"/> or <see cref="Readiness.WriteInterest"/>).
    /// </summary>
    internal ValueTask<long> WaitAfterWouldBlockAsync(long observed, int interest, CancellationToken cancellationToken) =>
        _io.WaitAfterWouldBlockAsync(observed, interest, cancellationToken);

    /// <summary>Waits until any bit of <paramref name="interest"/> is set (at once if it already is).</summary>
    internal ValueTask<long> ReadyAsync(int interest, CancellationToken cancellationToken) => _io.ReadyAsync(interest, cancellationToken);

    internal long State => _io.State;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, Socket);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _io.Reactor.Deregister(_io);
        Socket.Dispose();
    }
}
