using System.Net;

namespace MiniRedis.Server;

/// <summary>Settings of a <see cref="RedisServer"/>.</summary>
public sealed class ServerOptions
{
    /// <summary>The address to listen on. Defaults to 127.0.0.1.</summary>
    public IPAddress Bind { get; set; } = IPAddress.Loopback;

    /// <summary>The port to listen on; 0 picks a free one (read <see cref="RedisServer.LocalEndPoint"/>). Defaults to 6379.</summary>
    public int Port { get; set; } = 6379;

    /// <summary>Connections served at once; more are refused with Redis's error. Defaults to 10000 (Redis's maxclients).</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// How long a write to a client may wait for the client to read before the client is disconnected (its
    /// output is bounded by the framed writer's high-water mark meanwhile). Defaults to 30 seconds.
    /// </summary>
    public TimeSpan ClientWriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long shutdown waits for connections to finish their commands. Defaults to 5 seconds.</summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Messages a pub/sub channel keeps for a slow subscriber before it lags. Defaults to 1024.</summary>
    public int PubSubCapacity { get; set; } = 1024;

    /// <summary>How often the timer task purges expired keys. Defaults to 100 ms (Redis's hz 10).</summary>
    public TimeSpan ExpiryPurgeInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}
