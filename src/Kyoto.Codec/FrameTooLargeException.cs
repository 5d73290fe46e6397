namespace Kyoto.Codec;

/// <summary>
/// A frame is longer than the codec accepts: <see cref="Length"/> bytes (or at least that many, when the
/// frame's end was not seen yet) against a limit of <see cref="Limit"/>. Raised before any buffer sized by the
/// frame is allocated.
/// </summary>
public class FrameTooLargeException : FrameException
{
    /// <summary>Creates the exception for a frame of <paramref name="length"/> bytes over <paramref name="limit"/>.</summary>
    public FrameTooLargeException(long limit, long length)
        : this(limit, length, $"The frame is {length} bytes long, over the limit of {limit} bytes.")
    {
    }

    /// <summary>Creates the exception with its own message.</summary>
    protected FrameTooLargeException(long limit, long length, string message)
        : base(message)
    {
        Limit = limit;
        Length = length;
    }

    /// <summary>The largest frame the codec accepts, in bytes.</summary>
    public long Limit { get; }

    /// <summary>The frame's length in bytes, or a lower bound of it when its end was not seen.</summary>
    public long Length { get; }
}
