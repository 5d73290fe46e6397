namespace MiniRedis.Client.Protocol;

/// <summary>The bytes are not valid RESP2: an unknown type byte, a bad length or integer, a missing CRLF.</summary>
public sealed class RespFormatException : RespProtocolException
{
    /// <summary>Creates the exception for a problem at <paramref name="offset"/> bytes into the reply.</summary>
    public RespFormatException(string message, long offset)
        : base($"{message} (at byte {offset} of the reply).")
    {
        Offset = offset;
    }

    /// <summary>Where, counted from the start of the reply being decoded, the problem was found.</summary>
    public long Offset { get; }
}
