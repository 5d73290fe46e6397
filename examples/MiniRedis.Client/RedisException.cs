namespace MiniRedis.Client;

/// <summary>The base of the errors this client raises, apart from timeouts (<see cref="RedisTimeoutException"/>).</summary>
public class RedisException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public RedisException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public RedisException(string message, Exception? innerException) : base(message, innerException) { }
}
