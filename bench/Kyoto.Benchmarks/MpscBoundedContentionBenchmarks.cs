// Mirrors the peers' mpsc_bounded_contention (../shared/peers/dotnet-bench/Program.cs MpscBoundedContention,
// ../shared/peers/tokio-bench/src/main.rs): a fresh bounded channel of capacity 1,000,000 per invocation;
// MPSC_PRODUCERS tasks each send MPSC_PER_PRODUCER values (awaiting every send), one consumer task receives
// them all and checks the sum. One operation = one value sent and received.
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class MpscBoundedContentionBenchmarks
{
    private const int Producers = 5;
    private const int PerProducer = 1_000;
    private const int Capacity = 1_000_000;
    private const int Total = Producers * PerProducer;
    private const ulong Expected = Producers * ((ulong)PerProducer * (PerProducer - 1) / 2);

    private Runtime _runtime = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2); // as dotnet-bench's Main (WORKERS = 2)
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Total)]
    public void Bcl()
    {
        var ch = Channel.CreateBounded<ulong>(new BoundedChannelOptions(Capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        for (int p = 0; p < Producers; p++)
        {
            Task.Run(async () =>
            {
                ChannelWriter<ulong> w = ch.Writer;
                for (ulong i = 0; i < PerProducer; i++)
                {
                    await w.WriteAsync(i);
                }
            });
        }

        Task<ulong> consumer = Task.Run(async () =>
        {
            ChannelReader<ulong> r = ch.Reader;
            ulong sum = 0;
            for (int k = 0; k < Total; k++)
            {
                sum += await r.ReadAsync();
            }

            return sum;
        });
        Check(consumer.GetAwaiter().GetResult());
    }

    [Benchmark(OperationsPerInvoke = Total)]
    public void Kyoto()
    {
        var (tx, rx) = Mpsc.CreateBounded<ulong>(Capacity);
        for (int p = 0; p < Producers; p++)
        {
            MpscSender<ulong> sender = tx.Clone();
            _runtime.Spawn(async () =>
            {
                using (sender)
                {
                    for (ulong i = 0; i < PerProducer; i++)
                    {
                        await sender.SendAsync(i);
                    }
                }
            });
        }

        tx.Dispose();
        JoinHandle<ulong> consumer = _runtime.Spawn(async () =>
        {
            ulong sum = 0;
            for (int k = 0; k < Total; k++)
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
