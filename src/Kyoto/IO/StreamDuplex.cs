// StreamDuplex: any System.IO.Stream as a Kyoto IAsyncDuplex, so Kyoto's helpers, codecs and pipes run over
// BCL streams (SslStream over a Kyoto socket, GZipStream, a NetworkStream, a MemoryStream in tests).
//
// Design:
//  - ReadAsync forwards the stream's ValueTask<int> unchanged. WriteAsync writes the whole buffer (a Stream
//    write is all-or-nothing) and reports its full length.
//  - ShutdownAsync is the one thing System.IO has no general word for. It flushes, refuses later writes, then
//    closes the write direction where the stream type allows it:
//      SslStream      ShutdownAsync(): sends TLS close_notify; the peer's SslStream reads end of stream. The
//                     transport under it stays open (AuthenticatedStream.InnerStream is not public): close it
//                     when disposing, or shut the Kyoto socket down yourself.
//      NetworkStream  Socket.Shutdown(Send): FIN, reading goes on.
//      KyotoStream    its ShutdownAsync(): the Kyoto writer under it shuts down (FIN for a TcpStream).
//      BufferedStream recurses into UnderlyingStream after the flush.
//      write-only     (CanRead false, e.g. a GZipStream in compress mode, a pipe's write end) disposed, unless
//                     leaveOpen: for such a stream closing is how the write direction ends.
//      anything else  flushed only: a read-write Stream with no half-close cannot tell the peer "no more data"
//                     without also closing the read side; dispose the adapter when done.
//  - Threading: awaits use ConfigureAwait(true). A BCL task completes on whatever thread, but a caller running on
//    a Kyoto worker has the runtime's SynchronizationContext captured and resumes on the runtime.
//
// Invariants: one read and one write at a time (the Stream's rule); _writeShut and _disposed go 0 -> 1 once.
using System.Net.Security;
using System.Net.Sockets;

namespace Kyoto.IO;

/// <summary>
/// A Kyoto <see cref="IAsyncDuplex"/> over a <see cref="Stream"/>: reads and writes forward to the stream's
/// <see cref="Memory{T}"/> overloads, <see cref="WriteAsync"/> always writes the whole buffer, and
/// <see cref="ShutdownAsync"/> closes the write direction as far as the stream's type allows (see remarks).
/// </summary>
/// <remarks>
/// <para><see cref="ShutdownAsync"/> flushes, makes later writes throw <see cref="InvalidOperationException"/>, then:
/// an <see cref="SslStream"/> sends TLS close_notify (<see cref="SslStream.ShutdownAsync"/>; the peer reads end of
/// stream; the transport stays open until disposed); a <see cref="NetworkStream"/> shuts its socket's send side
/// down; a <see cref="KyotoStream"/> shuts its Kyoto writer down; a <see cref="BufferedStream"/> shuts its
/// underlying stream down; a write-only stream is disposed (unless <c>leaveOpen</c>); any other read-write stream
/// is only flushed, since System.IO has no half-close for it.</para>
/// <para>Disposing disposes the stream unless created with <c>leaveOpen</c>.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var tls = new SslStream(tcp.AsStream());
/// await tls.AuthenticateAsClientAsync("example.com");
/// IAsyncDuplex secure = tls.AsAsyncDuplex();   // Kyoto helpers and pipes over TLS
/// </code>
/// </example>
public sealed class StreamDuplex : IAsyncDuplex, IDisposable, IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private int _writeShut;
    private int _disposed;

    /// <summary>Adapts <paramref name="stream"/>.</summary>
    /// <param name="stream">The stream to read from and write to.</param>
    /// <param name="leaveOpen">True to leave <paramref name="stream"/> undisposed when this adapter is disposed (and by <see cref="ShutdownAsync"/>). Defaults to false.</param>
    public StreamDuplex(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>The adapted stream.</summary>
    public Stream InnerStream => _stream;

    /// <summary>Reads into <paramref name="buffer"/>: the byte count, 0 at end of stream (and at once for an empty buffer).</summary>
    /// <remarks><b>Cancel safety:</b> that of the stream (for most BCL streams a cancelled read may leave the stream unusable).</remarks>
    /// <exception cref="ObjectDisposedException">The adapter was disposed.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();

        // The IAsyncReader contract: an empty buffer returns 0 at once. NetworkStream and SslStream would wait
        // for data instead (a zero-byte read is how they wait for readability).
        return buffer.IsEmpty ? new ValueTask<int>(0) : _stream.ReadAsync(buffer, cancellationToken);
    }

    /// <summary>Writes all of <paramref name="buffer"/>: returns its length.</summary>
    /// <remarks><b>Cancel safety:</b> that of the stream: a cancelled write may have written a prefix.</remarks>
    /// <exception cref="ObjectDisposedException">The adapter was disposed.</exception>
    /// <exception cref="InvalidOperationException">The write side was shut down.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (Volatile.Read(ref _writeShut) != 0)
        {
            throw new InvalidOperationException("The write side of this StreamDuplex was shut down.");
        }

        ValueTask pending = _stream.WriteAsync(buffer, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            return new ValueTask<int>(buffer.Length);
        }

        return AwaitWriteAsync(pending, buffer.Length);
    }

    /// <summary>Flushes the stream.</summary>
    /// <exception cref="ObjectDisposedException">The adapter was disposed.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return new ValueTask(_stream.FlushAsync(cancellationToken));
    }

    /// <summary>Flushes, refuses later writes and closes the write direction as the stream's type allows (see the type's remarks).</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled shutdown leaves the write side refused; the stream may or may not have sent its close.</remarks>
    /// <exception cref="ObjectDisposedException">The adapter was disposed.</exception>
    public async ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (Interlocked.Exchange(ref _writeShut, 1) != 0)
        {
            return;
        }

        await CloseWriteSideAsync(_stream, _leaveOpen, cancellationToken).ConfigureAwait(true);
    }

    /// <summary>Disposes the stream unless left open.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>Disposes the stream asynchronously unless left open.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen)
        {
            return _stream.DisposeAsync();
        }

        return default;
    }

    private static async ValueTask CloseWriteSideAsync(Stream stream, bool leaveOpen, CancellationToken cancellationToken)
    {
        await stream.FlushAsync(cancellationToken).ConfigureAwait(true);
        switch (stream)
        {
            case SslStream ssl:
                await ssl.ShutdownAsync().WaitAsync(cancellationToken).ConfigureAwait(true);
                break;
            case NetworkStream network:
                network.Socket.Shutdown(SocketShutdown.Send);
                break;
            case KyotoStream kyoto:
                await kyoto.ShutdownAsync(cancellationToken).ConfigureAwait(true);
                break;
            case BufferedStream buffered:
                await CloseWriteSideAsync(buffered.UnderlyingStream, leaveOpen, cancellationToken).ConfigureAwait(true);
                break;
            case { CanRead: false } when !leaveOpen:
                await stream.DisposeAsync().ConfigureAwait(true);
                break;
            default:
                break;
        }
    }

    private static async ValueTask<int> AwaitWriteAsync(ValueTask pending, int length)
    {
        await pending.ConfigureAwait(true);
        return length;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
