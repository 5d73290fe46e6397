namespace Kyoto.Codec;

/// <summary>
/// A line (or a delimited chunk) is longer than the codec's maximum. The codec has discarded the bytes it saw
/// and keeps discarding up to the next delimiter, then decodes the following lines normally.
/// </summary>
public sealed class LineTooLongException : FrameTooLargeException
{
    /// <summary>Creates the exception for a line of at least <paramref name="length"/> bytes over <paramref name="limit"/>.</summary>
    public LineTooLongException(long limit, long length)
        : base(limit, length, $"The line is at least {length} bytes long, over the limit of {limit} bytes; it is discarded up to the next delimiter.")
    {
    }
}
