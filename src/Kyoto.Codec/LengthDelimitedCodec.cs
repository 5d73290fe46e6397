// LengthDelimitedCodec is stateless: each TryDecode parses the head again, so nothing is consumed until a whole
// frame is buffered, one instance may serve any number of streams, and TryDecodeEof's default (bytes left over
// are a truncated frame) is exact. Every length is checked (negative, overflow, maximum) as soon as the head is
// buffered, before any byte of the body is waited for.
using System.Buffers;

namespace Kyoto.Codec;

/// <summary>
/// Frames delimited by a length prefix (tokio-util's <c>LengthDelimitedCodec</c>). Decodes to slices of the read
/// buffer (no copy); encodes a length field followed by the frame.
/// </summary>
/// <remarks>
/// <para>Defaults: a 4-byte big-endian length at offset 0 counting the bytes after it, dropped from the frame;
/// frames up to 8 MiB. Other layouts: <see cref="LengthDelimitedCodecBuilder"/>.</para>
/// <para><b>Frame lifetime:</b> a decoded <see cref="ReadOnlySequence{T}"/> is a slice of the framed reader's
/// buffer, valid until the framed reader's next call that may read (see <see cref="FramedRead{T}"/>). To keep
/// frames longer, wrap the codec in a <see cref="CopyingDecoder"/> (one <c>byte[]</c> per frame).</para>
/// <para>Stateless and thread-safe: one instance may serve many streams.</para>
/// </remarks>
/// <example>
/// <code>
/// var (a, b) = MemoryDuplex.Create(64 * 1024);
/// var codec = new LengthDelimitedCodec();
/// await using var writer = new FramedWrite&lt;ReadOnlyMemory&lt;byte&gt;&gt;(a, codec);
/// await using var reader = new FramedRead&lt;ReadOnlySequence&lt;byte&gt;&gt;(b, codec);
/// await writer.SendAsync("hello"u8.ToArray());
/// ReadOnlySequence&lt;byte&gt; frame = await reader.ReadAsync(); // "hello", valid until the next read
/// </code>
/// </example>
public sealed class LengthDelimitedCodec : ICodec<ReadOnlySequence<byte>>, IEncoder<ReadOnlyMemory<byte>>, IEncoder<byte[]>
{
    private readonly int _offset;
    private readonly int _fieldLength;
    private readonly bool _bigEndian;
    private readonly long _adjustment;
    private readonly int _skip;
    private readonly int _maxFrameLength;
    private readonly int _headLength;

    /// <summary>Creates the codec with the default options (see <see cref="LengthDelimitedCodecBuilder"/>).</summary>
    public LengthDelimitedCodec()
        : this(new LengthDelimitedCodecBuilder())
    {
    }

