// Design: a copy is one loop (read into a pooled buffer, write all of it, repeat; flush at end of stream), as in
// Tokio's CopyBuffer. Two rules from there:
//  1. When the next read cannot complete at once and bytes were written since the last flush, the writer is
//     flushed while the read waits, so a buffered writer never sits on data the peer is waiting for while the
//     copy waits for the peer (the classic request/response deadlock).
//  2. The pooled buffer goes back to the pool only when no read can still be writing into it: if that flush
//     fails while a read is outstanding, the buffer is left to the garbage collector instead.
// The bidirectional copy runs both loops as two operations of one Join.TryAllAsync (no spawned task): the first
// failure cancels the other loop through its token and is rethrown once both have stopped.
using System.Buffers;
using Kyoto.Sync;

namespace Kyoto.IO;

/// <summary>
/// Copies bytes from readers to writers (Tokio's <c>io::copy</c> and <c>io::copy_bidirectional</c>): the body of
/// a proxy, a tee to a file, a pipe between two connections.
/// </summary>
/// <example>
/// <code>
/// // A TCP proxy: everything from the client goes to the server and back, until both sides close.
/// using TcpStream client = await acceptor.AcceptAsync();
/// using TcpStream server = await TcpStream.ConnectAsync(upstream);
/// CopyResult copied = await AsyncCopy.CopyBidirectionalAsync(client, server);
/// </code>
/// </example>
public static class AsyncCopy
{
    /// <summary>The size of the pooled copy buffer: 8 KiB.</summary>
    public const int BufferSize = 8 * 1024;

    /// <summary>
    /// Copies everything <paramref name="reader"/> yields to <paramref name="writer"/> until end of stream, then
    /// flushes <paramref name="writer"/>: the byte count. Does not shut the writer down.
    /// </summary>
    /// <remarks>
    /// Uses an 8 KiB buffer rented from <see cref="ArrayPool{T}.Shared"/>. While waiting for the reader, flushes
    /// what was written since the last flush.
    /// <b>Cancel safety:</b> not safe: bytes read but not yet written when the copy is cancelled are lost, and
    /// the count so far is not reported.
    /// </remarks>
    /// <exception cref="Kyoto.Net.PartialWriteException">A write failed (from <see cref="AsyncWriterExtensions.WriteAllAsync"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<long> CopyAsync(IAsyncReader reader, IAsyncWriter writer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(writer);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        bool readOutstanding = false;
        try
        {
            long total = 0;
            bool unflushed = false;
            while (true)
            {
                ValueTask<int> read = reader.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken);
                if (unflushed && !read.IsCompleted)
                {
                    // Rule 1: the read waits, so push out what the writer holds meanwhile.
                    readOutstanding = true;
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(true);
                    unflushed = false;
                }

                int n;
                try
                {
                    n = await read.ConfigureAwait(true);
                }
                finally
                {
                    readOutstanding = false;
                }

                if (n == 0)
                {
                    break;
                }

                await writer.WriteAllAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(true);
                total += n;
                unflushed = true;
            }

            await writer.FlushAsync(cancellationToken).ConfigureAwait(true);
            return total;
        }
        finally
        {
            // Rule 2: a read still outstanding may write into the buffer later; then it is not returned.
            if (!readOutstanding)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Copies <paramref name="a"/> to <paramref name="b"/> and <paramref name="b"/> to <paramref name="a"/> at the
    /// same time, until both directions reach end of stream: the byte count of each direction.
    /// </summary>
    /// <remarks>
    /// <para>When one direction reads end of stream, its writer is flushed and shut down
    /// (<see cref="IAsyncWriter.ShutdownAsync"/>), so the far side sees the close; the other direction goes on
    /// until it ends too. Both directions run inside the calling task (no task is spawned).</para>
    /// <para>If either direction fails, the other is cancelled, and the first failure is thrown once both have
    /// stopped. Neither stream is disposed.</para>
    /// <para><b>Cancel safety:</b> not safe: bytes in flight are lost, and the counts so far are not reported.</para>
    /// </remarks>
    /// <exception cref="Kyoto.Net.PartialWriteException">A write failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<CopyResult> CopyBidirectionalAsync(IAsyncDuplex a, IAsyncDuplex b, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        (long aToB, long bToA) = await Join.TryAllAsync(
            ct => CopyThenShutdownAsync(a, b, ct),
            ct => CopyThenShutdownAsync(b, a, ct),
            cancellationToken).ConfigureAwait(true);
        return new CopyResult(aToB, bToA);
    }

    private static async ValueTask<long> CopyThenShutdownAsync(IAsyncReader from, IAsyncWriter to, CancellationToken cancellationToken)
    {
        long copied = await CopyAsync(from, to, cancellationToken).ConfigureAwait(true);
        await to.ShutdownAsync(cancellationToken).ConfigureAwait(true);
        return copied;
    }
}
