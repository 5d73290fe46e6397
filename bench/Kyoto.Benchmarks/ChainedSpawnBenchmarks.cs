// Mirrors the peers' chained_spawn (../shared/peers/dotnet-bench/Program.cs ChainedSpawn and ChainStep,
// ../shared/peers/tokio-bench/src/main.rs chained_spawn and chain_step): each task spawns the next,
// CHAIN_DEPTH deep, and the last one signals the benchmark thread. One operation = one chained spawn.
using BenchmarkDotNet.Attributes;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class ChainedSpawnBenchmarks
{
    private const int ChainDepth = 1_000;

    private readonly Countdown _cd = new();
    private Runtime _runtime = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = ChainDepth)]
    public void Bcl()
    {
        Countdown cd = _cd;
        cd.Arm(1);
        Task.Run(() => BclChainStep(cd, ChainDepth));
        cd.Wait();
    }

    [Benchmark(OperationsPerInvoke = ChainDepth)]
    public void Kyoto()
    {
        Countdown cd = _cd;
        cd.Arm(1);
        _runtime.Spawn(async () => KyotoChainStep(cd, ChainDepth));
        cd.Wait();
    }

    private static void BclChainStep(Countdown cd, int n)
    {
        if (n == 0)
        {
            cd.Hit();
        }
        else
        {
            Task.Run(() => BclChainStep(cd, n - 1));
        }
    }

    private static void KyotoChainStep(Countdown cd, int n)
    {
        if (n == 0)
        {
            cd.Hit();
        }
        else
        {
            _ = KyotoTask.Spawn(async () => KyotoChainStep(cd, n - 1));
        }
    }
}
