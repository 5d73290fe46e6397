using System.Buffers;
using Kyoto.Codec;
using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Tests.Codec;

/// <summary>
/// Once warm, framing allocates nothing per frame. Measured on a current-thread runtime, whose one thread runs
/// every task, so its allocation counter sees the whole workload.
/// </summary>
public sealed class CodecAllocationTests
{
    private const int Batch = 100; // frames per flush: 2,800 bytes, within the duplex's capacity
    private const int Batches = 2_000;
    private const int Warmup = 200;
    // Far below one allocation per frame (200,000 x 24 B = 4.8 MB). Not 0: the runtime's coop budget makes the
    // test's own loop yield now and then (about 8 B per batch of 100 frames measured, none from the codec).
    private const long Budget = 32 * 1024;

    [Fact]
    public void LengthDelimited_HotPathWithoutWaits_AllocatesNothingPerFrame()
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(64 * 1024);
            var codec = new LengthDelimitedCodec();
            var output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec);
            var input = new FramedRead<ReadOnlySequence<byte>>(b, codec);
            ReadOnlyMemory<byte> payload = new byte[24];

            async Task<long> Rounds(int batches)
            {
                long total = 0;
                for (int round = 0; round < batches; round++)
                {
                    for (int i = 0; i < Batch; i++)
                    {
                        await output.FeedAsync(payload);
                    }

                    await output.FlushAsync();
                    while (total < (round + 1L) * Batch * 24)
                    {
                        if (!await input.WaitToReadAsync())
                        {
                            throw new InvalidOperationException("unexpected end of stream");
                        }

                        while (input.TryRead(out ReadOnlySequence<byte> frame))
                        {
                            total += frame.Length;
                        }
                    }
                }

                return total;
            }

            await Rounds(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long read = await Rounds(Batches);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(24L * Batch * Batches, read);
            return used;
        });
        Assert.True(bytes < Budget, $"{bytes} bytes allocated over {Batch * Batches} frames ({(double)bytes / (Batch * Batches):F3} B per frame)");
    }

    /// <summary>
    /// With a writer task and a reader task waiting on each other through a small duplex, framing adds nothing
    /// to what the same byte traffic costs without it (the waits themselves are the transport's and the test
    /// harness's, measured alongside as the baseline).
    /// </summary>
    [Fact]
    public void LengthDelimited_OverTcp_EveryReadWaits_AllocatesNothingPerRoundTrip()
    {
        // A request/response loop over a loopback connection: each side's WaitToReadAsync has to wait for the
        // other's frame (the MiniRedis server's hot path). The wait is a reusable source, not an async box whose
        // continuation the task's SynchronizationContext would get wrapped in a new tuple each time.
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            using var acceptor = Kyoto.Net.TcpAcceptor.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            using Kyoto.Net.TcpStream client = await Kyoto.Net.TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using Kyoto.Net.TcpStream server = await acceptor.AcceptAsync();
            var codec = new LengthDelimitedCodec();
            var serverIn = new FramedRead<ReadOnlySequence<byte>>(server, codec);
            var serverOut = new FramedWrite<ReadOnlySequence<byte>>(server, codec);
            var clientIn = new FramedRead<ReadOnlySequence<byte>>(client, codec);
            var clientOut = new FramedWrite<ReadOnlyMemory<byte>>(client, codec);
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                while (await serverIn.WaitToReadAsync())
                {
                    while (serverIn.TryRead(out ReadOnlySequence<byte> frame))
                    {
                        serverOut.Write(frame);
                    }

                    await serverOut.FlushAsync();
                }
            });
            ReadOnlyMemory<byte> payload = new byte[24];

            async Task Rounds(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    await clientOut.SendAsync(payload);
                    if (!await clientIn.WaitToReadAsync() || !clientIn.TryRead(out ReadOnlySequence<byte> frame) || frame.Length != 24)
                    {
                        throw new InvalidOperationException($"round {i}: no echo");
                    }
                }
            }

            await Rounds(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Rounds(Batches * 5);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            await client.ShutdownAsync();
            await echo;
            return allocated;
        });
        Assert.True(bytes < Budget, $"{bytes} bytes allocated over {Batches * 5} round trips ({(double)bytes / (Batches * 5):F1} B each)");
    }

    [Fact]
    public void LengthDelimited_WithWaits_AllocatesNoMoreThanTheRawTransport()
    {
        long raw = Measure(framed: false);
        long framed = Measure(framed: true);
        Assert.True(framed <= raw + Budget, $"framed: {framed} bytes, raw transport: {raw} bytes, over {37 * 5000} frames");
    }

    private static long Measure(bool framed)
    {
        const int Frames = 37 * 5000;
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        return rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4096);
            var codec = new LengthDelimitedCodec();
            var output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec) { HighWaterMark = 1024 };
            var input = new FramedRead<ReadOnlySequence<byte>>(b, codec);
            byte[] frameBytes = [0, 0, 0, 24, .. new byte[24]];
            byte[] chunk = Enumerable.Range(0, 37).SelectMany(_ => frameBytes).ToArray(); // what 37 feeds make
            ReadOnlyMemory<byte> payload = new byte[24];
            var raw = new byte[8192];

            async Task Write(int count)
            {
                if (!framed)
                {
                    for (int i = 0; i < count; i += 37)
                    {
                        await a.WriteAllAsync(chunk);
                    }

                    return;
                }

                for (int i = 0; i < count; i++)
                {
                    await output.FeedAsync(payload);
                }

                await output.FlushAsync();
            }

            async Task Read(int count)
            {
                if (!framed)
                {
                    long total = 0;
                    while (total < 28L * count)
                    {
                        total += await b.ReadAsync(raw);
                    }

                    return;
                }

                for (int i = 0; i < count; i++)
                {
                    if (!input.TryRead(out _))
                    {
                        await input.ReadAsync();
                    }
                }
            }

            JoinHandle warm = KyotoTask.Spawn(() => Write(37 * 500));
            await Read(37 * 500);
            await warm;
            long before = GC.GetAllocatedBytesForCurrentThread();
            JoinHandle writer = KyotoTask.Spawn(() => Write(Frames));
            await Read(Frames);
            await writer;
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
    }
}
