// The resynchronising scan shared by LinesCodec and AnyDelimiterCodec (tokio-util's): a chunk ends at the first
// delimiter; a chunk longer than the maximum is refused with LineTooLongException and then discarded up to and
// including the next delimiter (Discarding), after which decoding resumes. A chunk is searched for in at most
// maxLength + 1 bytes, so a flood without delimiters never makes the framed reader's buffer grow past about the
// maximum. The state makes a scanner (and its codec) belong to one stream.
using System.Buffers;

namespace Kyoto.Codec.Internal;

/// <summary>Finds delimited chunks and resynchronises after an over-long one (see the file's rules).</summary>
internal sealed class DelimitedScanner
{
    private readonly SearchValues<byte> _delimiters;
    private readonly byte[] _delimiterBytes;
    private readonly int _maxLength;

    internal DelimitedScanner(ReadOnlySpan<byte> delimiters, int maxLength)
    {
        _delimiterBytes = delimiters.ToArray();
        _delimiters = SearchValues.Create(delimiters);
        _maxLength = maxLength;
    }

    /// <summary>True while the rest of a refused chunk is being skipped.</summary>
    internal bool Discarding { get; private set; }

    /// <summary>
    /// Takes the next chunk (without its delimiter) and consumes it and its delimiter from
    /// <paramref name="buffer"/>; false when no whole chunk is buffered (bytes of a refused chunk are consumed).
    /// </summary>
    /// <exception cref="LineTooLongException">No delimiter within the maximum: the chunk is refused and discarded.</exception>
    internal bool TryTake(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> chunk)
    {
        while (true)
        {
            long window = Discarding ? buffer.Length : Math.Min(buffer.Length, (long)_maxLength + 1);
            long index = IndexOfDelimiter(buffer, window);
            if (Discarding)
            {
                if (index < 0)
                {
                    buffer = buffer.Slice(buffer.End);
                    chunk = default;
                    return false;
                }

                buffer = buffer.Slice(index + 1);
                Discarding = false;
                continue;
            }

            if (index < 0)
            {
                if (buffer.Length > _maxLength)
                {
                    // The window holds no delimiter: those bytes all belong to the over-long chunk; drop them and
                    // drop the rest of the chunk as it comes.
                    long seen = buffer.Length;
                    buffer = buffer.Slice(window);
                    Discarding = true;
                    throw new LineTooLongException(_maxLength, seen);
                }

                chunk = default;
                return false;
            }

            chunk = buffer.Slice(0, index);
            buffer = buffer.Slice(index + 1);
            return true;
        }
    }

    /// <summary>
    /// At end of stream, after <see cref="TryTake"/> found nothing: the bytes after the last delimiter are the last
    /// chunk (false if there are none, or they belong to a refused chunk). Consumes everything.
    /// </summary>
    internal bool TryTakeLast(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> chunk)
    {
        chunk = buffer;
        buffer = buffer.Slice(buffer.End);
        bool any = !chunk.IsEmpty && !Discarding;
        Discarding = false;
        return any;
    }

    private long IndexOfDelimiter(in ReadOnlySequence<byte> buffer, long limit)
    {
        if (buffer.IsSingleSegment)
        {
            return buffer.FirstSpan[..(int)limit].IndexOfAny(_delimiters);
        }

        var reader = new SequenceReader<byte>(buffer.Slice(0, limit));
        return reader.TryAdvanceToAny(_delimiterBytes, advancePastDelimiter: false) ? reader.Consumed : -1;
    }
}
