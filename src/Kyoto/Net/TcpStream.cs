using System.Net;
using System.Net.Sockets;
using Kyoto.IO;

namespace Kyoto.Net;

/// <summary>
/// A TCP connection on the runtime's I/O driver (Tokio's <c>TcpStream</c>): reads and writes as
/// <see cref="ValueTask"/>s over <see cref="Memory{T}"/>, woken by the worker that turns the runtime's epoll
/// set, with no hop through the .NET thread pool. One read and one write may be in flight at once (from
/// different tasks).
/// </summary>
/// <example>
/// <code>
/// using TcpStream stream = await TcpStream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 7000), ct);
/// await stream.WriteAllAsync("ping"u8.ToArray(), ct);
/// int n = await stream.ReadAsync(buffer, ct);
/// </code>
/// </example>
public sealed class TcpStream : IAsyncDuplex, IDisposable
{
    private readonly SocketIo _io;
    private readonly IPEndPoint? _remote;
    private int _halves; // 0: not split; 2 or 1: halves alive (ReleaseHalf closes at 0)

    private TcpStream(SocketIo io, IPEndPoint? remote)
    {
        _io = io;
        _remote = remote;
    }

    /// <summary>
    /// Wraps an accepted connection's handle (closing it if registration fails). No Socket object is made until
    /// one is asked for (<see cref="SocketIo"/> invariant 5), so serving a connection that only reads, writes and
    /// sets <see cref="NoDelay"/> or <see cref="Linger"/> costs none. A stream from <see cref="ConnectAsync(IPEndPoint, CancellationToken)"/>
    /// starts the same way.
    /// </summary>
    internal static TcpStream FromAccepted(SocketHandle handle, Reactor.IoReactor reactor) =>
        new(SocketIo.ForAccepted(handle, reactor), remote: null);

