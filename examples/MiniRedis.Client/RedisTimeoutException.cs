namespace MiniRedis.Client;

/// <summary>
/// A command did not get its reply within its timeout (<see cref="RedisClientOptions.CommandTimeout"/> or the
/// per-call value). The connection stays in sync: the late reply is read and dropped when it arrives.
/// </summary>
public sealed class RedisTimeoutException : TimeoutException
{
    /// <summary>Creates the exception for <paramref name="command"/> bounded by <paramref name="timeout"/>.</summary>
    public RedisTimeoutException(string command, TimeSpan timeout, Exception? innerException)
        : base($"Redis command {command} got no reply within {timeout}.", innerException)
    {
        Timeout = timeout;
    }

    /// <summary>The timeout that elapsed.</summary>
    public TimeSpan Timeout { get; }
}
