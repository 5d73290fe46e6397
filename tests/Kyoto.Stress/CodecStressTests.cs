using System.Buffers;
using Kyoto.Codec;
using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Framing races: a writer task feeds and sends random length-delimited frames through a FramedWrite with a
/// random high-water mark, a reader task reads them through a FramedRead with a random initial buffer, over a
/// MemoryDuplex of random capacity (so frames split at random places), and both cancel operations at random
/// (before they start, right after, or from another task while they wait). Cancel safety as documented: a
/// cancelled feed has not taken its frame (fed again), a cancelled send or flush keeps its bytes buffered (not
/// sent again), a cancelled read loses nothing. The reader must get every frame once, in order.
/// </summary>
public class CodecStressTests
{
    private static byte[] Frame(int index, Random sizes)
    {
        int length = sizes.Next(4) == 0 ? sizes.Next(0, 5000) : sizes.Next(0, 64);
        var frame = new byte[length];
        for (int i = 0; i < length; i++)
        {
            frame[i] = (byte)(index * 7 + i);
        }

        return frame;
    }

    private static async Task WriteAsync(MemoryDuplexEnd end, int count, int seed, Random rng)
    {
        var codec = new LengthDelimitedCodec();
        await using var output = new FramedWrite<ReadOnlyMemory<byte>>(end, codec) { HighWaterMark = rng.Next(1, 20_000) };
        var sizes = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            byte[] frame = Frame(i, sizes);
            bool taken = false;
            while (!taken)
            {
                (CancellationTokenSource? cts, JoinHandle? canceller) = RandomCancellation.Next(rng, outOf: 10, cancelledLater: 2);
                bool send = rng.Next(8) == 0;
                try
                {
                    if (send)
                    {
                        // Send buffers the frame before any I/O: once it has returned (or thrown a cancellation) the
                        // frame is taken and must not be sent again.
                        taken = true;
                        await output.SendAsync(frame, cts?.Token ?? default);
                    }
                    else
                    {
                        await output.FeedAsync(frame, cts?.Token ?? default);
                        taken = true;
                    }
                }
                catch (OperationCanceledException)
                {
                    // Feed: not taken, fed again. Send: taken, stays buffered for the next flush.
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
        }

        await output.ShutdownAsync();
    }

    private static async Task<int> ReadAsync(MemoryDuplexEnd end, int seed, Random rng)
    {
        var codec = new LengthDelimitedCodec();
        await using var input = new FramedRead<ReadOnlySequence<byte>>(end, codec, rng.Next(1, 10_000));
        var sizes = new Random(seed);
        int received = 0;
        while (true)
        {
            (CancellationTokenSource? cts, JoinHandle? canceller) = RandomCancellation.Next(rng, outOf: 10, cancelledLater: 2);
            ReadOnlySequence<byte> frame;
            try
            {
                if (!await input.WaitToReadAsync(cts?.Token ?? default))
                {
                    return received;
                }

                Assert.True(input.TryRead(out frame));
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

            byte[] expected = Frame(received, sizes);
            if (!frame.ToArray().AsSpan().SequenceEqual(expected))
            {
                Assert.Fail($"frame {received}: {frame.Length} bytes differ from the {expected.Length} expected {Seeds.Describe}");
            }

            received++;
        }
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void LengthDelimited_RandomSplitsAndCancellation_EveryFrameOnceInOrder(RuntimeFlavor flavor)
    {
        const int Rounds = 12;
        const int FramesPerRound = 3000;
        using Runtime rt = flavor == RuntimeFlavor.MultiThread
            ? new RuntimeBuilder { Flavor = RuntimeFlavor.MultiThread, WorkerThreads = 2 }.Build()
            : RuntimeBuilder.CurrentThread().Build();
        rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(2600 + round + (flavor == RuntimeFlavor.MultiThread ? 0 : 100));
                int capacity = rng.Next(3) switch
                {
                    0 => rng.Next(1, 16),
                    1 => rng.Next(16, 1024),
                    _ => rng.Next(1024, 64 * 1024),
                };
                var (a, b) = MemoryDuplex.Create(capacity);
                int frameSeed = rng.Next();
                int writerSeed = rng.Next();
                int readerSeed = rng.Next();
                JoinHandle writer = KyotoTask.Spawn(() => WriteAsync(a, FramesPerRound, frameSeed, new Random(writerSeed)));
                JoinHandle<int> reader = KyotoTask.Spawn(() => ReadAsync(b, frameSeed, new Random(readerSeed)));
                await writer;
                int received = await reader;
                Assert.True(received == FramesPerRound, $"received {received} of {FramesPerRound} frames; round {round}, capacity {capacity} {Seeds.Describe}");
                a.Dispose();
                b.Dispose();
            }
        }, TimeSpan.FromSeconds(120));
    }
}
