namespace Kyoto.IO;

/// <summary>
/// A reader with an internal buffer that can be inspected before it is consumed (Tokio's <c>AsyncBufRead</c>):
/// the basis of read line and read until a delimiter.
/// </summary>
public interface IAsyncBufferedReader : IAsyncReader
{
    /// <summary>
    /// The buffered bytes not yet consumed, reading from the underlying source first if there are none; empty
    /// at end of stream. The memory stays valid until the next call on this reader.
    /// </summary>
    ValueTask<ReadOnlyMemory<byte>> FillBufferAsync(CancellationToken cancellationToken = default);

    /// <summary>Marks the first <paramref name="count"/> bytes of the last <see cref="FillBufferAsync"/> result as read.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or more than is buffered.</exception>
    void Consume(int count);
}
