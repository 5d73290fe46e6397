// Composition only: an AsyncBufferedReader and an AsyncBufferedWriter over the same duplex. The read side and
// the write side share no state, so one reader and one writer may use it at the same time, as with the duplex.
namespace Kyoto.IO;

/// <summary>
/// Buffers both directions of an <see cref="IAsyncDuplex"/> (Tokio's <c>BufStream</c>): reads go through an
/// <see cref="AsyncBufferedReader"/>, writes through an <see cref="AsyncBufferedWriter"/>.
/// </summary>
/// <remarks>
/// Remember to flush: written bytes stay buffered until the write buffer fills, <see cref="FlushAsync"/> or
/// <see cref="ShutdownAsync"/>. Disposing drops what is buffered (unwritten, unread) and disposes the inner duplex if it is
/// <see cref="IDisposable"/>.
/// </remarks>
/// <example>
/// <code>
/// var conn = new AsyncBufferedDuplex(tcpStream);
/// await conn.WriteAllAsync("HELLO\n"u8.ToArray());
/// await conn.FlushAsync();
/// string? reply = await conn.ReadLineAsync();
/// </code>
/// </example>
public sealed class AsyncBufferedDuplex : IAsyncBufferedReader, IAsyncDuplex, IDisposable
{
    private readonly IAsyncDuplex _inner;
    private readonly AsyncBufferedReader _reader;
    private readonly AsyncBufferedWriter _writer;

    /// <summary>Wraps <paramref name="inner"/> with a read buffer and a write buffer.</summary>
    /// <param name="inner">The duplex.</param>
    /// <param name="readCapacity">The read buffer size. Defaults to <see cref="AsyncBufferedReader.DefaultCapacity"/> (8 KiB).</param>
    /// <param name="writeCapacity">The write buffer size. Defaults to <see cref="AsyncBufferedWriter.DefaultCapacity"/> (8 KiB).</param>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is not positive.</exception>
    public AsyncBufferedDuplex(
        IAsyncDuplex inner,
        int readCapacity = AsyncBufferedReader.DefaultCapacity,
        int writeCapacity = AsyncBufferedWriter.DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _reader = new AsyncBufferedReader(inner, readCapacity);
        _writer = new AsyncBufferedWriter(inner, writeCapacity);
    }

    /// <summary>The wrapped duplex.</summary>
    public IAsyncDuplex Inner => _inner;

    /// <inheritdoc cref="AsyncBufferedReader.ReadAsync"/>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _reader.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc cref="AsyncBufferedReader.FillBufferAsync"/>
    public ValueTask<ReadOnlyMemory<byte>> FillBufferAsync(CancellationToken cancellationToken = default) =>
        _reader.FillBufferAsync(cancellationToken);

    /// <inheritdoc cref="AsyncBufferedReader.Consume"/>
    public void Consume(int count) => _reader.Consume(count);

    /// <inheritdoc cref="AsyncBufferedWriter.WriteAsync"/>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _writer.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc cref="AsyncBufferedWriter.FlushAsync"/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    /// <inheritdoc cref="AsyncBufferedWriter.ShutdownAsync"/>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => _writer.ShutdownAsync(cancellationToken);

    /// <summary>Disposes the inner duplex if it is <see cref="IDisposable"/>; what is buffered either way is dropped.</summary>
    public void Dispose()
    {
        _reader.Drop();
        _writer.Drop();
        (_inner as IDisposable)?.Dispose();
    }
}
