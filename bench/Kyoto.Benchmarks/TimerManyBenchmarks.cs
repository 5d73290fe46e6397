// Mirrors the peers' timer_many (../shared/peers/dotnet-bench/Program.cs TimerMany,
// ../shared/peers/tokio-bench/src/main.rs timer_many): the benchmark thread spawns TIMER_TASKS tasks, each
// sleeps a pseudo-random 1-10 ms (the peers' splitmix64 sequence from the same seed) and records its lateness,
// the wake-up time minus the deadline it computed before sleeping (signed: negative means early); the
// benchmark thread waits for all of them. One operation = one timer. The lateness (medians over invocations) is
// printed by the [GlobalCleanup] (LatenessReport.cs), as BenchmarkDotNet's table shows only times.
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Kyoto.Tasks;
using Kyoto.Time;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class TimerManyBenchmarks
{
    private const int TimerTasks = 10_000;
    private const ulong TimerSeed = 0x5EED_1234_ABCD_0001UL;

    private readonly int[] _delays = Delays();
    private readonly long[] _late = new long[TimerTasks];

    // The lateness of the last invocations, copied after each (no allocation, ~5 us of 17 ms) and summarised
    // by the cleanup: an [IterationCleanup] would force one invocation per iteration with a pause between
    // them, a colder regime than the peers' back-to-back runs.
    private readonly long[][] _history = Enumerable.Range(0, 64).Select(_ => new long[TimerTasks]).ToArray();
    private int _invocations;

    private void Keep() => Array.Copy(_late, _history[_invocations++ % _history.Length], TimerTasks);

    private void Summarise(string method)
    {
        int n = Math.Min(_invocations, _history.Length);
        for (int i = 0; i < n; i++)
        {
            LatenessReport.Record(method, _history[i]);
        }

        LatenessReport.Print(method);
    }
    private readonly Task[] _tasks = new Task[TimerTasks];
    private readonly JoinHandle[] _handles = new JoinHandle[TimerTasks];
    private Runtime _runtime = null!;
    private Func<Task> _joinAll = null!;

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

    [GlobalCleanup(Target = nameof(Bcl))]
    public void CleanupBcl()
    {
        Summarise("Bcl");
        _runtime.Dispose();
    }

    [GlobalCleanup(Target = nameof(Kyoto))]
    public void CleanupKyoto()
    {
        Summarise("Kyoto");
        _runtime.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = TimerTasks)]
    public void Bcl()
    {
        int[] delays = _delays;
        long[] late = _late;
        Task[] tasks = _tasks;
        for (int i = 0; i < TimerTasks; i++)
        {
            int idx = i;
            tasks[i] = Task.Run(async () =>
            {
                int d = delays[idx];
                long deadline = Stopwatch.GetTimestamp() + d * Stopwatch.Frequency / 1000;
                await Task.Delay(d);
                late[idx] = Stopwatch.GetTimestamp() - deadline; // signed: < 0 means early
            });
        }

        Task.WaitAll(tasks);
        Keep();
    }

    [Benchmark(OperationsPerInvoke = TimerTasks)]
    public void Kyoto()
    {
        int[] delays = _delays;
        long[] late = _late;
        JoinHandle[] handles = _handles;
        for (int i = 0; i < TimerTasks; i++)
        {
            int idx = i;
            handles[i] = _runtime.Spawn(async () =>
            {
                int d = delays[idx];
                long deadline = Stopwatch.GetTimestamp() + d * Stopwatch.Frequency / 1000;
                await KyotoTime.Sleep(TimeSpan.FromMilliseconds(d));
                late[idx] = Stopwatch.GetTimestamp() - deadline; // signed: < 0 means early
            });
        }

        _runtime.BlockOn(_joinAll);
        Keep();
    }

    /// <summary>The peers' delays: 1 + splitmix64 % 10 ms, TIMER_TASKS of them from TIMER_SEED.</summary>
    private static int[] Delays()
    {
        ulong state = TimerSeed;
        var delays = new int[TimerTasks];
        for (int i = 0; i < TimerTasks; i++)
        {
            delays[i] = 1 + (int)(SplitMix64(ref state) % 10);
        }

        return delays;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        state += 0x9E37_79B9_7F4A_7C15UL;
        ulong z = state;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }
}
