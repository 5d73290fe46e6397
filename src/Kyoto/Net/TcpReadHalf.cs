using System.Net;
using Kyoto.IO;

namespace Kyoto.Net;

/// <summary>
/// The read half of a <see cref="TcpStream"/> after <see cref="TcpStream.Split"/> (Tokio's <c>OwnedReadHalf</c>):
/// it can live in another task than the write half. The connection closes when both halves are disposed.
/// </summary>
public sealed class TcpReadHalf : IAsyncReader, IDisposable
{
    private readonly TcpStream _stream;
    private int _released;

    internal TcpReadHalf(TcpStream stream) => _stream = stream;

    /// <summary>The local address and port.</summary>
    public IPEndPoint LocalEndPoint => _stream.LocalEndPoint;

    /// <summary>The peer's address and port.</summary>
    public IPEndPoint RemoteEndPoint => _stream.RemoteEndPoint;

    /// <inheritdoc cref="TcpStream.ReadAsync"/>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return _stream.ReadAsync(buffer, cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.PeekAsync"/>
    public ValueTask<int> PeekAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return _stream.PeekAsync(buffer, cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.TryRead"/>
    public bool TryRead(Span<byte> buffer, out int bytesRead)
    {
        ThrowIfReleased();
        return _stream.TryRead(buffer, out bytesRead);
    }

    /// <inheritdoc cref="TcpStream.ReadableAsync"/>
    public ValueTask ReadableAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return _stream.ReadableAsync(cancellationToken);
    }

    /// <summary>
    /// Puts this half and <paramref name="writer"/> back together into the original stream; both halves become
    /// unusable (disposing them does nothing).
    /// </summary>
    /// <exception cref="ArgumentException">The halves come from different streams.</exception>
    /// <exception cref="ObjectDisposedException">A half was already disposed or reunited.</exception>
    public TcpStream Reunite(TcpWriteHalf writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!ReferenceEquals(writer.Stream, _stream))
        {
            throw new ArgumentException("The write half belongs to another stream.", nameof(writer));
        }

        ThrowIfReleased();
        writer.ThrowIfReleased();
        if (!_stream.TryReunite())
        {
            throw new ObjectDisposedException(nameof(TcpWriteHalf), "A half of this stream was already disposed.");
        }

        Volatile.Write(ref _released, 1);
        writer.MarkReunited();
        return _stream;
    }

    private void ThrowIfReleased() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);

    /// <summary>Gives up this half; the connection closes once the write half is disposed too.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _stream.ReleaseHalf();
        }
    }
}
