using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// MemoryDuplex races: both directions at once, random capacities and chunk sizes, and reads and writes
/// cancelled at random (before they start, right after, or from another task while they wait). Byte p of each
/// direction is a function of p, so the reader checks that every byte it gets is the next one: a cancelled
/// operation must have moved nothing, a completed one exactly its count. At the end each side reads end of stream
/// at exactly the count the writer got accepted, and no waiter is left behind.
/// </summary>
public class MemoryDuplexStressTests
{
    // At most this much per direction per round, and 2000 times the capacity (tiny capacities move a byte or two per operation).
    private const int MaxBytesPerDirection = 200_000;

    private static byte At(long position, int direction) => (byte)((position * 31) ^ (position >> 9) ^ (direction * 0x5A));

    private static async Task<long> WriteDirectionAsync(MemoryDuplexEnd writer, int direction, long total, Random rng)
    {
        var chunk = new byte[4096];
        long sent = 0;
        while (sent < total)
        {
            int n = (int)Math.Min(rng.Next(1, chunk.Length + 1), total - sent);
            for (int i = 0; i < n; i++)
            {
                chunk[i] = At(sent + i, direction);
            }

            (CancellationTokenSource? cts, JoinHandle? canceller) = RandomCancellation.Next(rng, outOf: 8, cancelledLater: 1);
            try
            {
                ValueTask<int> write = writer.WriteAsync(chunk.AsMemory(0, n), cts?.Token ?? default);
                if (cts is not null && rng.Next(2) == 0)
                {
                    await cts.CancelAsync();
                }

                int written = await write;
                Assert.InRange(written, 1, n);
                sent += written;
            }
            catch (OperationCanceledException)
            {
                // Cancel safe: nothing of the chunk went in, so it is written again from the same position.
            }
            finally
            {
                if (canceller is { } c)
                {
                    await c;
                }

                cts?.Dispose();
            }
        }

        await writer.ShutdownAsync();
        return sent;
    }

    private static async Task<long> ReadDirectionAsync(MemoryDuplexEnd reader, int direction, Random rng)
    {
        var buffer = new byte[4096];
        long received = 0;
        while (true)
        {
            int size = rng.Next(1, buffer.Length + 1);
            (CancellationTokenSource? cts, JoinHandle? canceller) = RandomCancellation.Next(rng, outOf: 8, cancelledLater: 1);
            int n;
            try
            {
                n = await reader.ReadAsync(buffer.AsMemory(0, size), cts?.Token ?? default);
            }
            catch (OperationCanceledException)
            {
                continue;
            }
            finally
            {
                if (canceller is { } c)
                {
                    await c;
                }

                cts?.Dispose();
            }

            if (n == 0)
            {
                return received;
            }

            Assert.InRange(n, 1, size);
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != At(received + i, direction))
                {
                    Assert.Fail($"direction {direction}: byte {received + i} is {buffer[i]}, expected {At(received + i, direction)} {Seeds.Describe}");
                }
            }

            received += n;
        }
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void BothDirections_RandomChunksAndCancellation_EveryByteOnceInOrder(RuntimeFlavor flavor)
    {
        const int Rounds = 16;
        using Runtime rt = flavor == RuntimeFlavor.MultiThread
            ? new RuntimeBuilder { Flavor = RuntimeFlavor.MultiThread, WorkerThreads = 2 }.Build()
            : RuntimeBuilder.CurrentThread().Build();
        rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(1500 + round + (flavor == RuntimeFlavor.MultiThread ? 0 : 100));
                int capacity = rng.Next(4) switch
                {
                    0 => rng.Next(1, 8),
                    1 => rng.Next(8, 256),
                    _ => rng.Next(256, 16 * 1024),
                };
                long total = Math.Min(MaxBytesPerDirection, capacity * 2000L);
                var (a, b) = MemoryDuplex.Create(capacity);
                int seedBase = rng.Next();
                JoinHandle<long> aWrites = KyotoTask.Spawn(async () => await WriteDirectionAsync(a, 0, total, new Random(seedBase)));
                JoinHandle<long> bReads = KyotoTask.Spawn(async () => await ReadDirectionAsync(b, 0, new Random(seedBase + 1)));
                JoinHandle<long> bWrites = KyotoTask.Spawn(async () => await WriteDirectionAsync(b, 1, total, new Random(seedBase + 2)));
                JoinHandle<long> aReads = KyotoTask.Spawn(async () => await ReadDirectionAsync(a, 1, new Random(seedBase + 3)));

                long sentAB = await aWrites;
                long receivedAB = await bReads;
                long sentBA = await bWrites;
                long receivedBA = await aReads;
                string where = $"round {round}, capacity {capacity} {Seeds.Describe}";
                Assert.True(sentAB == total && receivedAB == sentAB, $"a→b: sent {sentAB}, received {receivedAB}; {where}");
                Assert.True(sentBA == total && receivedBA == sentBA, $"b→a: sent {sentBA}, received {receivedBA}; {where}");
                Assert.True(a.WaiterCount == 0 && b.WaiterCount == 0, $"waiters left: a {a.WaiterCount}, b {b.WaiterCount}; {where}");
                a.Dispose();
                b.Dispose();
            }
        }, TimeSpan.FromSeconds(120));
    }
}