    /// <summary>Connects to <paramref name="remote"/>.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled connect closes the half-open socket; nothing else is left behind.</remarks>
    /// <exception cref="SocketException">The connection failed (<see cref="SocketException.SocketErrorCode"/>: refused, unreachable, timed out...).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static ValueTask<TcpStream> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TcpStream>(cancellationToken);
        }

        return ConnectHandleAsync(remote, cancellationToken);
    }

    /// <summary>
    /// Resolves <paramref name="host"/> (a name or an IP literal) and connects to its addresses in the order the
    /// lookup gives them, returning the first connection that succeeds (Tokio's <c>TcpStream::connect</c> with a
    /// host name).
    /// </summary>
    /// <remarks><b>Cancel safety:</b> a cancelled connect closes the half-open socket; nothing else is left behind.</remarks>
    /// <exception cref="SocketException">The lookup failed, or every address refused (the last address's error).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is not a port number.</exception>
    public static async ValueTask<TcpStream> ConnectAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        IPEndPoint[] addresses = await KyotoDns.LookupHostAsync(host, port, cancellationToken).ConfigureAwait(true);
        SocketException? last = null;
        foreach (IPEndPoint address in addresses)
        {
            try
            {
                return await ConnectAsync(address, cancellationToken).ConfigureAwait(true);
            }
            catch (SocketException e)
            {
                last = e;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// Connects a socket made here: socket(2) and connect(2) themselves, so a connection in progress is a value
    /// (Socket.Connect throws to say so), and the stream, like an accepted one, gets a Socket only when asked.
    /// </summary>
    private static ValueTask<TcpStream> ConnectHandleAsync(IPEndPoint remote, CancellationToken cancellationToken)
    {
        Reactor.IoReactor reactor = Reactor.IoReactor.OfCurrentRuntime(); // outside a runtime: fails before a socket exists
        return ConnectAsync(SocketCalls.OpenStream(remote.AddressFamily), reactor, remote, cancellationToken);
    }

    /// <summary>
    /// Connects the kernel socket of a configured <paramref name="socket"/> (from <see cref="TcpSocket"/>), taken
    /// out of it (<see cref="SocketCalls.TakeFrom"/>) and connected as <see cref="ConnectHandleAsync"/> does.
    /// </summary>
    internal static ValueTask<TcpStream> ConnectSocketAsync(Socket socket, IPEndPoint remote, CancellationToken cancellationToken)
    {
        Reactor.IoReactor reactor;
        try
        {
            reactor = Reactor.IoReactor.OfCurrentRuntime();
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return ConnectAsync(SocketCalls.TakeFrom(socket), reactor, remote, cancellationToken);
    }

    /// <summary>Connects <paramref name="handle"/> (closed on failure or cancellation).</summary>
    private static async ValueTask<TcpStream> ConnectAsync(SocketHandle handle, Reactor.IoReactor reactor, IPEndPoint remote, CancellationToken cancellationToken)
    {
        SocketIo io;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Registered after the connection started: epoll reports a socket that never connected as hung up.
            bool pending = SocketCalls.Connect(handle, remote.Serialize());
            io = new SocketIo(handle, isStream: true, reactor);
            if (!pending)
            {
                return new TcpStream(io, remote);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        try
        {
            await io.WritableAsync(cancellationToken).ConfigureAwait(true);
            int error = io.GetOption(SocketOptions.SolSocket, SoError);
            if (error != 0)
            {
                throw new SocketException((int)SocketCalls.ToSocketError(error));
            }

            return new TcpStream(io, remote);
        }
        catch
        {
            io.Dispose();
            throw;
        }
    }

    private const int SoError = 4;

    /// <summary>The registered socket (tests and diagnostics).</summary>
    internal SocketIo Io => _io;

    /// <summary>The local address and port.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_io.Socket.LocalEndPoint!;

    /// <summary>The peer's address and port.</summary>
    public IPEndPoint RemoteEndPoint => _remote ?? (IPEndPoint)_io.Socket.RemoteEndPoint!;

    /// <summary>Disables Nagle's algorithm (send small writes at once); off by default, as in Tokio.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public bool NoDelay
    {
        get => _io.GetOption(IpProtoTcp, TcpNoDelay) != 0;
        set => _io.SetOption(IpProtoTcp, TcpNoDelay, value ? 1 : 0);
    }

    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;

    /// <summary>
    /// How long closing waits to send unsent data: null (the default) closes in the background; zero resets
    /// the connection at close (RST) instead of the orderly FIN.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than <see cref="ushort.MaxValue"/> seconds.</exception>
    public TimeSpan? Linger
    {
        get => SocketOptions.GetLinger(_io);
        set => SocketOptions.SetLinger(_io, value);
    }

    /// <summary>The IP time-to-live of outgoing packets.</summary>
    public short Ttl
    {
        get => _io.Socket.Ttl;
        set => _io.Socket.Ttl = value;
    }

    /// <summary>
    /// The underlying socket, for options Kyoto does not expose (for an accepted connection, made on first use).
    /// Do not read, write or block on it.
    /// </summary>
    /// <remarks>
    /// The stream owns the connection: dispose the stream, not this socket. For a connection Kyoto accepted or
    /// connected itself, this socket does not own the descriptor, so disposing it leaves the connection open.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">First asked for after the stream was disposed.</exception>
    public Socket Socket => _io.Socket;

    /// <summary>Waits until the stream is ready for <paramref name="interest"/> and returns the readiness seen.</summary>
    /// <remarks>
    /// Use with <see cref="TryRead"/>/<see cref="TryWrite"/>: readiness is a hint, so a try call may still find
    /// nothing to do (it then clears the readiness, and the next wait waits for a new event).
    /// <b>Cancel safety:</b> safe.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<Ready> ReadyAsync(Interest interest, CancellationToken cancellationToken = default) => _io.ReadyAsync(interest, cancellationToken);

    /// <summary>Waits until the stream is readable (or its read side closed); see <see cref="ReadyAsync"/>.</summary>
    public async ValueTask ReadableAsync(CancellationToken cancellationToken = default) => await _io.ReadyAsync(Interest.Readable, cancellationToken).ConfigureAwait(true);

    /// <summary>Waits until the stream is writable (or its write side closed); see <see cref="ReadyAsync"/>.</summary>
    public async ValueTask WritableAsync(CancellationToken cancellationToken = default) => await _io.ReadyAsync(Interest.Writable, cancellationToken).ConfigureAwait(true);

    /// <summary>Reads what is available now, without waiting.</summary>
    /// <returns>True with the count (0 at end of stream); false if nothing is available (the readiness is cleared).</returns>
    /// <exception cref="SocketException">The connection failed.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public bool TryRead(Span<byte> buffer, out int bytesRead) => _io.TryReceive(buffer, SocketFlags.None, out bytesRead);

    /// <summary>Writes what fits now, without waiting.</summary>
    /// <returns>True with the count; false if nothing fits (the readiness is cleared).</returns>
    /// <exception cref="SocketException">The connection failed.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public bool TryWrite(ReadOnlySpan<byte> buffer, out int bytesWritten) => _io.TrySend(buffer, out bytesWritten);

    /// <summary>Reads into <paramref name="buffer"/> without consuming: the next read returns the same bytes.</summary>
    /// <returns>The number of bytes copied; 0 at end of stream.</returns>
    /// <remarks><b>Cancel safety:</b> safe.</remarks>
    /// <exception cref="SocketException">The connection failed.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<int> PeekAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _io.ReceiveAsync(buffer, SocketFlags.Peek, cancellationToken);

    /// <summary>
    /// Splits the stream into a read half and a write half that can be used from different tasks (Tokio's
    /// <c>into_split</c>). The halves own the connection: it closes when both are disposed; disposing the
    /// write half shuts down the write side. Do not use the stream itself afterwards.
    /// </summary>
    /// <exception cref="InvalidOperationException">The stream was already split.</exception>
    public (TcpReadHalf Reader, TcpWriteHalf Writer) Split()
    {
        ObjectDisposedException.ThrowIf(_io.IsDisposed, this);
        if (Interlocked.CompareExchange(ref _halves, 2, 0) != 0)
        {
            throw new InvalidOperationException("The stream was already split into halves.");
        }

        return (new TcpReadHalf(this), new TcpWriteHalf(this));
    }

    /// <summary>One half was disposed; the connection closes with the second.</summary>
    internal void ReleaseHalf()
    {
        if (Interlocked.Decrement(ref _halves) == 0)
        {
            Dispose();
        }
    }

    /// <summary>Puts two halves of this stream back together (the halves become unusable).</summary>
    internal bool TryReunite()
    {
        return Interlocked.CompareExchange(ref _halves, 0, 2) == 2;
    }

    /// <summary>Reads into <paramref name="buffer"/>, waiting until at least one byte is available.</summary>
    /// <returns>The number of bytes read; 0 once the peer has closed its side (and every later read returns 0).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled read has read nothing.</remarks>
    /// <exception cref="SocketException">The connection failed (for example reset by the peer).</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _io.ReceiveAsync(buffer, cancellationToken);

    /// <summary>Writes as much of <paramref name="buffer"/> as the socket takes, waiting until it takes something.</summary>
    /// <returns>The number of bytes written (at least one, unless the buffer is empty).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled write has written nothing.</remarks>
    /// <exception cref="SocketException">The connection failed (for example the peer closed it).</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendSomeAsync(buffer, cancellationToken);

    /// <summary>Writes all of <paramref name="buffer"/>.</summary>
    /// <remarks><b>Cancel safety:</b> not safe: a write cancelled midway may have sent part of the buffer.</remarks>
    /// <exception cref="PartialWriteException">The connection failed; <see cref="PartialWriteException.BytesWritten"/> says how much was sent.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask WriteAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendAllAsync(buffer, cancellationToken);

    /// <summary>Closes the write side: the peer reads end of stream, and this side can still read.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public void ShutdownWrite()
    {
        ObjectDisposedException.ThrowIf(_io.IsDisposed, this);
        _io.ShutdownSend();
    }

    /// <summary>Completes at once: a socket buffers nothing in user space.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_io.IsDisposed, this);
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the write side (<see cref="ShutdownWrite"/>).</summary>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ShutdownWrite();
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the connection; pending reads and writes fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();
}
