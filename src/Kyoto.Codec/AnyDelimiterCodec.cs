// AnyDelimiterCodec resynchronises as LinesCodec does (DelimitedScanner: skip to the next seek delimiter after a
// chunk over the maximum), so use one instance per stream. A chunk is searched for in at most MaxLength + 1 bytes.
using System.Buffers;
using System.Text;
using Kyoto.Codec.Internal;

namespace Kyoto.Codec;

/// <summary>
/// Chunks separated by any of a set of delimiter bytes (tokio-util's <c>AnyDelimiterCodec</c>): decodes the bytes
/// before the next seek delimiter (a slice of the read buffer, valid until the framed reader's next read; the
/// delimiter is dropped); encodes a chunk followed by the sequence writer delimiter.
/// </summary>
/// <remarks>
/// <para>A chunk longer than <see cref="MaxLength"/> bytes is refused with <see cref="LineTooLongException"/>
/// before it is buffered whole; the codec discards it up to the next delimiter and continues. At end of stream,
/// the bytes after the last delimiter are a last chunk.</para>
/// <para>Holds decoding state: one instance per stream.</para>
/// </remarks>
/// <example>
/// Values separated by commas or semicolons, written back separated by ";":
/// <code>
/// var codec = new AnyDelimiterCodec(",;"u8.ToArray(), ";"u8.ToArray(), maxLength: 256);
/// await using var framed = Framed.Create(connection, codec);
/// ReadOnlySequence&lt;byte&gt; value = await framed.ReadAsync();
/// </code>
/// </example>
public sealed class AnyDelimiterCodec : ICodec<ReadOnlySequence<byte>>, IEncoder<ReadOnlyMemory<byte>>, IEncoder<string>
{
    /// <summary>The default <see cref="MaxLength"/>: 64 KiB (as <see cref="LinesCodec.DefaultMaxLength"/>).</summary>
    public const int DefaultMaxLength = LinesCodec.DefaultMaxLength;

    private readonly DelimitedScanner _scanner;
    private readonly byte[] _sequenceDelimiter;
    private readonly int _maxLength;

    /// <summary>Creates the codec.</summary>
    /// <param name="seekDelimiters">The bytes that end a chunk when decoding (any one of them).</param>
    /// <param name="sequenceWriterDelimiter">The bytes written after each chunk when encoding.</param>
    /// <param name="maxLength">The longest chunk accepted, in bytes. Defaults to <see cref="DefaultMaxLength"/> (64 KiB).</param>
    /// <exception cref="ArgumentException"><paramref name="seekDelimiters"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is negative.</exception>
    public AnyDelimiterCodec(ReadOnlySpan<byte> seekDelimiters, ReadOnlySpan<byte> sequenceWriterDelimiter, int maxLength = DefaultMaxLength)
    {
        if (seekDelimiters.IsEmpty)
        {
            throw new ArgumentException("At least one seek delimiter is required.", nameof(seekDelimiters));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        _scanner = new DelimitedScanner(seekDelimiters, maxLength);
        _sequenceDelimiter = sequenceWriterDelimiter.ToArray();
        _maxLength = maxLength;
    }

    /// <summary>The longest chunk accepted, in bytes.</summary>
    public int MaxLength => _maxLength;

    /// <summary>Decodes the next chunk, if its delimiter is buffered: a slice of <paramref name="buffer"/>.</summary>
    /// <exception cref="LineTooLongException">The chunk is longer than <see cref="MaxLength"/>; the codec discards it.</exception>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame) =>
        _scanner.TryTake(ref buffer, out frame);

    /// <summary>Decodes the next chunk; at end of stream, the bytes after the last delimiter are the last chunk.</summary>
    /// <exception cref="LineTooLongException">The chunk is longer than <see cref="MaxLength"/>.</exception>
    public bool TryDecodeEof(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        return TryDecode(ref buffer, out frame) || _scanner.TryTakeLast(ref buffer, out frame);
    }

    /// <summary>Writes the chunk, then the sequence writer delimiter.</summary>
    public void Encode(ReadOnlySequence<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (ReadOnlyMemory<byte> segment in frame)
        {
            output.Write(segment.Span);
        }

        output.Write(_sequenceDelimiter);
    }

    /// <summary>Writes the chunk, then the sequence writer delimiter.</summary>
    public void Encode(ReadOnlyMemory<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Span<byte> span = output.GetSpan(frame.Length + _sequenceDelimiter.Length);
        frame.Span.CopyTo(span);
        _sequenceDelimiter.CopyTo(span[frame.Length..]);
        output.Advance(frame.Length + _sequenceDelimiter.Length);
    }

    /// <summary>Writes the string as UTF-8, then the sequence writer delimiter.</summary>
    public void Encode(string frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        int count = Encoding.UTF8.GetByteCount(frame);
        Span<byte> span = output.GetSpan(count + _sequenceDelimiter.Length);
        int written = Encoding.UTF8.GetBytes(frame, span);
        _sequenceDelimiter.CopyTo(span[written..]);
        output.Advance(written + _sequenceDelimiter.Length);
    }
}
