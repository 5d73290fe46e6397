// Mirrors the peers' ping_pong (../shared/peers/dotnet-bench/Program.cs PingPong,
// ../shared/peers/tokio-bench/src/main.rs ping_pong): a root task spawns NUM_PINGS pingers, all in flight
// at once; each pinger creates a ping and a pong channel, spawns a ponger that waits for the ping and
// answers on pong, sends the ping, waits for the pong and hits a countdown. One operation = one round trip
// (two spawns, two channels, two cross-task wake-ups).
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class PingPongBenchmarks
{
    private const int NumPings = 1_000;

    private readonly Countdown _cd = new();
    private Runtime _runtime = null!;
    private Action _bclRoot = null!;
    private Func<Task> _kyotoRoot = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();

        Countdown cd = _cd;
        Func<Task> bclPinger = async () =>
        {
            var ping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _ = Task.Run(async () =>
            {
                await ping.Task;
                pong.SetResult();
            });
            ping.SetResult();
            await pong.Task;
            cd.Hit();
        };
        _bclRoot = () =>
        {
            for (int i = 0; i < NumPings; i++)
            {
                Task.Run(bclPinger);
            }
        };

        Func<Task> kyotoPinger = async () =>
        {
            var (pingTx, pingRx) = Oneshot.Create<bool>();
            var (pongTx, pongRx) = Oneshot.Create<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                await pingRx;
                if (!pongTx.TrySend(true))
                {
                    throw new InvalidOperationException("pong: the receiver is closed");
                }
            });
            if (!pingTx.TrySend(true))
            {
                throw new InvalidOperationException("ping: the receiver is closed");
            }

            await pongRx;
            cd.Hit();
        };
        _kyotoRoot = async () =>
        {
            for (int i = 0; i < NumPings; i++)
            {
                _ = KyotoTask.Spawn(kyotoPinger);
            }
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = NumPings)]
    public void Bcl()
    {
        _cd.Arm(NumPings);
        Task.Run(_bclRoot);
        _cd.Wait();
    }

    [Benchmark(OperationsPerInvoke = NumPings)]
    public void Kyoto()
    {
        _cd.Arm(NumPings);
        _runtime.Spawn(_kyotoRoot);
        _cd.Wait();
    }
}
