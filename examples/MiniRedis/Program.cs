// MiniRedis: a Redis-compatible server on Kyoto (RESP2, pipelining, strings, lists, expiry, pub/sub).
//
//   dotnet run -c Release --project examples/MiniRedis [-- --port 6379 --bind 127.0.0.1 --max-connections 10000
//                                                        --workers N --log-level Information]
//
// Try it with `redis-cli -p 6379`, or load it with `redis-benchmark -t set,get -n 200000 -c 50 -q [-P 16]`.
// Ctrl+C or SIGTERM stops accepting, lets in-flight commands finish (5 s grace), closes connections, exits 0.
using System.Net;
using Kyoto;
using Kyoto.Signal;
using Kyoto.Tasks;
using Microsoft.Extensions.Logging;
using MiniRedis.Server;

var options = new ServerOptions();
int? workers = null;
LogLevel level = LogLevel.Information;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--port": options.Port = int.Parse(Next()); break;
        case "--bind": options.Bind = IPAddress.Parse(Next()); break;
        case "--max-connections": options.MaxConnections = int.Parse(Next()); break;
        case "--workers": workers = int.Parse(Next()); break;
        case "--log-level": level = Enum.Parse<LogLevel>(Next(), ignoreCase: true); break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}; options: --port N --bind ADDR --max-connections N --workers N --log-level LEVEL");
            return 2;
    }
}

using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder
    .SetMinimumLevel(level)
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    }));
ILogger log = loggerFactory.CreateLogger("MiniRedis");

using Runtime runtime = new RuntimeBuilder { WorkerThreads = workers, ThreadName = "miniredis-worker" }.Build();

return runtime.BlockOn(async () =>
{
    using var stop = new CancellationTokenSource();
    using SignalReceiver interrupt = Signals.Listen(SignalKind.Interrupt);
    using SignalReceiver terminate = Signals.Listen(SignalKind.Terminate);
    JoinHandle onInterrupt = KyotoTask.Spawn(async () =>
    {
        await interrupt.RecvAsync(KyotoTask.CancellationToken);
        stop.Cancel();
    });
    JoinHandle onTerminate = KyotoTask.Spawn(async () =>
    {
        await terminate.RecvAsync(KyotoTask.CancellationToken);
        stop.Cancel();
    });

    using RedisServer server = RedisServer.Bind(options, loggerFactory);
    await server.RunAsync(stop.Token);
    onInterrupt.Abort();
    onTerminate.Abort();

    log.LogInformation(
        "Garbage collections: {Gen0} gen0, {Gen1} gen1, {Gen2} gen2; {KiB} KiB allocated in all",
        GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes() / 1024);
    return 0;
});
