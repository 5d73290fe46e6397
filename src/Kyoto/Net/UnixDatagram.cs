// A Unix domain datagram socket on the runtime's reactor (Tokio's UnixDatagram). Sends, to the connected peer or
// to a path, go through the socket's send operation, and receives with the sender's path through a
// DatagramReceiver on its receive operation, as UdpSocket's do: a call that has to wait allocates nothing.
// Paths are cached both ways, each cache an immutable snapshot swapped whole (any thread): the last destination,
// serialized once (its address is never written once published, so a send that has to wait may keep using it
// after a later send to another path has replaced the cache), and the last sender's path.
using System.Net;
using System.Net.Sockets;
using Kyoto.Reactor;

namespace Kyoto.Net;

/// <summary>
/// A Unix domain datagram socket on the runtime's I/O driver (Tokio's <c>UnixDatagram</c>): message boundaries are
/// kept and, unlike UDP, datagrams are reliable and ordered; a sender waits when the receiver's queue is full.
/// </summary>
/// <remarks>
/// <para>
/// One receive and one send may wait at once (from different tasks). A datagram longer than the receive buffer is
/// truncated: the excess is lost. Binding creates a socket file that <see cref="Dispose"/> deletes (.NET's
/// <see cref="Socket"/> unlinks the path it bound; Tokio leaves it).
/// </para>
/// <para>
/// Sending to a path nobody is bound to fails with <see cref="SocketError.ConnectionRefused"/> (no listener) or
/// <see cref="SocketError.AddressNotAvailable"/> (no file); sending on a connected socket whose peer closed fails
/// with <see cref="SocketError.ConnectionRefused"/>.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// using var server = UnixDatagram.Bind("/tmp/server.sock");
/// using var client = UnixDatagram.CreateUnbound();
/// await client.SendToAsync("ping"u8.ToArray(), "/tmp/server.sock", ct);
/// UnixReceiveFromResult got = await server.ReceiveFromAsync(buffer, ct);
/// </code>
/// </example>
public sealed class UnixDatagram : IDisposable
{
    private readonly SocketIo _io;
    private readonly Receiver _receiver;
    private CachedPath? _lastSentTo;

    private UnixDatagram(SocketIo io)
    {
        _io = io;
        _receiver = new Receiver(io);
    }

