// The fixed costs of timers that never fire, which the peers' timer_many (TimerManyBenchmarks) does not
// isolate. Two workloads, each a category with its own baseline, run N times per invocation inside one task
// (Task.Run for Bcl, runtime.BlockOn for Kyoto), so one operation = one timeout or one cancelled sleep:
// - TimeoutReady: a 1 s timeout around an operation that completes at once (a timeout that costs nothing
//   unless it is needed). Bcl arms a CancellationTokenSource for 1 s, passes its token, and disarms it with
//   TryReset, so one source serves the whole invocation (the BCL's pooling idiom; Kyoto pools its own source);
//   Kyoto is KyotoTime.Timeout.
// - SleepCancel: a 1 s sleep cancelled through its token before it fires, the cancellation observed by
//   awaiting it (one OperationCanceledException caught per operation on both sides). A cancelled
//   CancellationTokenSource cannot be reset (TryReset returns false), so both sides create and dispose one
//   source per operation.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Kyoto.Time;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TimeoutBenchmarks
{
    private const int N = 10_000;

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);

    /// <summary>The guarded operation of TimeoutReady, the same delegate on both sides: completes at once.</summary>
    private static readonly Func<CancellationToken, ValueTask<int>> s_ready = static _ => new ValueTask<int>(42);

    private static readonly Func<Task<int>> s_bclTimeoutReady = static async () =>
    {
        int sum = 0;
        var cts = new CancellationTokenSource();
        for (int i = 0; i < N; i++)
        {
            cts.CancelAfter(s_timeout);
            sum += await s_ready(cts.Token);
            if (!cts.TryReset())
            {
                // The timer fired (the invocation took over a second): start again with a fresh source.
                cts.Dispose();
                cts = new CancellationTokenSource();
            }
        }

        cts.Dispose();
        return sum;
    };

    private static readonly Func<Task<int>> s_kyotoTimeoutReady = static async () =>
    {
        int sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += await KyotoTime.Timeout(s_timeout, s_ready);
        }

        return sum;
    };

    private static readonly Func<Task<int>> s_bclSleepCancel = static async () =>
    {
        int cancelled = 0;
        for (int i = 0; i < N; i++)
        {
            using var cts = new CancellationTokenSource();
            Task delay = Task.Delay(s_timeout, cts.Token);
            cts.Cancel();
            try
            {
                await delay;
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }
        }

        return cancelled;
    };

    private static readonly Func<Task<int>> s_kyotoSleepCancel = static async () =>
    {
        int cancelled = 0;
        for (int i = 0; i < N; i++)
        {
            using var cts = new CancellationTokenSource();
            Sleep sleep = KyotoTime.Sleep(s_timeout, cts.Token);
            cts.Cancel();
            try
            {
                await sleep;
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }
        }

        return cancelled;
    };

    private Runtime _runtime = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    [BenchmarkCategory("TimeoutReady")]
    public int Bcl_TimeoutReady() => Check(Task.Run(s_bclTimeoutReady).GetAwaiter().GetResult(), 42 * N);

    [Benchmark(OperationsPerInvoke = N)]
    [BenchmarkCategory("TimeoutReady")]
    public int Kyoto_TimeoutReady() => Check(_runtime.BlockOn(s_kyotoTimeoutReady), 42 * N);

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    [BenchmarkCategory("SleepCancel")]
    public int Bcl_SleepCancel() => Check(Task.Run(s_bclSleepCancel).GetAwaiter().GetResult(), N);

    [Benchmark(OperationsPerInvoke = N)]
    [BenchmarkCategory("SleepCancel")]
    public int Kyoto_SleepCancel() => Check(_runtime.BlockOn(s_kyotoSleepCancel), N);

    /// <summary>Fails the run if a workload did not do what it measures (a timeout fired, a sleep was not cancelled).</summary>
    private static int Check(int actual, int expected) => actual == expected
        ? actual
        : throw new InvalidOperationException($"The workload returned {actual}, expected {expected}.");
}
