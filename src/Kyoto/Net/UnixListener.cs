using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>
/// A Unix domain socket listening at a path, on the runtime's I/O driver (Tokio's <c>UnixListener</c>).
/// </summary>
/// <remarks>
/// Binding creates the socket file, and disposing the listener deletes it: .NET's <see cref="Socket"/> unlinks the
/// path it bound when it closes (unlike Tokio, which leaves the file). A file left by a process that crashed
/// still makes <see cref="Bind"/> fail with <see cref="SocketError.AddressAlreadyInUse"/>: delete it first.
/// </remarks>
/// <example>
/// <code>
/// using var listener = UnixListener.Bind("/tmp/app.sock");
/// while (true)
/// {
///     UnixStream stream = await listener.AcceptAsync(ct);
///     KyotoTask.Spawn(() =&gt; ServeAsync(stream));
/// }
/// </code>
/// </example>
public sealed class UnixListener : IDisposable
{
    private readonly SocketIo _io;
    private readonly string _path;

    private UnixListener(SocketIo io, string path)
    {
        _io = io;
        _path = path;
    }

    /// <summary>Creates the socket at <paramref name="path"/> and starts listening.</summary>
    /// <param name="path">A filesystem path (the file must not exist), or an abstract name starting with <c>'\0'</c>.</param>
    /// <param name="backlog">The length of the kernel's queue of connections not yet accepted.</param>
    /// <exception cref="SocketException">The path exists (<see cref="SocketError.AddressAlreadyInUse"/>) or its directory cannot be written.</exception>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static UnixListener Bind(string path, int backlog = 1024)
    {
        var endPoint = UnixSockets.EndPointOf(path, nameof(path));
        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(backlog);
            return new UnixListener(new SocketIo(socket), path);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The path the listener is bound to, as given to <see cref="Bind"/>.</summary>
    public string LocalPath => _path;

    /// <summary>Waits for the next incoming connection.</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled accept takes no connection (it stays queued for the next accept).</remarks>
    /// <exception cref="SocketException">The kernel failed the accept (for example the process is out of descriptors).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The listener was disposed.</exception>
    public ValueTask<UnixStream> AcceptAsync(CancellationToken cancellationToken = default) =>
        _io.AcceptAsync(this, static (handle, reactor) => UnixStream.FromAccepted(handle, reactor), cancellationToken);

    /// <summary>Stops listening and deletes the socket file; a pending accept fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();
}
