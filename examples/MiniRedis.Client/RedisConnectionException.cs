namespace MiniRedis.Client;

/// <summary>
/// The connection could not be made, or broke (the server closed it, a socket error, a protocol error, or the
/// connection was disposed). Every call in flight on a broken connection fails with it; whether a command that
/// was sent ran on the server is unknown.
/// </summary>
public sealed class RedisConnectionException : RedisException
{
    /// <summary>Creates the exception with a message.</summary>
    public RedisConnectionException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public RedisConnectionException(string message, Exception? innerException) : base(message, innerException) { }
}
