// Mirrors the peers' semaphore_contended (../shared/peers/dotnet-bench/Program.cs SemaphoreContended,
// ../shared/peers/tokio-bench/src/main.rs): SEM_TASKS tasks share a semaphore of SEM_PERMITS permits; each
// acquires, yields once while holding the permit (so waiters really queue up) and releases, SEM_ITERS times.
// One operation = one acquire + yield + release. Kyoto's semaphore is FIFO; SemaphoreSlim is not.
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class SemaphoreContendedBenchmarks
{
    private const int Tasks = 8;
    private const int Permits = 2;
    private const int Iterations = 1_000;

    private readonly Task[] _tasks = new Task[Tasks];
    private readonly Countdown _cd = new();
    private readonly SemaphoreSlim _slim = new(Permits, Permits);
    private readonly AsyncSemaphore _semaphore = new(Permits);
    private Runtime _runtime = null!;
    private Func<Task> _bclBody = null!;
    private Func<Task> _kyotoBody = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        SemaphoreSlim slim = _slim;
        _bclBody = async () =>
        {
            for (int k = 0; k < Iterations; k++)
            {
                await slim.WaitAsync();
                await Task.Yield();
                slim.Release();
            }
        };

        AsyncSemaphore semaphore = _semaphore;
        Countdown cd = _cd;
        _kyotoBody = async () =>
        {
            for (int k = 0; k < Iterations; k++)
            {
                using (await semaphore.AcquireAsync())
                {
                    await KyotoTask.Yield();
                }
            }

            cd.Hit();
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Tasks * Iterations)]
    public void Bcl()
    {
        for (int i = 0; i < Tasks; i++)
        {
            _tasks[i] = Task.Run(_bclBody);
        }

        Task.WaitAll(_tasks);
    }

    [Benchmark(OperationsPerInvoke = Tasks * Iterations)]
    public void Kyoto()
    {
        _cd.Arm(Tasks);
        for (int i = 0; i < Tasks; i++)
        {
            _runtime.Spawn(_kyotoBody);
        }

        _cd.Wait();
    }
}
