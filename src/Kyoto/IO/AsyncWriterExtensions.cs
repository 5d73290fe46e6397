using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Kyoto.Net;

namespace Kyoto.IO;

/// <summary>Helpers over <see cref="IAsyncWriter"/> (Tokio's <c>AsyncWriteExt</c>): write all.</summary>
/// <example>
/// <code>
/// await writer.WriteAllAsync("hello\n"u8.ToArray(), cancellationToken);
/// await writer.FlushAsync(cancellationToken);
/// </code>
/// </example>
public static class AsyncWriterExtensions
{
    /// <summary>Writes all of <paramref name="buffer"/>, calling <see cref="IAsyncWriter.WriteAsync"/> until the sink has taken every byte.</summary>
    /// <remarks>
    /// <para>Does not flush. A type with its own write all (such as <see cref="TcpStream.WriteAllAsync"/>) is
    /// called through that method instead when the static type is known.</para>
    /// <para><b>Cancel safety:</b> not safe: a write cancelled midway may have written a prefix of the buffer,
    /// and how much is not reported.</para>
    /// </remarks>
    /// <exception cref="PartialWriteException">
    /// A write failed with an <see cref="IOException"/> or <see cref="SocketException"/> (the inner exception), or
    /// took 0 bytes of a non-empty buffer ("write zero"): <see cref="PartialWriteException.BytesWritten"/> says
    /// how much of <paramref name="buffer"/> the sink took before. Other exceptions (cancellation, disposal)
    /// pass through unwrapped.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask WriteAllAsync(this IAsyncWriter writer, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (buffer.IsEmpty)
        {
            return default;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ValueTask<int> first;
        try
        {
            first = writer.WriteAsync(buffer, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return ValueTask.FromException(new PartialWriteException(0, e));
        }

        if (first.IsCompletedSuccessfully)
        {
            int n = first.Result;
            if (n == buffer.Length)
            {
                return default;
            }

            if (n <= 0)
            {
                return ValueTask.FromException(WriteZero(0));
            }

            return WriteAllSlowAsync(writer, buffer, n, pending: default, hasPending: false, cancellationToken);
        }

        return WriteAllSlowAsync(writer, buffer, 0, first, hasPending: true, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask WriteAllSlowAsync(
        IAsyncWriter writer,
        ReadOnlyMemory<byte> buffer,
        int written,
        ValueTask<int> pending,
        bool hasPending,
        CancellationToken cancellationToken)
    {
        while (written < buffer.Length)
        {
            int n;
            try
            {
                if (hasPending)
                {
                    hasPending = false;
                    n = await pending.ConfigureAwait(true);
                }
                else
                {
                    n = await writer.WriteAsync(buffer[written..], cancellationToken).ConfigureAwait(true);
                }
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new PartialWriteException(written, e);
            }

            if (n <= 0)
            {
                throw WriteZero(written);
            }

            written += n;
        }
    }

    private static PartialWriteException WriteZero(int written) =>
        new(written, new IOException("write zero: the writer took 0 bytes of a non-empty buffer."));
}
