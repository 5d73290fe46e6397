namespace Kyoto.Codec;

/// <summary>The base of the errors a codec raises for bytes or frames it refuses.</summary>
public class FrameException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public FrameException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public FrameException(string message, Exception innerException) : base(message, innerException) { }
}
