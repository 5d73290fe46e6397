// Design: every helper is a loop over IAsyncReader.ReadAsync (or FillBufferAsync/Consume on a buffered reader)
// and holds no state between calls, so each is exactly as cancel safe as the loop position it stops at: what
// was read before the cancellation is either in the caller's buffer (read exactly, read at least) or consumed
// and lost (read to end, read until, read line). The buffered helpers consume only what they have copied out,
// so a line that fails to decode is consumed whole and the next call starts at the next line.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kyoto.IO;

/// <summary>
/// Helpers over <see cref="IAsyncReader"/> and <see cref="IAsyncBufferedReader"/> (Tokio's <c>AsyncReadExt</c>
/// and <c>AsyncBufReadExt</c>): read exactly, read at least, read to end, read until a delimiter, read lines.
/// </summary>
/// <example>
/// <code>
/// var reader = new AsyncBufferedReader(tcpStream);
/// await foreach (string line in reader.ReadLinesAsync(cancellationToken))
/// {
///     Console.WriteLine(line);
/// }
/// </code>
/// </example>
public static class AsyncReaderExtensions
{
    // Strict UTF-8: invalid bytes throw instead of becoming U+FFFD, so corrupt input is never silently accepted.
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // The first chunk of read to end (grown by doubling after that).
    private const int InitialReadToEndChunk = 4096;