    internal LengthDelimitedCodec(LengthDelimitedCodecBuilder options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.LengthFieldOffset, nameof(options.LengthFieldOffset));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.LengthFieldLength, 1, nameof(options.LengthFieldLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.LengthFieldLength, 8, nameof(options.LengthFieldLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.LengthFieldOffset, int.MaxValue - options.LengthFieldLength, nameof(options.LengthFieldOffset));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxFrameLength, nameof(options.MaxFrameLength));
        if (options.NumSkip is int skip)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(skip, nameof(options.NumSkip));
        }

        _offset = options.LengthFieldOffset;
        _fieldLength = options.LengthFieldLength;
        _bigEndian = options.BigEndian;
        _adjustment = options.LengthAdjustment;
        _headLength = checked(_offset + _fieldLength);
        _skip = options.NumSkip ?? _headLength;
        _maxFrameLength = options.MaxFrameLength;
    }

    /// <summary>A builder of the default options, to change some.</summary>
    public static LengthDelimitedCodecBuilder Builder() => new();

    /// <summary>The longest frame accepted, in bytes.</summary>
    public int MaxFrameLength => _maxFrameLength;

    /// <summary>Decodes one frame: a slice of <paramref name="buffer"/> (no copy), once the whole frame is buffered.</summary>
    /// <exception cref="InvalidLengthException">The length is negative (an 8-byte field of 2^63 or more, or made negative by the adjustment) or overflows.</exception>
    /// <exception cref="FrameTooLargeException">The frame is longer than <see cref="MaxFrameLength"/>.</exception>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        long available = buffer.Length;
        if (available < _headLength)
        {
            frame = default;
            return false;
        }

        ulong field = ReadField(buffer);
        if (field > long.MaxValue)
        {
            throw new InvalidLengthException(field, "the length is negative (2^63 or more)");
        }

        long length = (long)field + _adjustment;
        if (_adjustment > 0 && length < 0)
        {
            throw new InvalidLengthException(field, $"adding the length adjustment {_adjustment} overflows");
        }

        if (length < 0)
        {
            throw new InvalidLengthException(field, $"the length adjustment {_adjustment} makes it negative");
        }

        if (length > _maxFrameLength)
        {
            throw new FrameTooLargeException(_maxFrameLength, length);
        }

        if (_skip + length < _headLength)
        {
            // The frame would end inside its own head: it would consume less than the head, or nothing at all, and
            // the next call would parse the same bytes again (an endless run of empty frames).
            throw new InvalidLengthException(field, $"the frame ({length} bytes after skipping {_skip}) would end inside its {_headLength}-byte head");
        }

        if (available < _skip + length || available < _headLength)
        {
            frame = default;
            return false;
        }

        frame = buffer.Slice(_skip, length);
        buffer = buffer.Slice(frame.End);
        return true;
    }

    private ulong ReadField(in ReadOnlySequence<byte> buffer)
    {
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= _headLength)
        {
            return ParseField(first.Slice(_offset, _fieldLength));
        }

        Span<byte> scratch = stackalloc byte[8];
        buffer.Slice(_offset, _fieldLength).CopyTo(scratch);
        return ParseField(scratch[.._fieldLength]);
    }

    private ulong ParseField(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        if (_bigEndian)
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                value = (value << 8) | bytes[i];
            }
        }
        else
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                value = (value << 8) | bytes[i];
            }
        }

        return value;
    }

    /// <summary>Writes the length field, then <paramref name="frame"/>.</summary>
    /// <exception cref="FrameTooLargeException">The frame is longer than <see cref="MaxFrameLength"/>, or its length does not fit the length field.</exception>
    /// <exception cref="InvalidLengthException">The length adjustment makes the field negative.</exception>
    public void Encode(ReadOnlySequence<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (frame.IsSingleSegment)
        {
            Encode(frame.FirstSpan, output);
            return;
        }

        WriteHead(frame.Length, output);
        foreach (ReadOnlyMemory<byte> segment in frame)
        {
            output.Write(segment.Span);
        }
    }

    /// <inheritdoc cref="Encode(ReadOnlySequence{byte}, IBufferWriter{byte})"/>
    public void Encode(ReadOnlyMemory<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Encode(frame.Span, output);
    }

    /// <inheritdoc cref="Encode(ReadOnlySequence{byte}, IBufferWriter{byte})"/>
    public void Encode(byte[] frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        Encode(frame.AsSpan(), output);
    }

    private void Encode(ReadOnlySpan<byte> frame, IBufferWriter<byte> output)
    {
        CheckLength(frame.Length, out ulong field);
        Span<byte> span = output.GetSpan(_fieldLength + frame.Length);
        WriteField(span, field);
        frame.CopyTo(span[_fieldLength..]);
        output.Advance(_fieldLength + frame.Length);
    }

    private void WriteHead(long length, IBufferWriter<byte> output)
    {
        CheckLength(length, out ulong field);
        WriteField(output.GetSpan(_fieldLength), field);
        output.Advance(_fieldLength);
    }

    private void CheckLength(long length, out ulong field)
    {
        if (length > _maxFrameLength)
        {
            throw new FrameTooLargeException(_maxFrameLength, length);
        }

        long value = length - _adjustment;
        if (value < 0)
        {
            throw new InvalidLengthException(unchecked((ulong)value), $"a frame of {length} bytes minus the length adjustment {_adjustment} is negative");
        }

        if (_fieldLength < 8 && (ulong)value >= 1UL << (8 * _fieldLength))
        {
            throw new FrameTooLargeException((long)((1UL << (8 * _fieldLength)) - 1) + _adjustment, length);
        }

        field = (ulong)value;
    }

    private void WriteField(Span<byte> span, ulong field)
    {
        for (int i = 0; i < _fieldLength; i++)
        {
            int shift = _bigEndian ? 8 * (_fieldLength - 1 - i) : 8 * i;
            span[i] = (byte)(field >> shift);
        }
    }
}
