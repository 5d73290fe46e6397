using System.Net;
using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>
/// A TCP socket not yet connected or listening (Tokio's <c>TcpSocket</c>): set the options that must come
/// before bind, connect or listen (reuse address and port, keep-alive, buffer sizes, no-delay, linger), then
/// <see cref="ConnectAsync"/> to get a <see cref="TcpStream"/> or <see cref="Listen"/> to get a
/// <see cref="TcpAcceptor"/>.
/// </summary>
/// <example>
/// <code>
/// using var socket = TcpSocket.CreateV4();
/// socket.ReusePort = true;
/// socket.Bind(new IPEndPoint(IPAddress.Any, 8080));
/// using TcpAcceptor acceptor = socket.Listen(backlog: 4096);
/// </code>
/// </example>
public sealed class TcpSocket : IDisposable
{
    private Socket? _socket;

    private TcpSocket(AddressFamily family) => _socket = SocketOptions.DualStack(new Socket(family, SocketType.Stream, ProtocolType.Tcp));

    /// <summary>A new IPv4 TCP socket.</summary>
    public static TcpSocket CreateV4() => new(AddressFamily.InterNetwork);

    /// <summary>A new IPv6 TCP socket.</summary>
    public static TcpSocket CreateV6() => new(AddressFamily.InterNetworkV6);

    /// <summary>A new TCP socket of <paramref name="endPoint"/>'s address family.</summary>
    public static TcpSocket CreateFor(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return new TcpSocket(endPoint.AddressFamily);
    }

    private Socket Socket => _socket ?? throw new ObjectDisposedException(nameof(TcpSocket), "The socket was disposed, or already connected or listening (it then belongs to the stream or acceptor).");

    /// <summary>SO_REUSEADDR: bind to an address whose old connections linger in TIME_WAIT.</summary>
    public bool ReuseAddress
    {
        get => GetIntOption(SocketOptions.SolSocket, SocketOptions.SoReuseAddr) != 0;
        set => SetIntOption(SocketOptions.SolSocket, SocketOptions.SoReuseAddr, value ? 1 : 0); // not .NET's, which sets SO_REUSEPORT too
    }

    /// <summary>SO_REUSEPORT (Linux): several sockets bind the same port and the kernel spreads connections among them.</summary>
    public bool ReusePort
    {
        get => GetIntOption(SocketOptions.SolSocket, SocketOptions.SoReusePort) != 0;
        set => SetIntOption(SocketOptions.SolSocket, SocketOptions.SoReusePort, value ? 1 : 0);
    }

    /// <summary>SO_KEEPALIVE: probe an idle connection to detect a dead peer.</summary>
    public bool KeepAlive
    {
        get => (int)Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)! != 0;
        set => Socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, value);
    }

    /// <summary>SO_SNDBUF in bytes (the kernel may double or round what is set).</summary>
    public int SendBufferSize
    {
        get => Socket.SendBufferSize;
        set => Socket.SendBufferSize = value;
    }

    /// <summary>SO_RCVBUF in bytes (the kernel may double or round what is set).</summary>
    public int ReceiveBufferSize
    {
        get => Socket.ReceiveBufferSize;
        set => Socket.ReceiveBufferSize = value;
    }

    /// <summary>TCP_NODELAY: send small writes at once instead of coalescing them (Nagle's algorithm).</summary>
    public bool NoDelay
    {
        get => Socket.NoDelay;
        set => Socket.NoDelay = value;
    }

    /// <summary>SO_LINGER; see <see cref="TcpStream.Linger"/>.</summary>
    public TimeSpan? Linger
    {
        get => SocketOptions.GetLinger(Socket);
        set => SocketOptions.SetLinger(Socket, value);
    }

    /// <summary>The bound address, or null before <see cref="Bind"/>.</summary>
    public IPEndPoint? LocalEndPoint => (IPEndPoint?)Socket.LocalEndPoint;

    /// <summary>Binds to <paramref name="endPoint"/> (port 0: any free port).</summary>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    public void Bind(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        Socket.Bind(endPoint);
    }

    /// <summary>Connects to <paramref name="remote"/>; the socket then belongs to the returned stream.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled or failed connect closes the socket.</remarks>
    /// <exception cref="SocketException">The connection failed (refused, unreachable, timed out...).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<TcpStream> ConnectAsync(IPEndPoint remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return TcpStream.ConnectSocketAsync(Take(), remote, cancellationToken);
    }

    /// <summary>Starts listening; the socket then belongs to the returned acceptor.</summary>
    /// <exception cref="SocketException">Listening failed (for example, the address is in use).</exception>
    public TcpAcceptor Listen(int backlog = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        return TcpAcceptor.Listen(Take(), backlog);
    }

    private Socket Take() => Interlocked.Exchange(ref _socket, null)
        ?? throw new ObjectDisposedException(nameof(TcpSocket), "The socket was disposed, or already connected or listening.");

    private int GetIntOption(int level, int name)
    {
        Span<byte> value = stackalloc byte[4];
        Socket.GetRawSocketOption(level, name, value);
        return BitConverter.ToInt32(value);
    }

    private void SetIntOption(int level, int name, int value)
    {
        Span<byte> raw = stackalloc byte[4];
        BitConverter.TryWriteBytes(raw, value);
        Socket.SetRawSocketOption(level, name, raw);
    }

    /// <summary>Closes the socket unless it was connected or listening (then its stream or acceptor owns it).</summary>
    public void Dispose() => Interlocked.Exchange(ref _socket, null)?.Dispose();
}
