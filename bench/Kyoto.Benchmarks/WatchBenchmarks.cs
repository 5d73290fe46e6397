// A value observed by many consumers (no peer workload; Tokio's benches/sync_watch.rs is the nearest). One
// sender task publishes 100 increasing values per invocation; each of `Receivers` long-lived consumer tasks
// waits for changes until it has seen the round's last value, checks that what it saw only ever increased, and
// hits a countdown. A watch may coalesce: a consumer sees the latest value, not necessarily every one.
//  - Bcl: one System.Threading.Channels unbounded channel per consumer (single reader, single writer), the
//    same stop condition (read until the last value), consumers and sender on the .NET thread pool.
//  - Kyoto: one Watch channel; consumers loop on ChangedAsync + BorrowAndUpdate; Kyoto tasks on a 2-worker runtime.
// Everything is built in GlobalSetup and lives across invocations; an invocation only triggers the sender
// and waits, so `Allocated` counts only what sending and waiting allocate. OperationsPerInvoke = 100:
// **Mean is per send** (one send notifies every receiver).
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class WatchBenchmarks
{
    private const int Sends = 100;

    private readonly Countdown _cd = new();
    private int _bad;
    private int _round;

    [Params(10, 100, 1000)]
    public int Receivers;

    // Bcl
    private ChannelWriter<int>[] _writers = null!;
    private Channel<int> _bclGo = null!;

    // Kyoto
    private Runtime _runtime = null!;
    private WatchSender<int> _tx = null!;
    private BroadcastSender<int> _kyotoGo = null!;

    /// <summary>Round r publishes r * 100 + 1 .. r * 100 + 100; a consumer's round ends on the last.</summary>
    private static int RoundLast(int round) => (round + 1) * Sends;

    [GlobalSetup(Target = nameof(Bcl))]
    public void SetupBcl()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        var options = new UnboundedChannelOptions { SingleReader = true, SingleWriter = true };
        _writers = new ChannelWriter<int>[Receivers];
        for (int r = 0; r < Receivers; r++)
        {
            Channel<int> channel = Channel.CreateUnbounded<int>(options);
            _writers[r] = channel.Writer;
            ChannelReader<int> reader = channel.Reader;
            _ = Task.Run(async () =>
            {
                try
                {
                    int seen = 0;
                    for (int round = 0; ; round++)
                    {
                        int last = RoundLast(round);
                        while (seen != last)
                        {
                            int v = await reader.ReadAsync();
                            if (v <= seen || v > last)
                            {
                                Interlocked.Increment(ref _bad);
                            }

                            seen = v;
                        }

                        _cd.Hit();
                    }
                }
                catch (ChannelClosedException)
                {
                }
            });
        }

        _bclGo = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        ChannelReader<int> go = _bclGo.Reader;
        ChannelWriter<int>[] writers = _writers;
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    int round = await go.ReadAsync();
                    for (int i = 1; i <= Sends; i++)
                    {
                        int value = round * Sends + i;
                        foreach (ChannelWriter<int> w in writers)
                        {
                            w.TryWrite(value);
                        }
                    }
                }
            }
            catch (ChannelClosedException)
            {
            }
        });
    }

    [GlobalCleanup(Target = nameof(Bcl))]
    public void CleanupBcl()
    {
        _bclGo.Writer.Complete();
        foreach (ChannelWriter<int> w in _writers)
        {
            w.Complete();
        }
    }

    [GlobalSetup(Target = nameof(Kyoto))]
    public void SetupKyoto()
    {
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        var (tx, first) = Watch.Create(0);
        _tx = tx;
        for (int r = 0; r < Receivers; r++)
        {
            WatchReceiver<int> rx = r == 0 ? first : tx.Subscribe();
            _runtime.Spawn(async () =>
            {
                try
                {
                    int seen = 0;
                    for (int round = 0; ; round++)
                    {
                        int last = RoundLast(round);
                        while (seen != last)
                        {
                            // BorrowAndUpdate, not Borrow: Borrow may read a value newer than the version
                            // ChangedAsync marked, and the next ChangedAsync would then report it again.
                            await rx.ChangedAsync();
                            int v = rx.BorrowAndUpdate();
                            if (v <= seen || v > last)
                            {
                                Interlocked.Increment(ref _bad);
                            }

                            seen = v;
                        }

                        _cd.Hit();
                    }
                }
                catch (ClosedChannelException)
                {
                }
            });
        }

        var (goTx, goRx) = Broadcast.Create<int>(1);
        _kyotoGo = goTx;
        _runtime.Spawn(async () =>
        {
            try
            {
                while (true)
                {
                    int round = await goRx.RecvAsync();
                    for (int i = 1; i <= Sends; i++)
                    {
                        tx.Send(round * Sends + i);
                    }
                }
            }
            catch (ClosedChannelException)
            {
            }
        });
    }

    [GlobalCleanup(Target = nameof(Kyoto))]
    public void CleanupKyoto()
    {
        _kyotoGo.Dispose();
        _tx.Dispose();
        _runtime.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Sends)]
    public void Bcl()
    {
        _cd.Arm(Receivers);
        _bclGo.Writer.TryWrite(_round++);
        _cd.Wait();
        Verify();
    }

    [Benchmark(OperationsPerInvoke = Sends)]
    public void Kyoto()
    {
        _cd.Arm(Receivers);
        _kyotoGo.Send(_round++);
        _cd.Wait();
        Verify();
    }

    private void Verify()
    {
        if (Volatile.Read(ref _bad) != 0)
        {
            throw new InvalidOperationException($"{_bad} value(s) seen out of order or past the round's last: the benchmark is not measuring a correct watch.");
        }
    }
}