    private static UnixDatagram Wrap(Socket socket, IoReactor? reactor)
    {
        try
        {
            return new UnixDatagram(reactor is null ? new SocketIo(socket) : new SocketIo(socket, reactor));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Creates a datagram socket bound to <paramref name="path"/> (the file must not exist).</summary>
    /// <param name="path">A filesystem path, or an abstract name starting with <c>'\0'</c>.</param>
    /// <exception cref="SocketException">The path exists (<see cref="SocketError.AddressAlreadyInUse"/>) or its directory cannot be written.</exception>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static UnixDatagram Bind(string path)
    {
        var endPoint = UnixSockets.EndPointOf(path, nameof(path));
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return Wrap(socket, null);
    }

    /// <summary>Creates a datagram socket bound to no path: it can send, and receive replies only once connected (or from a pair).</summary>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static UnixDatagram CreateUnbound() => Wrap(new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified), null);

    /// <summary>Creates two unnamed datagram sockets connected to each other (<c>socketpair</c>).</summary>
    /// <exception cref="SocketException">The process is out of descriptors.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static (UnixDatagram First, UnixDatagram Second) CreatePair() =>
        UnixSockets.WrappedPair(Native.Libc.SOCK_DGRAM, Wrap, static s => s._io.Reactor);

    /// <summary>Sets the default destination (<see cref="SendAsync"/>) and receives only from it. Completes at once.</summary>
    /// <exception cref="SocketException">Nobody is bound at <paramref name="path"/>.</exception>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void Connect(string path)
    {
        var endPoint = UnixSockets.EndPointOf(path, nameof(path));
        ThrowIfDisposed();
        _io.Socket.Connect(endPoint);
    }

    /// <summary>The path this socket is bound to: null if unbound.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public string? LocalPath
    {
        get
        {
            ThrowIfDisposed();
            return UnixSockets.PathOf(_io.Socket.LocalEndPoint);
        }
    }

    /// <summary>The path of the connected peer: null if unconnected or the peer is unnamed.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public string? RemotePath
    {
        get
        {
            ThrowIfDisposed();
            return _io.Socket.Connected ? UnixSockets.PathOf(_io.Socket.RemoteEndPoint) : null;
        }
    }

    /// <summary>Sends <paramref name="buffer"/> as one datagram to the connected peer, waiting while its queue is full.</summary>
    /// <returns>The number of bytes sent: the whole buffer.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled send has sent nothing.</remarks>
    /// <exception cref="SocketException">Not connected, the peer closed (<see cref="SocketError.ConnectionRefused"/>), or the datagram is too long (<see cref="SocketError.MessageSize"/>).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendSomeAsync(buffer, cancellationToken);

    /// <summary>Receives one datagram into <paramref name="buffer"/>.</summary>
    /// <returns>The datagram's length, truncated to the buffer's (the excess is lost).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled receive has taken no datagram.</remarks>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _io.ReceiveAsync(buffer, cancellationToken);

    /// <summary>Sends <paramref name="buffer"/> as one datagram to the socket bound at <paramref name="path"/>, waiting while its queue is full.</summary>
    /// <returns>The number of bytes sent: the whole buffer.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled send has sent nothing.</remarks>
    /// <exception cref="SocketException">Nobody is bound there (<see cref="SocketError.ConnectionRefused"/> or <see cref="SocketError.AddressNotAvailable"/>), or the datagram is too long.</exception>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendToAsync(ReadOnlyMemory<byte> buffer, string path, CancellationToken cancellationToken = default)
    {
        // The socket's reusable send operation and sendto(2) itself: a full queue is EAGAIN as a value (Socket.SendTo
        // throws it), and the cached address is never written, so it may stay in use until the send completes.
        return _io.SendToAsync(buffer, AddressOf(path), cancellationToken);
    }

    /// <summary>Receives one datagram into <paramref name="buffer"/>, with its sender's path.</summary>
    /// <returns>The datagram's length (truncated to the buffer's) and the sender's path (null if unbound).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled receive has taken no datagram.</remarks>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<UnixReceiveFromResult> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _receiver.ReceiveFromAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>Sends to the connected peer if its queue has room now, without waiting.</summary>
    /// <returns>False if the peer's queue is full (nothing was sent).</returns>
    /// <exception cref="SocketException">As <see cref="SendAsync"/>.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TrySend(ReadOnlySpan<byte> buffer, out int sent)
    {
        ThrowIfDisposed();
        return _io.TrySend(buffer, out sent);
    }

    /// <summary>Receives a datagram if one is queued, without waiting.</summary>
    /// <returns>False if no datagram is queued.</returns>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TryReceive(Span<byte> buffer, out int received)
    {
        ThrowIfDisposed();
        return _io.TryReceive(buffer, SocketFlags.None, out received);
    }

    /// <summary>Receives a datagram and its sender's path if one is queued, without waiting.</summary>
    /// <returns>False if no datagram is queued.</returns>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TryReceiveFrom(Span<byte> buffer, out UnixReceiveFromResult result)
    {
        ThrowIfDisposed();
        return _receiver.TryReceiveFrom(buffer, SocketFlags.None, out result);
    }

    /// <summary>Closes the write side: the connected peer's receives return 0 once its queue is drained.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void ShutdownWrite()
    {
        ThrowIfDisposed();
        _io.Socket.Shutdown(SocketShutdown.Send);
    }

    private SocketAddress AddressOf(string path)
    {
        CachedPath? cached = Volatile.Read(ref _lastSentTo);
        if (cached is null || !string.Equals(cached.Path, path, StringComparison.Ordinal))
        {
            cached = new CachedPath(path, UnixSockets.EndPointOf(path, nameof(path)).Serialize());
            Volatile.Write(ref _lastSentTo, cached);
        }

        return cached.Address;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_io.IsDisposed, this);

    /// <summary>Closes the socket and deletes the file it bound; pending sends and receives fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();

    /// <summary>Receives with the sender's path (null if unnamed), the last one cached.</summary>
    private sealed class Receiver(SocketIo io) : DatagramReceiver<string?, UnixReceiveFromResult>(io, AddressFamily.Unix, UnixSockets.AddressSize)
    {
        private CachedPath? _lastReceivedFrom;

        protected override string? SenderOf(SocketAddress address)
        {
            if (address.Size <= 2)
            {
                return null; // an unnamed sender: nothing to cache
            }

            CachedPath? cached = Volatile.Read(ref _lastReceivedFrom);
            if (cached is not null && SameAddress(cached.Address, address))
            {
                return cached.Path;
            }

            string? path = UnixSockets.PathOf(address);
            if (path is not null)
            {
                Volatile.Write(ref _lastReceivedFrom, new CachedPath(path, CopyOf(address)));
            }

            return path;
        }

        protected override UnixReceiveFromResult Result(int count, string? sender) => new(count, sender);
    }

    /// <summary>A path and its serialized form (immutable once published).</summary>
    private sealed class CachedPath(string path, SocketAddress address)
    {
        internal string Path { get; } = path;

        internal SocketAddress Address { get; } = address;
    }
}