    /// <summary>Reads until <paramref name="buffer"/> is full.</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> not safe: a cancelled call may have filled a prefix of <paramref name="buffer"/>, and
    /// how much is not reported.
    /// </remarks>
    /// <exception cref="EndOfStreamException">The stream ended first; the message says how many bytes were read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask ReadExactlyAsync(this IAsyncReader reader, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ValueTask<int> read = reader.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: true, cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            _ = read.Result;
            return default;
        }

        return AwaitIgnoringCountAsync(read);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitIgnoringCountAsync(ValueTask<int> read) => await read.ConfigureAwait(true);

    /// <summary>
    /// Reads until at least <paramref name="minimumBytes"/> bytes are in <paramref name="buffer"/> (more may be
    /// read, up to its length): the count read.
    /// </summary>
    /// <param name="reader">The source.</param>
    /// <param name="buffer">Where to read to.</param>
    /// <param name="minimumBytes">The least to read; at most <paramref name="buffer"/>'s length.</param>
    /// <param name="throwOnEndOfStream">
    /// True (the default) to throw <see cref="EndOfStreamException"/> if the stream ends first; false to return
    /// the (smaller) count read instead.
    /// </param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <remarks><b>Cancel safety:</b> not safe: a cancelled call may have filled a prefix of <paramref name="buffer"/>.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumBytes"/> is negative or more than the buffer holds.</exception>
    /// <exception cref="EndOfStreamException">The stream ended first and <paramref name="throwOnEndOfStream"/> is true.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static ValueTask<int> ReadAtLeastAsync(
        this IAsyncReader reader,
        Memory<byte> buffer,
        int minimumBytes,
        bool throwOnEndOfStream = true,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minimumBytes, buffer.Length);
        if (minimumBytes == 0)
        {
            return new ValueTask<int>(0);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        // Fast path: one read that completes at once and is enough.
        ValueTask<int> first = reader.ReadAsync(buffer, cancellationToken);
        if (first.IsCompletedSuccessfully)
        {
            int n = first.Result;
            if (n >= minimumBytes)
            {
                return new ValueTask<int>(n);
            }

            if (n == 0)
            {
                return throwOnEndOfStream ? ValueTask.FromException<int>(EndOfStream(0, minimumBytes)) : new ValueTask<int>(0);
            }

            return ReadAtLeastSlowAsync(reader, buffer, minimumBytes, throwOnEndOfStream, n, pending: default, hasPending: false, cancellationToken);
        }

        return ReadAtLeastSlowAsync(reader, buffer, minimumBytes, throwOnEndOfStream, 0, first, hasPending: true, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> ReadAtLeastSlowAsync(
        IAsyncReader reader,
        Memory<byte> buffer,
        int minimumBytes,
        bool throwOnEndOfStream,
        int total,
        ValueTask<int> pending,
        bool hasPending,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            int n;
            if (hasPending)
            {
                hasPending = false;
                n = await pending.ConfigureAwait(true);
            }
            else
            {
                n = await reader.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(true);
            }

            if (n == 0)
            {
                if (throwOnEndOfStream)
                {
                    throw EndOfStream(total, minimumBytes);
                }

                return total;
            }

            total += n;
            if (total >= minimumBytes)
            {
                return total;
            }
        }
    }

    private static EndOfStreamException EndOfStream(int read, int required) =>
        new($"The stream ended after {read} of the {required} bytes required.");

    /// <summary>Reads until end of stream and returns everything read.</summary>
    /// <remarks>
    /// The result grows without bound: only read a source whose size is known to be reasonable.
    /// <b>Cancel safety:</b> not safe: what was read before the cancellation is lost.
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<byte[]> ReadToEndAsync(this IAsyncReader reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var output = new ArrayBufferWriter<byte>(InitialReadToEndChunk);
        await reader.ReadToEndAsync(output, cancellationToken).ConfigureAwait(true);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads until end of stream, appending everything read to <paramref name="destination"/>: the count read.
    /// </summary>
    /// <remarks>
    /// Each read goes straight into memory from <paramref name="destination"/> (no intermediate copy).
    /// <b>Cancel safety:</b> partly safe: every byte read before the cancellation has been appended (and
    /// advanced) in <paramref name="destination"/>; the count is not reported.
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<long> ReadToEndAsync(this IAsyncReader reader, IBufferWriter<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(destination);
        long total = 0;
        int chunk = InitialReadToEndChunk;
        while (true)
        {
            Memory<byte> memory = destination.GetMemory(chunk);
            int n = await reader.ReadAsync(memory, cancellationToken).ConfigureAwait(true);
            if (n == 0)
            {
                return total;
            }

            destination.Advance(n);
            total += n;
            if (n == memory.Length && chunk < 1 << 20)
            {
                // The source keeps filling what it is given: ask for bigger chunks (up to 1 MiB).
                chunk *= 2;
            }
        }
    }

    /// <summary>
    /// Reads up to and including <paramref name="delimiter"/>, appending the bytes (delimiter included) to
    /// <paramref name="destination"/>: how many were appended; 0 at end of stream. If the stream ends before a
    /// delimiter, the bytes up to the end are appended and counted.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> partly safe: the bytes consumed before the cancellation have been appended to
    /// <paramref name="destination"/> and nothing else was consumed, so calling again with the same destination
    /// continues the same record.
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<int> ReadUntilAsync(
        this IAsyncBufferedReader reader,
        byte delimiter,
        IBufferWriter<byte> destination,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(destination);
        int total = 0;
        while (true)
        {
            ReadOnlyMemory<byte> available = await reader.FillBufferAsync(cancellationToken).ConfigureAwait(true);
            if (available.IsEmpty)
            {
                return total;
            }

            int index = available.Span.IndexOf(delimiter);
            int take = index >= 0 ? index + 1 : available.Length;
            destination.Write(available.Span[..take]);
            reader.Consume(take);
            total = checked(total + take);
            if (index >= 0)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Reads one line of UTF-8 text: the line without its terminator (<c>\n</c> or <c>\r\n</c>), or null at end
    /// of stream. The last line needs no terminator; an empty line is <c>""</c>.
    /// </summary>
    /// <remarks>
    /// <para>A line has no length limit: it is held in memory whole. For untrusted input, use
    /// <see cref="ReadUntilAsync"/> with a destination that enforces a limit.</para>
    /// <para><b>Cancel safety:</b> not safe: the part of a line consumed before the cancellation is lost.</para>
    /// </remarks>
    /// <exception cref="InvalidDataException">
    /// The line is not valid UTF-8. The line has been consumed whole, so the next call reads the next line.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<string?> ReadLineAsync(this IAsyncBufferedReader reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ReadOnlyMemory<byte> available = await reader.FillBufferAsync(cancellationToken).ConfigureAwait(true);
        if (available.IsEmpty)
        {
            return null;
        }

        int index = available.Span.IndexOf((byte)'\n');
        if (index >= 0)
        {
            // The common case: the whole line is buffered; decode it in place.
            try
            {
                return DecodeLine(available.Span[..index], terminated: true);
            }
            finally
            {
                reader.Consume(index + 1);
            }
        }

        var line = new ArrayBufferWriter<byte>(Math.Max(256, available.Length * 2));
        line.Write(available.Span);
        reader.Consume(available.Length);
        await reader.ReadUntilAsync((byte)'\n', line, cancellationToken).ConfigureAwait(true);
        ReadOnlySpan<byte> bytes = line.WrittenSpan;
        bool terminated = bytes.Length > 0 && bytes[^1] == '\n';
        return DecodeLine(terminated ? bytes[..^1] : bytes, terminated);
    }

    /// <summary>
    /// The lines of the stream (as <see cref="ReadLineAsync"/> reads them) until end of stream.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="ReadLineAsync"/>.</remarks>
    /// <exception cref="InvalidDataException">A line is not valid UTF-8 (thrown by the enumeration).</exception>
    public static async IAsyncEnumerable<string> ReadLinesAsync(
        this IAsyncBufferedReader reader,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(true) is { } line)
        {
            yield return line;
        }
    }

    /// <summary>
    /// Decodes a line without its <c>\n</c>, dropping the <c>\r</c> of a <c>\r\n</c> (<paramref name="terminated"/>:
    /// the line ended with <c>\n</c>); a last line without one keeps a final <c>\r</c>, as Tokio's <c>lines()</c> does.
    /// </summary>
    private static string DecodeLine(ReadOnlySpan<byte> line, bool terminated)
    {
        if (terminated && line.Length > 0 && line[^1] == '\r')
        {
            line = line[..^1];
        }

        try
        {
            return s_strictUtf8.GetString(line);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"The line is not valid UTF-8 (invalid byte at offset {e.Index} of {line.Length}).", e);
        }
    }
}
