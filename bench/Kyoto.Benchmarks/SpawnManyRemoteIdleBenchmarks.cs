// Mirrors the peers' spawn_many_remote_idle (../shared/peers/dotnet-bench/Program.cs SpawnManyRemoteIdle,
// ../shared/peers/tokio-bench/src/main.rs spawn_many_remote_idle): the benchmark thread, outside the
// runtime, spawns NUM_SPAWN empty tasks (so they go through the injection/global queue), then waits for
// every one of them. One operation = one spawn.
using BenchmarkDotNet.Attributes;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class SpawnManyRemoteIdleBenchmarks
{
    private const int NumSpawn = 10_000;

    private readonly Task[] _tasks = new Task[NumSpawn];
    private readonly JoinHandle[] _handles = new JoinHandle[NumSpawn];
    private Runtime _runtime = null!;
    private Func<Task> _joinAll = null!;

    private static readonly Action s_empty = static () => { };
    private static readonly Func<Task> s_emptyAsync = static async () => { };

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();

        JoinHandle[] handles = _handles;
        _joinAll = async () =>
        {
            // tokio: `for h in handles.drain(..) { h.await.unwrap(); }`
            for (int i = 0; i < handles.Length; i++)
            {
                await handles[i];
                handles[i] = default;
            }
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = NumSpawn)]
    public void Bcl()
    {
        Task[] tasks = _tasks;
        for (int i = 0; i < NumSpawn; i++)
        {
            tasks[i] = Task.Run(s_empty); // global queue
        }

        Task.WaitAll(tasks);
    }

    [Benchmark(OperationsPerInvoke = NumSpawn)]
    public void Kyoto()
    {
        JoinHandle[] handles = _handles;
        for (int i = 0; i < NumSpawn; i++)
        {
            handles[i] = _runtime.Spawn(s_emptyAsync); // injection queue
        }

        _runtime.BlockOn(_joinAll);
    }
}
