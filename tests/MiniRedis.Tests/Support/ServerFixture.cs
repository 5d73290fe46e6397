using Kyoto;
using Kyoto.Tasks;
using MiniRedis.Server;

namespace MiniRedis.Tests.Support;

/// <summary>A MiniRedis server on its own Kyoto runtime, listening on a free loopback port.</summary>
public class ServerFixture : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly JoinHandle _run;
    private bool _stopped;

    public ServerFixture() : this(null) { }

    public static ServerFixture Start(ServerOptions options) => new(options);

    protected ServerFixture(ServerOptions? options)
    {
        options ??= new ServerOptions();
        options.Port = 0;
        Options = options;
        Runtime = new RuntimeBuilder { WorkerThreads = 2, ThreadName = "miniredis-test" }.Build();
        Server = Runtime.BlockOn(() => Task.FromResult(RedisServer.Bind(options, Logs)));
        _run = Runtime.Spawn(() => Server.RunAsync(_stop.Token));
    }

    public Runtime Runtime { get; }

    public RedisServer Server { get; }

    public ServerOptions Options { get; }

    public TestLogs Logs { get; } = new();

    public int Port => Server.LocalEndPoint.Port;

    /// <summary>Starts the graceful shutdown and waits for RunAsync to return.</summary>
    public void StopServer()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        _stop.Cancel();
        Runtime.BlockOn(async () => await _run);
    }

    /// <summary>Starts the graceful shutdown; returns at once.</summary>
    public void BeginStop() => _stop.Cancel();

    public Task WaitStoppedAsync() => Task.Run(() => Runtime.BlockOn(async () => await _run));

    public void Dispose()
    {
        StopServer();
        Runtime.Dispose();
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}
