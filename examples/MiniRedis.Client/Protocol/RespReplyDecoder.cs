// Design of RespReplyDecoder:
// - Two passes over the buffered bytes. The first (build: false) walks the whole reply without allocating,
//   checks every header, limit and CRLF, and finds out whether the reply is complete. Only when it is does the
//   second pass (build: true) walk the same bytes again and allocate the payloads, so a large array that arrives
//   in many reads is never half-built and thrown away, and a bulk header over MaxBulkLength fails before its
//   bytes are buffered, let alone allocated.
// - Incomplete input consumes nothing (the framed reader keeps every byte for the next call); invalid input
//   throws a RespProtocolException and the stream is unusable afterwards (RESP has no resynchronisation point).
// - Stateless between calls apart from its limits: one instance may serve many connections.
using System.Buffers;
using System.Buffers.Text;
using Kyoto.Codec;

namespace MiniRedis.Client.Protocol;

/// <summary>
/// Decodes RESP2 replies (<see cref="RespValue"/>) for a <see cref="FramedRead{T}"/>, with limits that bound
/// what a misbehaving server can make the client buffer or allocate.
/// </summary>
/// <example>
/// <code>
/// await using var replies = new FramedRead&lt;RespValue&gt;(stream, new RespReplyDecoder());
/// RespValue reply = await replies.ReadAsync();
/// </code>
/// </example>
public sealed class RespReplyDecoder : IDecoder<RespValue>
{
    /// <summary>The default <see cref="MaxBulkLength"/>: 512 MiB, Redis's own <c>proto-max-bulk-len</c> default.</summary>
    public const long DefaultMaxBulkLength = 512L * 1024 * 1024;

    /// <summary>
    /// The default <see cref="MaxNestingDepth"/>: 32. Redis's own replies nest at most a few levels (EXEC of
    /// SCAN-like commands, COMMAND INFO); 32 leaves room while keeping the decoder's recursion shallow.
    /// </summary>
    public const int DefaultMaxNestingDepth = 32;

    /// <summary>
    /// The default <see cref="MaxLineLength"/>: 64 KiB. Status and error lines are short; a longer line without
    /// CRLF means the peer is not speaking RESP.
    /// </summary>
    public const int DefaultMaxLineLength = 64 * 1024;

    private static readonly byte[] Ok = "OK"u8.ToArray();
    private static readonly byte[] Pong = "PONG"u8.ToArray();
    private static readonly byte[] Queued = "QUEUED"u8.ToArray();
    private static readonly byte[] Empty = [];

    /// <summary>Creates a decoder with the default limits.</summary>
    public RespReplyDecoder()
    {
    }

    /// <summary>The largest bulk string accepted, in bytes. Defaults to <see cref="DefaultMaxBulkLength"/> (512 MiB).</summary>
    public long MaxBulkLength { get; init; } = DefaultMaxBulkLength;

    /// <summary>How deep arrays may nest (a top-level array is depth 1). Defaults to <see cref="DefaultMaxNestingDepth"/> (32).</summary>
    public int MaxNestingDepth { get; init; } = DefaultMaxNestingDepth;

    /// <summary>The longest header, status or error line accepted without its CRLF. Defaults to <see cref="DefaultMaxLineLength"/> (64 KiB).</summary>
    public int MaxLineLength { get; init; } = DefaultMaxLineLength;

