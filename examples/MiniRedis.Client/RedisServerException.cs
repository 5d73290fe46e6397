namespace MiniRedis.Client;

/// <summary>
/// The server answered a command with an error reply (<c>-ERR ...</c>, <c>-WRONGTYPE ...</c>). The connection is
/// fine: the next command gets its own reply.
/// </summary>
public sealed class RedisServerException : RedisException
{
    /// <summary>Creates the exception from the server's error message.</summary>
    public RedisServerException(string message) : base(message)
    {
        int space = message.IndexOf(' ', StringComparison.Ordinal);
        ErrorCode = space < 0 ? message : message[..space];
    }

    /// <summary>The first word of the error (<c>ERR</c>, <c>WRONGTYPE</c>, <c>NOAUTH</c>...).</summary>
    public string ErrorCode { get; }
}
