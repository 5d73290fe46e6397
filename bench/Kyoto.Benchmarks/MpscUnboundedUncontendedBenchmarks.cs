// Mirrors the peers' mpsc_unbounded_uncontended (../shared/peers/dotnet-bench/Program.cs
// MpscUnboundedUncontended, ../shared/peers/tokio-bench/src/main.rs): a fresh unbounded channel per
// invocation; one producer task sends MPSC_UNBOUNDED_MSGS values without waiting, one consumer task receives
// them all and checks the sum. One operation = one value sent and received.
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class MpscUnboundedUncontendedBenchmarks
{
    private const int Messages = 10_000;
    private const ulong Expected = (ulong)Messages * (Messages - 1) / 2;

    private Runtime _runtime = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public void Bcl()
    {
        var ch = Channel.CreateUnbounded<ulong>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        Task.Run(() =>
        {
            ChannelWriter<ulong> w = ch.Writer;
            for (ulong i = 0; i < Messages; i++)
            {
                w.TryWrite(i);
            }
        });
        Task<ulong> consumer = Task.Run(async () =>
        {
            ChannelReader<ulong> r = ch.Reader;
            ulong sum = 0;
            for (int k = 0; k < Messages; k++)
            {
                sum += await r.ReadAsync();
            }

            return sum;
        });
        Check(consumer.GetAwaiter().GetResult());
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public void Kyoto()
    {
        var (tx, rx) = Mpsc.CreateUnbounded<ulong>();
        _runtime.Spawn(() =>
        {
            using (tx)
            {
                for (ulong i = 0; i < Messages; i++)
                {
                    tx.TrySend(i);
                }
            }

            return Task.CompletedTask;
        });
        JoinHandle<ulong> consumer = _runtime.Spawn(async () =>
        {
            ulong sum = 0;
            for (int k = 0; k < Messages; k++)
            {
                sum += await rx.RecvAsync();
            }

            return sum;
        });
        Check(consumer.AsTask().GetAwaiter().GetResult());
    }

    private static void Check(ulong sum)
    {
        if (sum != Expected)
        {
            throw new InvalidOperationException($"bad sum {sum}, expected {Expected}");
        }
    }
}
