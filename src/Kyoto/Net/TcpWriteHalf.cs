using System.Net;
using System.Net.Sockets;
using Kyoto.IO;

namespace Kyoto.Net;

/// <summary>
/// The write half of a <see cref="TcpStream"/> after <see cref="TcpStream.Split"/> (Tokio's <c>OwnedWriteHalf</c>):
/// it can live in another task than the read half. Disposing it shuts down the write side (the peer reads end of
/// stream); the connection closes when both halves are disposed.
/// </summary>
public sealed class TcpWriteHalf : IAsyncWriter, IDisposable
{
    private int _released;

    internal TcpWriteHalf(TcpStream stream) => Stream = stream;

    internal TcpStream Stream { get; }

    /// <summary>The local address and port.</summary>
    public IPEndPoint LocalEndPoint => Stream.LocalEndPoint;

    /// <summary>The peer's address and port.</summary>
    public IPEndPoint RemoteEndPoint => Stream.RemoteEndPoint;

    /// <inheritdoc cref="TcpStream.WriteAsync"/>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return Stream.WriteAsync(buffer, cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.WriteAllAsync"/>
    public ValueTask WriteAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return Stream.WriteAllAsync(buffer, cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.TryWrite"/>
    public bool TryWrite(ReadOnlySpan<byte> buffer, out int bytesWritten)
    {
        ThrowIfReleased();
        return Stream.TryWrite(buffer, out bytesWritten);
    }

    /// <inheritdoc cref="TcpStream.WritableAsync"/>
    public ValueTask WritableAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return Stream.WritableAsync(cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.FlushAsync"/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return Stream.FlushAsync(cancellationToken);
    }

    /// <inheritdoc cref="TcpStream.ShutdownAsync"/>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReleased();
        return Stream.ShutdownAsync(cancellationToken);
    }

    internal void ThrowIfReleased() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);

    internal void MarkReunited() => Volatile.Write(ref _released, 1);

    /// <summary>Shuts down the write side and gives up this half; the connection closes once the read half is disposed too.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        try
        {
            Stream.ShutdownWrite();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The connection is already gone: nothing left to shut down.
        }

        Stream.ReleaseHalf();
    }
}
