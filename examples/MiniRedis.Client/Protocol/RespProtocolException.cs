using Kyoto.Codec;

namespace MiniRedis.Client.Protocol;

/// <summary>
/// The base of the errors the RESP codec raises for bytes it refuses: <see cref="RespFormatException"/> for
/// malformed input and <see cref="RespLimitException"/> for a reply over a configured limit. A connection that
/// sees one can no longer tell where the next reply starts, so it closes.
/// </summary>
public class RespProtocolException : FrameException
{
    /// <summary>Creates the exception with a message.</summary>
    public RespProtocolException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public RespProtocolException(string message, Exception innerException) : base(message, innerException) { }
}
