namespace Kyoto.IO;

/// <summary>
/// A source of bytes read asynchronously (Tokio's <c>AsyncRead</c>): sockets, read halves, pipes, buffered
/// readers. Kyoto.IO's helpers (read exactly, read to end, copy) work on any of them.
/// </summary>
/// <remarks>
/// Contract: <see cref="ReadAsync"/> waits until at least one byte is available and returns how many were read,
/// or returns 0 at end of stream (and keeps returning 0). An empty buffer returns 0 at once.
/// One read at a time; a read cancelled through its token has consumed nothing.
/// </remarks>
public interface IAsyncReader
{
    /// <summary>Reads into <paramref name="buffer"/>: the byte count, 0 at end of stream.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);
}
