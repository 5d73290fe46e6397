// Mirrors the peers' yield_many (../shared/peers/dotnet-bench/Program.cs YieldMany,
// ../shared/peers/tokio-bench/src/main.rs yield_many): the benchmark thread spawns YIELD_TASKS tasks, each
// yields NUM_YIELD times; the benchmark thread waits for all of them. One operation = one yield.
using BenchmarkDotNet.Attributes;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class YieldManyBenchmarks
{
    private const int YieldTasks = 200;
    private const int NumYield = 1_000;
    private const int Operations = YieldTasks * NumYield;

    private readonly Task[] _tasks = new Task[YieldTasks];
    private readonly Countdown _cd = new();
    private Runtime _runtime = null!;
    private Func<Task> _kyotoBody = null!;

    private static readonly Func<Task> s_bclBody = static async () =>
    {
        for (int j = 0; j < NumYield; j++)
        {
            await Task.Yield();
        }
    };

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();

        Countdown cd = _cd;
        _kyotoBody = async () =>
        {
            for (int j = 0; j < NumYield; j++)
            {
                await KyotoTask.Yield();
            }

            cd.Hit();
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public void Bcl()
    {
        Task[] tasks = _tasks;
        for (int i = 0; i < YieldTasks; i++)
        {
            tasks[i] = Task.Run(s_bclBody);
        }

        Task.WaitAll(tasks);
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public void Kyoto()
    {
        _cd.Arm(YieldTasks);
        for (int i = 0; i < YieldTasks; i++)
        {
            _runtime.Spawn(_kyotoBody);
        }

        _cd.Wait();
    }
}
