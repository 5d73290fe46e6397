// The listener: accepts connections, runs each as a Kyoto task, purges expired keys on a Kyoto interval, and
// shuts down gracefully.
//
// Shutdown protocol (RunAsync once its token is cancelled):
//  1. stop accepting (the accept is cancelled and the listening socket closed);
//  2. every connection sees the same token at its next wait for a request: it finishes the batch it is
//     running, writes those replies in full, and closes;
//  3. wait for the connections up to ShutdownGracePeriod, then abort the stragglers (a client that does not
//     read its replies, say) and log how many.
//
// Invariants: the AsyncSemaphore holds one permit per open connection (taken before the task is spawned,
// released when it ends); a client over the limit gets Redis's "max number of clients reached" and is closed.
using System.Net;
using Kyoto.Net;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;
using Microsoft.Extensions.Logging;
using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>A Redis-compatible server on Kyoto.</summary>
public sealed class RedisServer : IDisposable
{
    private static readonly byte[] s_maxClients = "-ERR max number of clients reached\r\n"u8.ToArray();

    private readonly TcpAcceptor _acceptor;
    private readonly ServerOptions _options;
    private readonly ILogger _logger;
    private readonly ServerInfo _info = new();
    private readonly AsyncSemaphore _connectionLimit;
    private readonly CommandDispatcher _dispatcher;

    private RedisServer(TcpAcceptor acceptor, ServerOptions options, ILoggerFactory loggerFactory)
    {
        _acceptor = acceptor;
        _options = options;
        _logger = loggerFactory.CreateLogger("MiniRedis");
        _connectionLimit = new AsyncSemaphore(options.MaxConnections);
        _info.Port = acceptor.LocalEndPoint.Port;
        Db = new Db();
        _dispatcher = new CommandDispatcher(Db, new PubSubHub(options.PubSubCapacity), _info);
    }

    /// <summary>The address the server listens on (with the real port when <see cref="ServerOptions.Port"/> was 0).</summary>
    public IPEndPoint LocalEndPoint => _acceptor.LocalEndPoint;

    /// <summary>The keyspace.</summary>
    public Db Db { get; }

    /// <summary>Connections open now.</summary>
    public int ConnectedClients => _info.ConnectedClients;

    /// <summary>Binds the listening socket. Call on a Kyoto runtime (the socket registers with its I/O driver).</summary>
    public static RedisServer Bind(ServerOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var acceptor = TcpAcceptor.Bind(new IPEndPoint(options.Bind, options.Port));
        return new RedisServer(acceptor, options, loggerFactory);
    }

    /// <summary>Serves until <paramref name="shutdown"/> is cancelled, then shuts down gracefully (see the file header).</summary>
    public async Task RunAsync(CancellationToken shutdown)
    {
        Log.Listening(_logger, LocalEndPoint, _options.MaxConnections);
        JoinHandle purge = KyotoTask.Spawn(PurgeExpiredKeysAsync);
        var connections = new JoinSet<bool>();
        try
        {
            while (!shutdown.IsCancellationRequested)
            {
                TcpStream stream;
                try
                {
                    stream = await _acceptor.AcceptAsync(shutdown);
                }
                catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
                {
                    Log.AcceptFailed(_logger, e);
                    continue;
                }

                while (connections.TryJoinNext(out _))
                {
                    // reap finished connections so the set does not grow
                }

                if (!_connectionLimit.TryAcquire(out SemaphorePermit permit))
                {
                    Log.ClientRejected(_logger, stream.RemoteEndPoint, _options.MaxConnections);
                    connections.Spawn(() => RejectAsync(stream));
                    continue;
                }

                stream.NoDelay = true;
                long id = _info.ClientConnected();
                Log.ClientConnected(_logger, id, stream.RemoteEndPoint);
                var connection = new Connection(stream, id, _dispatcher, _options, _logger, shutdown);
                connections.Spawn(async () =>
                {
                    try
                    {
                        await connection.RunAsync();
                    }
                    finally
                    {
                        _info.ClientDisconnected();
                        permit.Dispose();
                    }
                    return true;
                });
            }
        }
        finally
        {
            _acceptor.Dispose();
            Log.ShuttingDown(_logger, _options.ShutdownGracePeriod, _info.ConnectedClients);
            try
            {
                await KyotoTime.Timeout(_options.ShutdownGracePeriod, async ct =>
                {
                    while (await connections.JoinNextAsync(ct) is not null)
                    {
                        // each connection finishes its batch and closes
                    }
                }, CancellationToken.None);
            }
            catch (ElapsedException)
            {
                Log.GraceExpired(_logger, connections.Count);
                connections.AbortAll();
                while (await connections.JoinNextAsync(CancellationToken.None) is not null)
                {
                    // wait for the aborted connections to run their finally blocks
                }
            }
            connections.Dispose();
            purge.Abort();
            Log.Stopped(_logger);
        }
    }

    private static async Task<bool> RejectAsync(TcpStream stream)
    {
        using (stream)
        {
            try
            {
                await stream.WriteAllAsync(s_maxClients);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
            {
                // gone already
            }
        }
        return false;
    }

    // Active expiry, driven by a Kyoto interval: every tick removes the keys whose deadline passed (a bounded
    // number per lock hold, so a mass expiry never stalls other clients for long).
    private async Task PurgeExpiredKeysAsync()
    {
        const int MaxPerLock = 1000;
        using Interval tick = KyotoTime.Interval(_options.ExpiryPurgeInterval);
        tick.MissedTickBehavior = MissedTickBehavior.Delay;
        while (true)
        {
            await tick.TickAsync(KyotoTask.CancellationToken);
            int removed;
            do
            {
                lock (Db.Gate)
                {
                    removed = Db.PurgeExpired(MaxPerLock);
                }
                if (removed == MaxPerLock)
                {
                    await KyotoTask.Yield();
                }
            }
            while (removed == MaxPerLock);
        }
    }

    /// <summary>Closes the listening socket (RunAsync does it at shutdown too).</summary>
    public void Dispose() => _acceptor.Dispose();
}
