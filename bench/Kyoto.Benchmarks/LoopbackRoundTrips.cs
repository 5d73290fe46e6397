// The skeleton the loopback socket benchmarks share: a runtime with 2 workers (the .NET side gets 2 minimum pool
// threads, as dotnet-bench's Main), ROUNDS round trips of SIZE bytes per invocation, Bcl awaited on the calling
// thread over the thread pool, Kyoto as one task on the runtime that hits the countdown when its rounds are done.
using BenchmarkDotNet.Attributes;

namespace Kyoto.Benchmarks;

/// <summary>The set-up, clean-up and the two benchmark methods of a loopback round-trip workload.</summary>
[MemoryDiagnoser]
public abstract class LoopbackRoundTrips
{
    /// <summary>Round trips per invocation: one operation each (OperationsPerInvoke).</summary>
    protected const int Rounds = 1_000;

    /// <summary>Bytes sent each way per round trip.</summary>
    protected const int Size = 64;

    private readonly Countdown _cd = new();
    private readonly List<IDisposable> _sockets = new();
    private Func<Task> _kyotoRounds = null!;

    /// <summary>The runtime Kyoto's side runs on.</summary>
    protected Runtime Runtime { get; private set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2);
        Runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        _kyotoRounds = SetUpPeers();
    }

    /// <summary>
    /// Connects both sides' sockets and starts their echo tasks; returns Kyoto's <see cref="Rounds"/> round trips,
    /// which end with <see cref="RoundsDone"/>.
    /// </summary>
    protected abstract Func<Task> SetUpPeers();

    /// <summary>Called by Kyoto's rounds when they are done: releases the benchmark thread.</summary>
    protected void RoundsDone() => _cd.Hit();

    /// <summary>The .NET side's <see cref="Rounds"/> round trips.</summary>
    protected abstract Task BclRounds();

    /// <summary>Registers a socket for <see cref="Cleanup"/>, which closes it (its echo task ends); returns it.</summary>
    protected T Own<T>(T socket) where T : IDisposable
    {
        _sockets.Add(socket);
        return socket;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (IDisposable socket in _sockets)
        {
            socket.Dispose();
        }

        Runtime.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rounds)]
    public void Bcl() => BclRounds().GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Rounds)]
    public void Kyoto()
    {
        _cd.Arm(1);
        Runtime.Spawn(_kyotoRounds);
        _cd.Wait();
    }
}
