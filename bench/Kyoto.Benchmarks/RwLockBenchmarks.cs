// A reader-writer lock under contention: RW_TASKS tasks share one lock; each does RW_ITERS operations, every
// tenth a write and the others reads, and yields once while holding the lock (so requests really queue up).
// One operation = one lock + yield + unlock. The baseline is the strongest async reader-writer lock on NuGet
// that we measured (DotNext.Threading's AsyncReaderWriterLock); Nito.AsyncEx's is shown beside it. .NET itself
// has no asynchronous reader-writer lock.
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class RwLockBenchmarks
{
    private const int Tasks = 8;
    private const int Iterations = 1_000;
    private const int WriteEvery = 10;

    private readonly Task[] _tasks = new Task[Tasks];
    private readonly Countdown _cd = new();
    private readonly DotNext.Threading.AsyncReaderWriterLock _dotnext = new();
    private readonly Nito.AsyncEx.AsyncReaderWriterLock _nito = new();
    private readonly AsyncRwLock<long> _kyoto = new(0);
    private long _shared;
    private Runtime _runtime = null!;
    private Func<Task> _dotnextBody = null!;
    private Func<Task> _nitoBody = null!;
    private Func<Task> _kyotoBody = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();

        DotNext.Threading.AsyncReaderWriterLock dotnext = _dotnext;
        _dotnextBody = async () =>
        {
            for (int k = 0; k < Iterations; k++)
            {
                if (k % WriteEvery == 0)
                {
                    await dotnext.EnterWriteLockAsync();
                    _shared++;
                    await Task.Yield();
                    dotnext.Release();
                }
                else
                {
                    await dotnext.EnterReadLockAsync();
                    _ = Volatile.Read(ref _shared);
                    await Task.Yield();
                    dotnext.Release();
                }
            }
        };

        Nito.AsyncEx.AsyncReaderWriterLock nito = _nito;
        _nitoBody = async () =>
        {
            for (int k = 0; k < Iterations; k++)
            {
                if (k % WriteEvery == 0)
                {
                    using (await nito.WriterLockAsync())
                    {
                        _shared++;
                        await Task.Yield();
                    }
                }
                else
                {
                    using (await nito.ReaderLockAsync())
                    {
                        _ = Volatile.Read(ref _shared);
                        await Task.Yield();
                    }
                }
            }
        };

        AsyncRwLock<long> kyoto = _kyoto;
        Countdown cd = _cd;
        _kyotoBody = async () =>
        {
            for (int k = 0; k < Iterations; k++)
            {
                if (k % WriteEvery == 0)
                {
                    using (WriteGuard<long> write = await kyoto.WriteAsync())
                    {
                        write.Value++;
                        await KyotoTask.Yield();
                    }
                }
                else
                {
                    using (ReadGuard<long> read = await kyoto.ReadAsync())
                    {
                        _ = read.Value;
                        await KyotoTask.Yield();
                    }
                }
            }

            cd.Hit();
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Tasks * Iterations)]
    public void Bcl() => RunOnPool(_dotnextBody);

    [Benchmark(OperationsPerInvoke = Tasks * Iterations)]
    public void Nito() => RunOnPool(_nitoBody);

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

    private void RunOnPool(Func<Task> body)
    {
        for (int i = 0; i < Tasks; i++)
        {
            _tasks[i] = Task.Run(body);
        }

        Task.WaitAll(_tasks);
    }
}
