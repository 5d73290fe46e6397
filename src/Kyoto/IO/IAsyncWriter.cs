namespace Kyoto.IO;

/// <summary>
/// A sink of bytes written asynchronously (Tokio's <c>AsyncWrite</c>): sockets, write halves, pipes, buffered
/// writers. Kyoto.IO's helpers (write all, copy) work on any of them.
/// </summary>
/// <remarks>
/// Contract: <see cref="WriteAsync"/> waits until the sink takes at least one byte and returns how many it took
/// (0 only for an empty buffer). <see cref="FlushAsync"/> pushes buffered bytes to the underlying sink.
/// <see cref="ShutdownAsync"/> flushes, then closes the write direction (a socket sends FIN; the peer reads end
/// of stream); writing after it throws. One write at a time; a write cancelled through its token wrote nothing.
/// </remarks>
public interface IAsyncWriter
{
    /// <summary>Writes a prefix of <paramref name="buffer"/>: how many bytes the sink took.</summary>
    ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Pushes buffered bytes to the underlying sink.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Flushes and closes the write direction.</summary>
    ValueTask ShutdownAsync(CancellationToken cancellationToken = default);
}
