using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// Settings of <see cref="RedisConnection"/>, <see cref="RedisPool"/> and <see cref="RedisSubscriber"/>. Read when
/// a connection is made; changing an instance afterwards affects only later connections.
/// </summary>
/// <example>
/// <code>
/// var options = new RedisClientOptions { Host = "127.0.0.1", Port = 6379, CommandTimeout = TimeSpan.FromSeconds(1) };
/// await using RedisConnection redis = await RedisConnection.ConnectAsync(options);
/// </code>
/// </example>
public sealed class RedisClientOptions
{
    /// <summary>The server's host name or address. Defaults to <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The server's port. Defaults to 6379, Redis's standard port.</summary>
    public int Port { get; set; } = 6379;

    /// <summary>
    /// How long a command may wait for its reply (from the call, including time queued behind other commands)
    /// before it fails with <see cref="RedisTimeoutException"/>; <see cref="Timeout.InfiniteTimeSpan"/> for no
    /// bound. Defaults to 5 seconds: far above a healthy round trip, short enough that a stuck server is noticed.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long opening a TCP connection may take. Defaults to 5 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many connections a <see cref="RedisPool"/> opens. Defaults to 4: pipelining makes one connection
    /// carry many commands, so a few are enough to use a server's single thread.
    /// </summary>
    public int PoolSize { get; set; } = 4;

    /// <summary>
    /// How many commands a <see cref="RedisPool"/> lets be in flight at once (an <c>AsyncSemaphore</c>; callers
    /// past it wait). Defaults to 10,000: bounds the memory of queued requests without limiting pipelining.
    /// </summary>
    public int MaxInFlight { get; set; } = 10_000;

    /// <summary>The first wait between reconnection attempts; it doubles per failure. Defaults to 50 ms.</summary>
    public TimeSpan ReconnectMinBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The longest wait between reconnection attempts. Defaults to 2 seconds.</summary>
    public TimeSpan ReconnectMaxBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The largest bulk string reply accepted. Defaults to 512 MiB (<see cref="RespReplyDecoder.DefaultMaxBulkLength"/>).</summary>
    public long MaxBulkLength { get; set; } = RespReplyDecoder.DefaultMaxBulkLength;

    /// <summary>How deep reply arrays may nest. Defaults to 32 (<see cref="RespReplyDecoder.DefaultMaxNestingDepth"/>).</summary>
    public int MaxNestingDepth { get; set; } = RespReplyDecoder.DefaultMaxNestingDepth;

    /// <summary>A copy of these options.</summary>
    public RedisClientOptions Clone() => (RedisClientOptions)MemberwiseClone();

    /// <summary>A decoder with these limits.</summary>
    internal RespReplyDecoder CreateDecoder() => new() { MaxBulkLength = MaxBulkLength, MaxNestingDepth = MaxNestingDepth };

    /// <summary>The backoff before attempt number <paramref name="failures"/> + 1.</summary>
    internal TimeSpan Backoff(int failures)
    {
        double ms = ReconnectMinBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20));
        return TimeSpan.FromMilliseconds(Math.Min(ms, ReconnectMaxBackoff.TotalMilliseconds));
    }
}
