// A connected Unix domain stream socket: the same readiness loops as TcpStream (SocketIo), plus what only Unix
// sockets have: socketpair(2) and the peer's credentials.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kyoto.IO;

namespace Kyoto.Net;

/// <summary>
/// A connected Unix domain stream socket on the runtime's I/O driver (Tokio's <c>UnixStream</c>): reads and
/// writes as <see cref="ValueTask"/>s, woken by the worker that turns the runtime's epoll set. One read and one
/// write may be in flight at once (from different tasks).
/// </summary>
/// <remarks>
/// Writing to a stream whose peer is gone fails with a <see cref="SocketException"/> (never a SIGPIPE: .NET sends
/// with <c>MSG_NOSIGNAL</c>).
/// </remarks>
/// <example>
/// <code>
/// using UnixStream stream = await UnixStream.ConnectAsync("/run/app.sock", ct);
/// await stream.WriteAllAsync("ping"u8.ToArray(), ct);
/// int n = await stream.ReadAsync(buffer, ct);
/// </code>
/// </example>
public sealed class UnixStream : IAsyncDuplex, IDisposable
{
    private readonly SocketIo _io;

    private UnixStream(SocketIo io) => _io = io;

    /// <summary>Wraps an accepted connection's handle (closing it if registration fails); its Socket is made on first use.</summary>
    internal static UnixStream FromAccepted(SocketHandle handle, Reactor.IoReactor reactor) =>
        new(SocketIo.ForAccepted(handle, reactor));

    /// <summary>Wraps a connected socket (closing it if registration fails).</summary>
    internal static UnixStream FromConnected(Socket socket, Reactor.IoReactor? reactor)
    {
        try
        {
            return new UnixStream(reactor is null ? new SocketIo(socket) : new SocketIo(socket, reactor));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects to the listener bound at <paramref name="path"/>.</summary>
    /// <param name="path">A filesystem path, or an abstract name starting with <c>'\0'</c>.</param>
    /// <param name="cancellationToken">Cancels the wait for the connection.</param>
    /// <remarks><b>Cancel safety:</b> a cancelled connect closes the half-open socket; nothing else is left behind.</remarks>
    /// <exception cref="SocketException">
    /// Nobody listens there (<see cref="SocketError.ConnectionRefused"/> or <see cref="SocketError.AddressNotAvailable"/>
    /// for a missing file), or the listener's backlog is full (<see cref="SocketError.WouldBlock"/>, as Tokio: a Unix
    /// connect does not wait for room).
    /// </exception>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static async ValueTask<UnixStream> ConnectAsync(string path, CancellationToken cancellationToken = default)
    {
        var endPoint = UnixSockets.EndPointOf(path, nameof(path));
        cancellationToken.ThrowIfCancellationRequested();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        bool pending;
        try
        {
            // Connect before registering: epoll reports an unconnected stream socket as hung up (see TcpStream).
            socket.Connect(endPoint);
            pending = false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.InProgress)
        {
            pending = true;
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        UnixStream stream = FromConnected(socket, null);
        try
        {
            if (pending)
            {
                await stream._io.WaitAfterWouldBlockAsync(stream._io.State, Reactor.Readiness.WriteInterest, cancellationToken).ConfigureAwait(true);
                var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                if (error != SocketError.Success)
                {
                    throw new SocketException((int)error);
                }
            }

            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Creates two streams connected to each other (<c>socketpair</c>), both on the current runtime.</summary>
    /// <exception cref="SocketException">The process is out of descriptors.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static (UnixStream First, UnixStream Second) CreatePair() =>
        UnixSockets.WrappedPair(Native.Libc.SOCK_STREAM, FromConnected, static s => s._io.Reactor);

    /// <summary>The path this end is bound to: null if unnamed (a connecting client, or one end of a pair).</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public string? LocalPath
    {
        get
        {
            ThrowIfDisposed();
            return UnixSockets.PathOf(_io.Socket.LocalEndPoint);
        }
    }

    /// <summary>The path the peer is bound to (the listener's, for a client): null if unnamed.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public string? RemotePath
    {
        get
        {
            ThrowIfDisposed();
            return UnixSockets.PathOf(_io.Socket.RemoteEndPoint);
        }
    }

    /// <summary>The peer process's credentials (<c>SO_PEERCRED</c>), fixed when the connection was made.</summary>
    /// <exception cref="SocketException">The kernel refused the query.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public UnixCredentials PeerCredentials
    {
        get
        {
            ThrowIfDisposed();
            Span<byte> ucred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            int length = _io.GetOption(SocketOptions.SolSocket, SoPeerCred, ucred); // from the descriptor: no Socket made
            if (length < 12)
            {
                throw new SocketException((int)SocketError.ProtocolOption);
            }

            return new UnixCredentials(MemoryMarshal.Read<int>(ucred), MemoryMarshal.Read<uint>(ucred[4..]), MemoryMarshal.Read<uint>(ucred[8..]));
        }
    }

    private const int SoPeerCred = 17;

    /// <summary>Reads into <paramref name="buffer"/>, waiting until at least one byte is available.</summary>
    /// <returns>The number of bytes read; 0 once the peer has closed its side (and every later read returns 0).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled read has read nothing.</remarks>
    /// <exception cref="SocketException">The connection failed (for example reset by the peer).</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _io.ReceiveAsync(buffer, cancellationToken);

    /// <summary>Writes as much of <paramref name="buffer"/> as the socket takes, waiting until it takes something.</summary>
    /// <returns>The number of bytes written (at least one, unless the buffer is empty).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled write has written nothing.</remarks>
    /// <exception cref="SocketException">The peer closed its end (<see cref="SocketError.Shutdown"/> or <see cref="SocketError.ConnectionReset"/>).</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendSomeAsync(buffer, cancellationToken);

    /// <summary>Writes all of <paramref name="buffer"/>.</summary>
    /// <remarks><b>Cancel safety:</b> not safe: a write cancelled midway may have sent part of the buffer.</remarks>
    /// <exception cref="PartialWriteException">The peer closed its end; <see cref="PartialWriteException.BytesWritten"/> says how much was sent.</exception>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask WriteAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendAllAsync(buffer, cancellationToken);

    /// <summary>Closes the write side: the peer reads end of stream, and this side can still read.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public void ShutdownWrite()
    {
        ThrowIfDisposed();
        _io.ShutdownSend();
    }

    /// <summary>Completes at once: a socket buffers nothing in user space.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return ValueTask.CompletedTask;
    }

    /// <summary>Closes the write side (<see cref="ShutdownWrite"/>).</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ShutdownWrite();
        return ValueTask.CompletedTask;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_io.IsDisposed, this);

    /// <summary>Closes the connection; pending reads and writes fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();
}
