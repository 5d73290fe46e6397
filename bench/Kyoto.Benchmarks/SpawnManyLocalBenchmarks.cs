// Mirrors the peers' spawn_many_local (../shared/peers/dotnet-bench/Program.cs SpawnManyLocal,
// ../shared/peers/tokio-bench/src/main.rs spawn_many_local): a root task already running on a worker
// spawns NUM_SPAWN tasks, each of which decrements a countdown; the benchmark thread waits for the last.
// One operation = one spawn.
using BenchmarkDotNet.Attributes;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class SpawnManyLocalBenchmarks
{
    private const int NumSpawn = 10_000;

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
        Action leaf = cd.Hit;
        _bclRoot = () =>
        {
            for (int i = 0; i < NumSpawn; i++)
            {
                Task.Run(leaf);
            }
        };

        Func<Task> kyotoLeaf = async () => cd.Hit();
        _kyotoRoot = async () =>
        {
            for (int i = 0; i < NumSpawn; i++)
            {
                _ = KyotoTask.Spawn(kyotoLeaf);
            }
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = NumSpawn)]
    public void Bcl()
    {
        _cd.Arm(NumSpawn);
        Task.Run(_bclRoot); // spawned children go to the worker's local queue
        _cd.Wait();
    }

    [Benchmark(OperationsPerInvoke = NumSpawn)]
    public void Kyoto()
    {
        _cd.Arm(NumSpawn);
        _runtime.Spawn(_kyotoRoot); // spawned children go to the worker's local queue
        _cd.Wait();
    }
}
