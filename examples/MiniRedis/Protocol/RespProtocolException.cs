using Kyoto.Codec;

namespace MiniRedis.Protocol;

/// <summary>
/// The client broke the request protocol. <see cref="Exception.Message"/> is Redis's own wording
/// ("Protocol error: invalid bulk length"); the server replies <c>-ERR</c> with it and closes the connection.
/// </summary>
public sealed class RespProtocolException : FrameException
{
    /// <summary>Creates the exception with Redis's message.</summary>
    public RespProtocolException(string message) : base(message) { }

    /// <summary>Creates the exception with Redis's message and a cause.</summary>
    public RespProtocolException(string message, Exception innerException) : base(message, innerException) { }
}
