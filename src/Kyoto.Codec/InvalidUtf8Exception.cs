namespace Kyoto.Codec;

/// <summary>
/// A line is not valid UTF-8. The line has been consumed whole, so the next read decodes the next line.
/// </summary>
public sealed class InvalidUtf8Exception : FrameException
{
    /// <summary>Creates the exception for an invalid byte at <paramref name="offset"/> of a line of <paramref name="lineLength"/> bytes.</summary>
    public InvalidUtf8Exception(long offset, long lineLength)
        : base($"The line is not valid UTF-8: invalid byte at offset {offset} of {lineLength}.")
    {
        Offset = offset;
        LineLength = lineLength;
    }

    /// <summary>The offset, from the start of the line, of the first byte that is not valid UTF-8.</summary>
    public long Offset { get; }

    /// <summary>The length of the line in bytes, without its terminator.</summary>
    public long LineLength { get; }
}
