using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Tests.IO;

/// <summary>MemoryDuplex: round trips, backpressure at capacity, shutdown and dispose, broken pipe, cancellation of blocked operations.</summary>
public abstract class MemoryDuplexTests : RuntimeTestBase
{
    public sealed class MultiThread : MemoryDuplexTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : MemoryDuplexTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Yields until <paramref name="condition"/> holds (the other task reached its wait), failing after a bound.</summary>
    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bounded.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await KyotoTask.Yield();
        }
    }

    [Fact]
    public void Create_NonPositiveCapacity_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryDuplex.Create(0));
    }

    [Fact]
    public void RoundTrip_BothDirections()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(64);
            await a.WriteAllAsync("ping"u8.ToArray());
            var buffer = new byte[16];
            await b.ReadExactlyAsync(buffer.AsMemory(0, 4));
            Assert.Equal("ping"u8.ToArray(), buffer.AsSpan(0, 4).ToArray());
            await b.WriteAllAsync("pong!"u8.ToArray());
            Assert.Equal(5, await a.ReadAsync(buffer));
            Assert.Equal("pong!"u8.ToArray(), buffer.AsSpan(0, 5).ToArray());
            Assert.Equal(0, await a.ReadAsync(Memory<byte>.Empty));
            Assert.Equal(0, await a.WriteAsync(ReadOnlyMemory<byte>.Empty));
        });
    }

    [Fact]
    public void Write_AtCapacity_WaitsUntilTheReaderDrains()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(16);
            byte[] data = TestData.Random(40, 30);
            Assert.Equal(16, await a.WriteAsync(data));
            Assert.Equal(16, a.PendingWrite);

            ValueTask<int> blocked = a.WriteAsync(data.AsMemory(16));
            await Until(() => a.WaiterCount == 1, "the writer to wait");
            Assert.False(blocked.IsCompleted);
            Assert.Equal(16, a.PendingWrite); // nothing more went in

            var buffer = new byte[40];
            Assert.Equal(4, await b.ReadAsync(buffer.AsMemory(0, 4)));
            Assert.Equal(4, await blocked); // exactly the room the read made
            Assert.Equal(16, a.PendingWrite);
            Assert.Equal(0, a.WaiterCount);

            await b.ReadExactlyAsync(buffer.AsMemory(4, 16));
            Assert.Equal(16, await a.WriteAsync(data.AsMemory(20)));
            await b.ReadExactlyAsync(buffer.AsMemory(20, 16));
            await a.WriteAllAsync(data.AsMemory(36));
            await b.ReadExactlyAsync(buffer.AsMemory(36, 4));
            Assert.Equal(data, buffer);
        });
    }

    [Fact]
    public void Shutdown_PeerReadsWhatWasWrittenThenEndOfStream_AndCanStillWriteBack()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(64);
            await a.WriteAllAsync("last words"u8.ToArray());
            await a.ShutdownAsync();
            await a.ShutdownAsync(); // idempotent
            Assert.Equal("last words"u8.ToArray(), await b.ReadToEndAsync());
            Assert.Equal(0, await b.ReadAsync(new byte[4]));

            var e = await Assert.ThrowsAsync<IOException>(async () => await a.WriteAsync(new byte[1]));
            Assert.Contains("shut down", e.Message);

            await b.WriteAllAsync("reply"u8.ToArray());
            await b.ShutdownAsync();
            Assert.Equal("reply"u8.ToArray(), await a.ReadToEndAsync());
        });
    }

    [Fact]
    public void Shutdown_WakesABlockedReaderWithEndOfStream()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(64);
            ValueTask<int> read = b.ReadAsync(new byte[8]);
            await Until(() => b.WaiterCount == 1, "the reader to wait");
            await a.ShutdownAsync();
            Assert.Equal(0, await read);
        });
    }

    [Fact]
    public void Dispose_PeerDrainsThenEndOfStream_AndItsWritesFailWithBrokenPipe()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(64);
            await a.WriteAllAsync("xy"u8.ToArray());
            await b.WriteAllAsync("unread"u8.ToArray());
            a.Dispose();
            a.Dispose(); // idempotent
            Assert.Equal("xy"u8.ToArray(), await b.ReadToEndAsync());
            var e = await Assert.ThrowsAsync<IOException>(async () => await b.WriteAsync(new byte[1]));
            Assert.Contains("broken pipe", e.Message);
            Assert.Equal(0, b.PendingWrite); // what a never read was dropped
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await a.ReadAsync(new byte[1]));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await a.WriteAsync(new byte[1]));
        });
    }

    [Fact]
    public void Dispose_WakesTheBlockedWriterOfThePeerWithBrokenPipe()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4);
            await a.WriteAllAsync(new byte[4]);
            ValueTask<int> blocked = a.WriteAsync(new byte[4]);
            await Until(() => a.WaiterCount == 1, "the writer to wait");
            b.Dispose();
            var e = await Assert.ThrowsAsync<IOException>(async () => await blocked);
            Assert.Contains("broken pipe", e.Message);
        });
    }

    [Fact]
    public void Dispose_FailsThisEndsOwnPendingRead()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, _) = MemoryDuplex.Create(4);
            ValueTask<int> read = a.ReadAsync(new byte[4]);
            await Until(() => a.WaiterCount == 1, "the reader to wait");
            a.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await read);
        });
    }

    [Fact]
    public void CancelBlockedRead_LeavesNoWaiter_AndThePipeStillWorks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(8);
            using var cts = new CancellationTokenSource();
            var buffer = new byte[8];
            ValueTask<int> read = b.ReadAsync(buffer, cts.Token);
            await Until(() => b.WaiterCount == 1, "the reader to wait");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await read);
            Assert.Equal(0, b.WaiterCount);

            await a.WriteAllAsync("z"u8.ToArray());
            Assert.Equal(1, await b.ReadAsync(buffer));
            Assert.Equal((byte)'z', buffer[0]);
        });
    }

    [Fact]
    public void CancelBlockedWrite_WritesNothing_LeavesNoWaiter_AndThePipeStillWorks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(8);
            byte[] first = TestData.Random(8, 31);
            await a.WriteAllAsync(first);
            using var cts = new CancellationTokenSource();
            ValueTask<int> write = a.WriteAsync(new byte[] { 0xEE, 0xEE }, cts.Token);
            await Until(() => a.WaiterCount == 1, "the writer to wait");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await write);
            Assert.Equal(0, a.WaiterCount);
            Assert.Equal(8, a.PendingWrite);

            await a.ShutdownAsync();
            Assert.Equal(first, await b.ReadToEndAsync()); // no 0xEE slipped in
        });
    }

    [Fact]
    public void AbortedBlockedWriter_LeavesNoWaiter_AndThePipeStillWorks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(4);
            await a.WriteAllAsync(new byte[] { 1, 2, 3, 4 });
            JoinHandle<int> writer = KyotoTask.Spawn(async () => await a.WriteAsync(new byte[] { 9 }));
            await Until(() => a.WaiterCount == 1, "the spawned writer to wait");
            writer.Abort();
            await Assert.ThrowsAnyAsync<Exception>(async () => await writer);
            Assert.Equal(0, a.WaiterCount);
            await a.ShutdownAsync();
            Assert.Equal(new byte[] { 1, 2, 3, 4 }, await b.ReadToEndAsync());
        });
    }

    [Fact]
    public void ConcurrentWriterAndReader_RandomChunks_TransferEveryByteInOrder()
    {
        const int Length = 2 * 1024 * 1024;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1000);
            byte[] data = TestData.Random(Length, 32);
            JoinHandle writer = KyotoTask.Spawn(async () =>
            {
                var random = new Random(33);
                int sent = 0;
                while (sent < Length)
                {
                    int chunk = Math.Min(random.Next(1, 3000), Length - sent);
                    await a.WriteAllAsync(data.AsMemory(sent, chunk));
                    sent += chunk;
                }

                await a.ShutdownAsync();
            });
            JoinHandle<byte[]> reader = KyotoTask.Spawn(async () =>
            {
                var random = new Random(34);
                var received = new byte[Length + 1];
                int total = 0;
                int n;
                while ((n = await b.ReadAsync(received.AsMemory(total, Math.Min(random.Next(1, 3000), received.Length - total)))) > 0)
                {
                    total += n;
                }

                Assert.Equal(Length, total);
                return received[..Length];
            });
            await writer;
            Assert.Equal(data, await reader);
        });
    }

    [Fact]
    public void BufferedDuplex_OverAMemoryDuplex_BuffersWritesUntilFlushAndReadsLines()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = MemoryDuplex.Create(1024);
            using var buffered = new AsyncBufferedDuplex(a, readCapacity: 4, writeCapacity: 64);
            await buffered.WriteAllAsync("HELLO\n"u8.ToArray());
            Assert.Equal(0, a.PendingWrite); // still in the write buffer
            await buffered.FlushAsync();
            Assert.Equal(6, a.PendingWrite);
            var request = new byte[6];
            await b.ReadExactlyAsync(request);
            Assert.Equal("HELLO\n"u8.ToArray(), request);

            await b.WriteAllAsync("first line\r\nsecond\n"u8.ToArray());
            await b.ShutdownAsync();
            Assert.Equal("first line", await buffered.ReadLineAsync());
            Assert.Equal("second", await buffered.ReadLineAsync());
            Assert.Null(await buffered.ReadLineAsync());

            await buffered.WriteAllAsync("bye"u8.ToArray());
            await buffered.ShutdownAsync();
            Assert.Equal("bye"u8.ToArray(), await b.ReadToEndAsync());
        });
    }
}
