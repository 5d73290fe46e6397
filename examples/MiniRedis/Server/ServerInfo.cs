namespace MiniRedis.Server;

/// <summary>Figures INFO and HELLO report. Counters are updated with Interlocked by any connection.</summary>
public sealed class ServerInfo
{
    private int _connectedClients;
    private long _nextClientId;

    /// <summary>The Redis version MiniRedis claims (the one its replies were checked against).</summary>
    public const string Version = "7.0.15";

    /// <summary>The TCP port listened on.</summary>
    public int Port { get; set; }

    /// <summary>Connections open now.</summary>
    public int ConnectedClients => Volatile.Read(ref _connectedClients);

    /// <summary>Counts a new connection and returns its client id (from 1).</summary>
    public long ClientConnected()
    {
        Interlocked.Increment(ref _connectedClients);
        return Interlocked.Increment(ref _nextClientId);
    }

    /// <summary>Counts a closed connection.</summary>
    public void ClientDisconnected() => Interlocked.Decrement(ref _connectedClients);
}