    /// <inheritdoc />
    /// <exception cref="RespFormatException">The bytes are not RESP2.</exception>
    /// <exception cref="RespLimitException">The reply exceeds a limit.</exception>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out RespValue frame)
    {
        var scan = new SequenceReader<byte>(buffer);
        if (!Read(ref scan, depth: 0, build: false, out _))
        {
            frame = default;
            return false;
        }

        var reader = new SequenceReader<byte>(buffer);
        Read(ref reader, depth: 0, build: true, out frame);
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private bool Read(ref SequenceReader<byte> reader, int depth, bool build, out RespValue value)
    {
        value = default;
        long start = reader.Consumed;
        if (!reader.TryRead(out byte type))
        {
            return false;
        }

        if (!TryReadLine(ref reader, out ReadOnlySequence<byte> line))
        {
            return false;
        }

        switch (type)
        {
            case (byte)'+':
            case (byte)'-':
                if (build)
                {
                    value = RespValue.FromBytes((RespType)type, StatusBytes(line));
                }

                return true;
            case (byte)':':
                long integer = ParseInteger(line, start + 1, "integer");
                value = RespValue.Integer(integer);
                return true;
            case (byte)'$':
                return ReadBulk(ref reader, line, start, build, out value);
            case (byte)'*':
                return ReadArray(ref reader, line, start, depth, build, out value);
            default:
                throw new RespFormatException($"Unknown RESP2 type byte 0x{type:X2} ('{(char)type}')", start);
        }
    }

    private bool ReadBulk(ref SequenceReader<byte> reader, ReadOnlySequence<byte> line, long start, bool build, out RespValue value)
    {
        value = RespValue.NullBulkString;
        long length = ParseInteger(line, start + 1, "bulk length");
        if (length == -1)
        {
            return true;
        }

        if (length < 0)
        {
            throw new RespFormatException($"Negative bulk length {length}", start + 1);
        }

        if (length > MaxBulkLength)
        {
            throw new RespLimitException(nameof(MaxBulkLength), MaxBulkLength, length);
        }

        if (reader.Remaining < length + 2)
        {
            return false;
        }

        long payloadStart = reader.Consumed;
        if (build)
        {
            byte[] bytes = length == 0 ? Empty : new byte[length];
            reader.UnreadSequence.Slice(0, length).CopyTo(bytes);
            value = RespValue.FromBytes(RespType.BulkString, bytes);
        }

        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new RespFormatException($"Bulk string of {length} bytes not followed by CRLF", payloadStart + length);
        }

        return true;
    }

    private bool ReadArray(ref SequenceReader<byte> reader, ReadOnlySequence<byte> line, long start, int depth, bool build, out RespValue value)
    {
        value = RespValue.NullArray;
        long count = ParseInteger(line, start + 1, "array length");
        if (count == -1)
        {
            return true;
        }

        if (count < 0)
        {
            throw new RespFormatException($"Negative array length {count}", start + 1);
        }

        if (depth + 1 > MaxNestingDepth)
        {
            throw new RespLimitException(nameof(MaxNestingDepth), MaxNestingDepth, depth + 1);
        }

        // The scan pass walks every element before the build pass allocates, so the element array is allocated
        // only once all elements are buffered: its size is bounded by the bytes received (3 or more per element).
        RespValue[]? elements = build ? (count == 0 ? [] : new RespValue[count]) : null;
        for (long i = 0; i < count; i++)
        {
            if (!Read(ref reader, depth + 1, build, out RespValue element))
            {
                return false;
            }

            if (elements is not null)
            {
                elements[i] = element;
            }
        }

        if (build)
        {
            value = RespValue.Array(elements);
        }

        return true;
    }

    private bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line)
    {
        if (reader.TryReadTo(out line, "\r\n"u8, advancePastDelimiter: true))
        {
            if (line.Length > MaxLineLength)
            {
                throw new RespLimitException(nameof(MaxLineLength), MaxLineLength, line.Length);
            }

            return true;
        }

        if (reader.Remaining > MaxLineLength + 1)
        {
            throw new RespLimitException(nameof(MaxLineLength), MaxLineLength, reader.Remaining);
        }

        return false;
    }

    private static byte[] StatusBytes(ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            ReadOnlySpan<byte> span = line.FirstSpan;
            if (span.SequenceEqual(Ok))
            {
                return Ok;
            }

            if (span.SequenceEqual(Pong))
            {
                return Pong;
            }

            if (span.SequenceEqual(Queued))
            {
                return Queued;
            }
        }

        return line.Length == 0 ? Empty : line.ToArray();
    }

    private static long ParseInteger(ReadOnlySequence<byte> line, long offset, string what)
    {
        // A long has at most 20 characters with its sign.
        if (line.Length is 0 or > 20)
        {
            throw new RespFormatException($"Invalid {what}: {line.Length} characters", offset);
        }

        Span<byte> scratch = stackalloc byte[20];
        scoped ReadOnlySpan<byte> digits;
        if (line.IsSingleSegment)
        {
            digits = line.FirstSpan;
        }
        else
        {
            line.CopyTo(scratch);
            digits = scratch[..(int)line.Length];
        }

        // Utf8Parser accepts a leading '+' and nothing else we would refuse; RESP never sends one.
        if (digits[0] == (byte)'+' || !Utf8Parser.TryParse(digits, out long value, out int consumed) || consumed != digits.Length)
        {
            throw new RespFormatException($"Invalid {what} '{System.Text.Encoding.ASCII.GetString(digits)}'", offset);
        }

        return value;
    }
}
