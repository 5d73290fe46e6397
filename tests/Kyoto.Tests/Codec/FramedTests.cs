using System.Buffers;
using System.Text;
using Kyoto.Codec;
using Kyoto.IO;
using Kyoto.Sync;
using Kyoto.Tasks;
using static Kyoto.Tests.Codec.CodecIo;

namespace Kyoto.Tests.Codec;

/// <summary>
/// FramedRead, FramedWrite and Framed over MemoryDuplex on both runtime flavours: round trips with backpressure,
/// end of stream, cancellation of reads and flushes losing nothing, high-water mark, synchronous hot path,
/// several senders through an AsyncMutex, and switching protocol mid-stream.
/// </summary>
public abstract class FramedTests : RuntimeTestBase
{
    public sealed class MultiThread : FramedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : FramedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + Bounded.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await KyotoTask.Yield();
        }
    }

    private static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"frame-{i}-" + new string((char)('a' + (i % 26)), i % 97));

    [Theory]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(64 * 1024)]
    public void LengthDelimited_WriterAndReaderTasks_EveryFrameInOrder(int capacity)
    {
        const int Count = 2000;
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(capacity);
            var codec = new LengthDelimitedCodec();
            JoinHandle writer = KyotoTask.Spawn(async () =>
            {
                await using var output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec) { HighWaterMark = 1000 };
                for (int i = 0; i < Count; i++)
                {
                    if (i % 10 == 9)
                    {
                        await output.SendAsync(Payload(i));
                    }
                    else
                    {
                        await output.FeedAsync(Payload(i));
                    }
                }

                await output.ShutdownAsync();
            });

            await using var input = new FramedRead<ReadOnlySequence<byte>>(b, codec, 64);
            int n = 0;
            await foreach (ReadOnlySequence<byte> frame in input)
            {
                Assert.Equal(Payload(n), frame.ToArray());
                n++;
            }

            Assert.Equal(Count, n);
            await writer;
            Assert.Throws<EndOfStreamException>(() => Now(input.ReadAsync()));
        });
    }

    [Fact]
    public void Framed_EchoServer_WithOneCodec()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = MemoryDuplex.Create(16);
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                await using Framed<string, string> framed = Framed.Create(server, new LinesCodec());
                while (await framed.WaitToReadAsync())
                {
                    while (framed.TryRead(out string line))
                    {
                        framed.Write("echo: " + line);
                    }

                    await framed.FlushAsync();
                }

                await framed.ShutdownAsync();
            });

            await using Framed<string, string> c = Framed.Create(client, new LinesCodec());
            // The replies are read by a task of their own (Reader), or both sides would wait on full directions.
            JoinHandle<List<string>> reading = KyotoTask.Spawn(async () =>
            {
                var replies = new List<string>();
                await foreach (string reply in c.Reader)
                {
                    replies.Add(reply);
                }

                return replies;
            });
            for (int i = 0; i < 50; i++)
            {
                await c.FeedAsync($"line {i}");
            }

            await c.ShutdownAsync();
            List<string> replies = await reading;

            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"echo: line {i}"), replies);
            await echo;
        });
    }

    [Fact]
    public void TruncatedStream_ThrowsTruncatedFrame_AfterTheWholeFrames()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1024);
            await a.WriteAllAsync(new byte[] { 0, 0, 0, 2, 1, 2, 0, 0, 0, 9, 1, 2, 3 });
            await a.ShutdownAsync();
            await using var input = new FramedRead<ReadOnlySequence<byte>>(b, new LengthDelimitedCodec());
            Assert.Equal(new byte[] { 1, 2 }, (await input.ReadAsync()).ToArray());
            var e = await Assert.ThrowsAsync<TruncatedFrameException>(async () => await input.ReadAsync());
            Assert.Equal(7, e.RemainingBytes);
        });
    }

    [Fact]
    public void CancelledRead_LosesNoBytes_TheNextReadGetsTheWholeFrame()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1024);
            var codec = new LinesCodec();
            await using var input = new FramedRead<string>(b, codec);
            await a.WriteAllAsync(Bytes("first half, "));
            using var cts = new CancellationTokenSource();
            ValueTask<string> read = input.ReadAsync(cts.Token);
            await Until(() => b.WaiterCount == 1, "the read to wait for more bytes");
            Assert.False(read.IsCompleted);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await read);
            Assert.Equal(Bytes("first half, "), input.ReadBuffer.ToArray());
            Assert.Equal(0, b.WaiterCount);

            // A read cancelled before it starts loses nothing either.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await input.ReadAsync(cts.Token));
            await a.WriteAllAsync(Bytes("second half\n"));
            Assert.Equal("first half, second half", await input.ReadAsync());
        });
    }

    [Fact]
    public void CancelledFlush_LosesNoBytes_AndSendsNoneTwice()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(16);
            var codec = new LengthDelimitedCodec();
            await using var output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec);
            for (int i = 0; i < 5; i++)
            {
                output.Write(Payload(i));
            }

            int total = output.BufferedBytes;
            using var cts = new CancellationTokenSource();
            ValueTask flush = output.FlushAsync(cts.Token);
            await Until(() => a.WaiterCount == 1, "the flush to wait for room");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await flush);
            Assert.Equal(total - 16, output.BufferedBytes);

            output.Write(Payload(5));
            JoinHandle<List<byte[]>> reader = KyotoTask.Spawn(async () =>
            {
                await using var input = new FramedRead<ReadOnlySequence<byte>>(b, codec);
                var frames = new List<byte[]>();
                await foreach (ReadOnlySequence<byte> f in input)
                {
                    frames.Add(f.ToArray());
                }

                return frames;
            });
            await output.FlushAsync();
            Assert.Equal(0, output.BufferedBytes);
            await output.ShutdownAsync();
            Assert.Equal(Enumerable.Range(0, 6).Select(Payload), await reader);
        });
    }

    [Fact]
    public void HighWaterMark_FeedFlushesFirstOnceReached_ElseCompletesSynchronously()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1 << 20);
            await using var output = new FramedWrite<string>(a, new LinesCodec()) { HighWaterMark = 20 };
            Assert.Equal(FramedWrite<string>.DefaultHighWaterMark, new FramedWrite<string>(a, new LinesCodec()).HighWaterMark);
            ValueTask feed = output.FeedAsync("123456789"); // 10 bytes
            Assert.True(feed.IsCompletedSuccessfully);
            await feed;
            await output.FeedAsync("123456789"); // 20 bytes: at the mark, not flushed yet
            Assert.Equal(20, output.BufferedBytes);
            Assert.Equal(0, a.PendingWrite);
            await output.FeedAsync("abc"); // flushes the 20 first, then buffers 4
            Assert.Equal(20, a.PendingWrite);
            Assert.Equal(4, output.BufferedBytes);
            Assert.Throws<ArgumentOutOfRangeException>(() => output.HighWaterMark = 0);
        });
    }

    [Fact]
    public void HotPath_CompletesSynchronously_WhenNoIoIsNeeded()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1 << 16);
            var codec = new LengthDelimitedCodec();
            await using var output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec);
            await using var input = new FramedRead<ReadOnlySequence<byte>>(b, codec);
            for (int round = 0; round < 10; round++)
            {
                for (int i = 0; i < 10; i++)
                {
                    Assert.True(output.FeedAsync(Payload(i)).IsCompletedSuccessfully);
                }

                Assert.True(output.FlushAsync().IsCompletedSuccessfully);
                ValueTask<bool> wait = input.WaitToReadAsync();
                Assert.True(wait.IsCompletedSuccessfully && wait.Result);
                for (int i = 0; i < 10; i++)
                {
                    Assert.True(input.TryRead(out ReadOnlySequence<byte> frame));
                    Assert.Equal(Payload(i), frame.ToArray());
                }

                Assert.False(input.TryRead(out _));
                Assert.True(output.SendAsync(Payload(1)).IsCompletedSuccessfully);
                ValueTask<ReadOnlySequence<byte>> read = input.ReadAsync();
                Assert.True(read.IsCompletedSuccessfully);
            }
        });
    }

    [Fact]
    public void SeveralSenders_ThroughAnAsyncMutex_FramesNeverInterleave()
    {
        const int Tasks = 4;
        const int PerTask = 300;
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(100);
            var shared = new AsyncMutex<FramedWrite<string>>(new FramedWrite<string>(a, new LinesCodec()) { HighWaterMark = 64 });
            var senders = new List<JoinHandle>();
            for (int t = 0; t < Tasks; t++)
            {
                int task = t;
                senders.Add(KyotoTask.Spawn(async () =>
                {
                    for (int i = 0; i < PerTask; i++)
                    {
                        using MutexGuard<FramedWrite<string>> guard = await shared.LockAsync();
                        await guard.Value.SendAsync($"{task}:{i}:" + new string('x', i % 50));
                    }
                }));
            }

            JoinHandle closer = KyotoTask.Spawn(async () =>
            {
                foreach (JoinHandle s in senders)
                {
                    await s;
                }

                using MutexGuard<FramedWrite<string>> guard = await shared.LockAsync();
                await guard.Value.ShutdownAsync();
            });

            var next = new int[Tasks];
            await using var input = new FramedRead<string>(b, new LinesCodec());
            await foreach (string line in input)
            {
                string[] parts = line.Split(':');
                int task = int.Parse(parts[0]);
                int i = int.Parse(parts[1]);
                Assert.Equal(next[task]++, i);
                Assert.Equal(new string('x', i % 50), parts[2]);
            }

            Assert.All(next, n => Assert.Equal(PerTask, n));
            await closer;
        });
    }

    [Fact]
    public void SwitchProtocol_ReleaseHandsBackTheUnreadBytes()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4096);
            var binary = new LengthDelimitedCodec();
            var data = new ArrayBufferWriter<byte>();
            data.Write(Bytes("HELLO\r\nBINARY\n"));
            binary.Encode(Bytes("one"), data);
            binary.Encode(Bytes("two"), data);
            await a.WriteAllAsync(data.WrittenMemory); // one write: the line reader buffers the binary part too
            binary.Encode(Bytes("three"), new ArrayBufferWriter<byte>());

            var lines = new FramedRead<string>(b, new LinesCodec());
            Assert.Equal("HELLO", await lines.ReadAsync());
            Assert.Equal("BINARY", await lines.ReadAsync());
            Assert.Equal(14, lines.ReadBuffer.Length);
            IAsyncReader rest = lines.Release();
            Assert.IsType<PrefixedReader>(rest);
            Assert.Throws<ObjectDisposedException>(() => lines.TryRead(out _));

            await using var frames = new FramedRead<ReadOnlySequence<byte>>(rest, binary);
            Assert.Equal(Bytes("one"), (await frames.ReadAsync()).ToArray());
            Assert.Equal(Bytes("two"), (await frames.ReadAsync()).ToArray());
            var more = new ArrayBufferWriter<byte>();
            binary.Encode(Bytes("three"), more);
            await a.WriteAllAsync(more.WrittenMemory);
            Assert.Equal(Bytes("three"), (await frames.ReadAsync()).ToArray());
        });
    }

    [Fact]
    public void FramedRelease_ReturnsADuplexThatReadsLeftoversFirst_AndRefusesUnflushedOutput()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4096);
            await a.WriteAllAsync(Bytes("STARTTLS\nraw bytes"));
            var framed = Framed.Create(b, new LinesCodec());
            Assert.Equal("STARTTLS", await framed.ReadAsync());
            framed.Write("OK");
            Assert.Throws<InvalidOperationException>(() => framed.Release());
            await framed.FlushAsync();
            IAsyncDuplex raw = framed.Release();
            var buffer = new byte[64];
            int n = await raw.ReadAsync(buffer);
            Assert.Equal(Bytes("raw bytes"), buffer[..n]);
            await raw.WriteAllAsync(Bytes("after"));
            n = await a.ReadAsync(buffer);
            Assert.Equal(Bytes("OK\nafter"), buffer[..n]);
        });
    }

    [Fact]
    public void Release_WithADecodedFrameNotTaken_Throws()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4096);
            await a.WriteAllAsync(Bytes("x\n"));
            var lines = new FramedRead<string>(b, new LinesCodec());
            Assert.True(await lines.WaitToReadAsync());
            Assert.Throws<InvalidOperationException>(() => lines.Release());
            Assert.True(lines.TryRead(out string x));
            Assert.Equal("x", x);
            Assert.Same(b, lines.Release());
        });
    }

    [Fact]
    public void WaitToRead_OverTcp_TaskAbortedOrTokenCancelledWhileWaiting_EndsTheWait_AndLosesNoByte()
    {
        using var rt = NewRuntime();
        string after = rt.BlockOnBounded(async () =>
        {
            using var acceptor = Kyoto.Net.TcpAcceptor.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            using Kyoto.Net.TcpStream client = await Kyoto.Net.TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using Kyoto.Net.TcpStream server = await acceptor.AcceptAsync();
            var lines = new FramedRead<string>(server, new LinesCodec());

            // Abort: the task parked in the wait (nothing to read) ends as cancelled.
            var parked = new OnceEvent();
            JoinHandle<bool> waiting = KyotoTask.Spawn(async () =>
            {
                ValueTask<bool> wait = lines.WaitToReadAsync();
                parked.Set();
                return await wait;
            });
            await parked.WaitAsync();
            waiting.Abort();
            JoinException aborted = await Assert.ThrowsAsync<JoinException>(async () => await waiting);
            Assert.True(aborted.IsCancelled);

            // A token cancelled while the wait has half a line buffered: the bytes stay for the next wait.
            await client.WriteAllAsync("hel"u8.ToArray());
            using var cts = new CancellationTokenSource();
            ValueTask<bool> cancelled = lines.WaitToReadAsync(cts.Token);
            await KyotoTask.Yield();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
            await client.WriteAllAsync("lo\n"u8.ToArray());
            Assert.True(await lines.WaitToReadAsync());
            Assert.True(lines.TryRead(out string line));
            return line;
        });
        Assert.Equal("hello", after);
    }
}
