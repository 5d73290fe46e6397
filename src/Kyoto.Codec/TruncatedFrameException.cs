namespace Kyoto.Codec;

/// <summary>The stream ended in the middle of a frame: <see cref="RemainingBytes"/> bytes were left undecoded.</summary>
public sealed class TruncatedFrameException : FrameException
{
    /// <summary>Creates the exception for <paramref name="remainingBytes"/> bytes left at end of stream.</summary>
    public TruncatedFrameException(long remainingBytes)
        : base($"The stream ended in the middle of a frame: {remainingBytes} byte(s) remain that do not make a whole frame.")
    {
        RemainingBytes = remainingBytes;
    }

    /// <summary>How many bytes were left at end of stream.</summary>
    public long RemainingBytes { get; }
}
