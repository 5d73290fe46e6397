using System.Net;
using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>
/// A listening TCP socket on the runtime's I/O driver (Tokio's <c>TcpListener</c>; named after Boost.Asio's
/// acceptor because <see cref="TcpListener"/> is taken by <c>System.Net.Sockets</c>).
/// </summary>
/// <remarks>
/// Accepting is readiness-driven: the worker that turns the runtime's epoll set wakes the task that waits to
/// accept, with no hop through the .NET thread pool. Create it inside a Kyoto runtime (Linux only).
/// </remarks>
/// <example>
/// <code>
/// using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 7000));
/// while (true)
/// {
///     TcpStream stream = await acceptor.AcceptAsync(ct);
///     KyotoTask.Spawn(() =&gt; ServeAsync(stream));
/// }
/// </code>
/// </example>
public sealed class TcpAcceptor : IDisposable
{
    private readonly SocketIo _io;

    private TcpAcceptor(SocketIo io) => _io = io;

    /// <summary>Starts listening on a bound <paramref name="socket"/> (from <see cref="TcpSocket.Listen"/>); disposes it on failure.</summary>
    internal static TcpAcceptor Listen(Socket socket, int backlog)
    {
        try
        {
            socket.Listen(backlog);
            return new TcpAcceptor(new SocketIo(socket));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Binds to <paramref name="endPoint"/> (port 0: any free port) and starts listening.</summary>
    /// <param name="endPoint">The local address and port.</param>
    /// <param name="backlog">The length of the kernel's queue of connections not yet accepted.</param>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static TcpAcceptor Bind(IPEndPoint endPoint, int backlog = 1024)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        var socket = SocketOptions.DualStack(new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        try
        {
            // As Tokio on Unix: a restarted server can bind while old connections linger in TIME_WAIT.
            SocketOptions.SetReuseAddress(socket, true);
            socket.Bind(endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return Listen(socket, backlog);
    }

    /// <summary>Binds to <paramref name="address"/>:<paramref name="port"/> and starts listening.</summary>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    public static TcpAcceptor Bind(IPAddress address, int port, int backlog = 1024) => Bind(new IPEndPoint(address, port), backlog);

    /// <summary>The address and port the acceptor listens on.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_io.Socket.LocalEndPoint!;

    /// <summary>Waits for the next incoming connection.</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled accept takes no connection (it stays queued for the next accept).</remarks>
    /// <exception cref="SocketException">The kernel failed the accept (for example the process is out of descriptors).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The acceptor was disposed.</exception>
    public ValueTask<TcpStream> AcceptAsync(CancellationToken cancellationToken = default) =>
        _io.AcceptAsync(this, static (handle, reactor) => TcpStream.FromAccepted(handle, reactor), cancellationToken);

    /// <summary>Stops listening; a pending accept fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();
}
