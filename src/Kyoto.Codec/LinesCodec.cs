// LinesCodec keeps one piece of state, its scanner's Discarding: set when a line over the maximum was refused and its
// end has not been seen yet. While it is set, TryDecode consumes bytes up to and including the next '\n' and then
// decodes normally again (tokio-util's resynchronisation). Because of that state, use one instance per stream.
// A line is searched for in at most MaxLength + 1 bytes, so a flood without newlines never makes the framed
// reader's buffer grow past about MaxLength: the codec refuses it and discards it as it arrives.
using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Kyoto.Codec.Internal;

namespace Kyoto.Codec;

/// <summary>
/// Lines of UTF-8 text (tokio-util's <c>LinesCodec</c>): decodes a line ended by <c>\n</c> (a <c>\r</c> before
/// it is dropped) into a <see cref="string"/> without its terminator; encodes a string followed by <c>\n</c>.
/// </summary>
/// <remarks>
/// <para>A line longer than <see cref="MaxLength"/> bytes (its <c>\r</c> included, its <c>\n</c> not) is refused
/// with <see cref="LineTooLongException"/>, before it is buffered whole; the codec then discards it up to the next
/// <c>\n</c> and the next read returns the following line. A line that is not valid UTF-8 is consumed whole and
/// refused with <see cref="InvalidUtf8Exception"/> naming the offset of the first bad byte; the next read
/// returns the following line.</para>
/// <para>At end of stream, bytes after the last <c>\n</c> are a last line (as <c>StreamReader.ReadLine</c>).</para>
/// <para>Holds decoding state: one instance per stream.</para>
/// </remarks>
/// <example>
/// <code>
/// await using var framed = Framed.Create(connection, new LinesCodec(maxLength: 1024));
/// await foreach (string line in framed)
/// {
///     await framed.SendAsync(line.ToUpperInvariant());
/// }
/// </code>
/// </example>
public sealed class LinesCodec : ICodec<string>
{
    /// <summary>The default <see cref="MaxLength"/>: 64 KiB, far above any line of a text protocol, and a bound on what a peer can make a connection buffer.</summary>
    public const int DefaultMaxLength = 64 * 1024;

    private readonly int _maxLength;
    private readonly DelimitedScanner _scanner;

    /// <summary>Creates the codec.</summary>
    /// <param name="maxLength">The longest line accepted, in bytes. Defaults to <see cref="DefaultMaxLength"/> (64 KiB).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is negative.</exception>
    public LinesCodec(int maxLength = DefaultMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        _maxLength = maxLength;
        _scanner = new DelimitedScanner("\n"u8, maxLength);
    }

    /// <summary>The longest line accepted, in bytes, without its <c>\n</c>.</summary>
    public int MaxLength => _maxLength;

    /// <summary>Decodes the next line, if its <c>\n</c> is buffered.</summary>
    /// <exception cref="LineTooLongException">The line is longer than <see cref="MaxLength"/>; the codec discards it.</exception>
    /// <exception cref="InvalidUtf8Exception">The line is not valid UTF-8; it has been consumed.</exception>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out string frame)
    {
        if (_scanner.TryTake(ref buffer, out ReadOnlySequence<byte> line))
        {
            frame = DecodeLine(line);
            return true;
        }

        frame = string.Empty;
        return false;
    }

    /// <summary>Decodes the next line; at end of stream, the bytes after the last <c>\n</c> are the last line.</summary>
    /// <exception cref="LineTooLongException">The line is longer than <see cref="MaxLength"/>.</exception>
    /// <exception cref="InvalidUtf8Exception">The line is not valid UTF-8; it has been consumed.</exception>
    public bool TryDecodeEof(ref ReadOnlySequence<byte> buffer, out string frame)
    {
        if (TryDecode(ref buffer, out frame))
        {
            return true;
        }

        if (!_scanner.TryTakeLast(ref buffer, out ReadOnlySequence<byte> line))
        {
            return false;
        }

        frame = DecodeLine(line);
        return true;
    }

    /// <summary>Writes <paramref name="frame"/> as UTF-8, then <c>\n</c>. The string is not checked for newlines.</summary>
    public void Encode(string frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        // A short string asks for its worst case (3 bytes per UTF-16 unit) and skips the counting pass.
        int count = frame.Length <= 1024 ? Encoding.UTF8.GetMaxByteCount(frame.Length) : Encoding.UTF8.GetByteCount(frame);
        Span<byte> span = output.GetSpan(count + 1);
        int written = Encoding.UTF8.GetBytes(frame, span);
        span[written] = (byte)'\n';
        output.Advance(written + 1);
    }

    private static string DecodeLine(ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            return DecodeLine(line.FirstSpan);
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent((int)line.Length);
        try
        {
            line.CopyTo(rented);
            return DecodeLine(rented.AsSpan(0, (int)line.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static string DecodeLine(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == '\r')
        {
            line = line[..^1];
        }

        if (!Utf8.IsValid(line))
        {
            throw new InvalidUtf8Exception(Utf8Offsets.FirstInvalid(line), line.Length);
        }

        return Encoding.UTF8.GetString(line);
    }
}
