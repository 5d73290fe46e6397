// Two tasks take turns through a pair of signals, NOTIFY_ROUNDS times: each waits for its signal and then
// signals the other. One operation = one signal and the wake-up it causes. The plain .NET equivalent of a
// Notify is a SemaphoreSlim(0) used as an auto-reset signal.
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class NotifyBenchmarks
{
    private const int Rounds = 10_000;

    private readonly SemaphoreSlim _bclPing = new(0);
    private readonly SemaphoreSlim _bclPong = new(0);
    private readonly Notify _ping = new();
    private readonly Notify _pong = new();
    private readonly Countdown _cd = new();
    private Runtime _runtime = null!;
    private Func<Task> _kyotoPinger = null!;
    private Func<Task> _kyotoPonger = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        Notify ping = _ping;
        Notify pong = _pong;
        Countdown cd = _cd;
        _kyotoPinger = async () =>
        {
            for (int i = 0; i < Rounds / 2; i++)
            {
                ping.NotifyOne();
                await pong.NotifiedAsync();
            }

            cd.Hit();
        };
        _kyotoPonger = async () =>
        {
            for (int i = 0; i < Rounds / 2; i++)
            {
                await ping.NotifiedAsync();
                pong.NotifyOne();
            }

            cd.Hit();
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Rounds)]
    public void Bcl()
    {
        SemaphoreSlim ping = _bclPing;
        SemaphoreSlim pong = _bclPong;
        Task pinger = Task.Run(async () =>
        {
            for (int i = 0; i < Rounds / 2; i++)
            {
                ping.Release();
                await pong.WaitAsync();
            }
        });
        Task ponger = Task.Run(async () =>
        {
            for (int i = 0; i < Rounds / 2; i++)
            {
                await ping.WaitAsync();
                pong.Release();
            }
        });
        Task.WaitAll(pinger, ponger);
    }

    [Benchmark(OperationsPerInvoke = Rounds)]
    public void Kyoto()
    {
        _cd.Arm(2);
        _runtime.Spawn(_kyotoPinger);
        _runtime.Spawn(_kyotoPonger);
        _cd.Wait();
    }
}
