// Fan-out of values to many consumers (no peer workload; Tokio's benches/sync_broadcast.rs is the nearest).
// One sender task broadcasts 100 values per invocation to `Receivers` long-lived consumer tasks; each consumer
// receives all 100 (in order), checks their sum and hits a countdown.
//  - Bcl: one System.Threading.Channels unbounded channel per consumer (single reader, single writer: the
//    fastest BCL configuration), consumers and sender on the .NET thread pool; a send writes to every channel.
//  - Kyoto: one Broadcast channel (capacity 128, so nobody lags), consumers and sender as Kyoto tasks on a
//    2-worker runtime.
// Everything (channels, consumers, the sender task) is built in GlobalSetup and lives across invocations; an
// invocation only triggers the sender (through a channel of the same kind) and waits, so `Allocated` counts
// only what sending and receiving allocate. OperationsPerInvoke = 100: **Mean is per send** (one send reaches
// every receiver, so divide by Receivers for the cost per delivered value).
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class BroadcastBenchmarks
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
    private BroadcastSender<int> _tx = null!;
    private BroadcastSender<int> _kyotoGo = null!;

    /// <summary>The sum of one round's values: round r sends r * 100 + 1 .. r * 100 + 100.</summary>
    private static long RoundSum(int round) => (long)round * Sends * Sends + Sends * (Sends + 1) / 2;

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
                    for (int round = 0; ; round++)
                    {
                        long sum = 0;
                        for (int i = 0; i < Sends; i++)
                        {
                            sum += await reader.ReadAsync();
                        }

                        if (sum != RoundSum(round))
                        {
                            Interlocked.Increment(ref _bad);
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
        var (tx, first) = Broadcast.Create<int>(128);
        _tx = tx;
        for (int r = 0; r < Receivers; r++)
        {
            BroadcastReceiver<int> rx = r == 0 ? first : tx.Subscribe();
            _runtime.Spawn(async () =>
            {
                try
                {
                    for (int round = 0; ; round++)
                    {
                        long sum = 0;
                        for (int i = 0; i < Sends; i++)
                        {
                            sum += await rx.RecvAsync();
                        }

                        if (sum != RoundSum(round))
                        {
                            Interlocked.Increment(ref _bad);
                        }

                        _cd.Hit();
                    }
                }
                catch (ClosedChannelException)
                {
                }
                catch (BroadcastLaggedException)
                {
                    Interlocked.Increment(ref _bad); // the ring holds a whole round: nobody may lag
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
            throw new InvalidOperationException($"{_bad} receiver round(s) got a wrong sum: the benchmark is not measuring a correct broadcast.");
        }
    }
}
