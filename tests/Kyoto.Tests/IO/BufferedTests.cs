using Kyoto.IO;

namespace Kyoto.Tests.IO;

/// <summary>AsyncBufferedReader and AsyncBufferedWriter: buffering, bypass of large operations, ordering, flush and shutdown.</summary>
public class BufferedTests
{
    [Fact]
    public async Task Reader_SmallReads_CostFewInnerReads()
    {
        byte[] data = TestData.Random(1000, 20);
        var inner = new ChunkedReader(data, int.MaxValue);
        var reader = new AsyncBufferedReader(inner, 256);
        var output = new List<byte>();
        var buffer = new byte[10];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            output.AddRange(buffer.AsSpan(0, n));
        }

        Assert.Equal(data, output);
        Assert.Equal(5, inner.ReadCalls); // 256 + 256 + 256 + 232, then end of stream
        Assert.All(inner.RequestedSizes, size => Assert.Equal(256, size));
    }

    [Fact]
    public async Task Reader_LargeReadWithEmptyBuffer_BypassesTheBuffer()
    {
        byte[] data = TestData.Random(40_000, 21);
        var inner = new ChunkedReader(data, int.MaxValue);
        var reader = new AsyncBufferedReader(inner);
        var big = new byte[16 * 1024];
        Assert.Equal(big.Length, await reader.ReadAsync(big));
        Assert.Equal([big.Length], inner.RequestedSizes);
        Assert.Equal(data.AsSpan(0, big.Length).ToArray(), big);
        Assert.True(reader.Buffered.IsEmpty);
    }

    [Fact]
    public async Task Reader_LargeReadWithBufferedBytes_ReturnsTheBufferedBytesFirst()
    {
        byte[] data = TestData.Random(100, 22);
        var inner = new ChunkedReader(data, 30);
        var reader = new AsyncBufferedReader(inner, 64);
        var small = new byte[10];
        Assert.Equal(10, await reader.ReadAsync(small));
        var big = new byte[200];
        Assert.Equal(20, await reader.ReadAsync(big)); // the rest of the first 30-byte fill
        Assert.Equal(data.AsSpan(10, 20).ToArray(), big.AsSpan(0, 20).ToArray());
        Assert.Equal(30, await reader.ReadAsync(big)); // buffer empty: straight through
        Assert.Equal(data.AsSpan(30, 30).ToArray(), big.AsSpan(0, 30).ToArray());
        Assert.Equal([64, 200], inner.RequestedSizes);
    }

    [Fact]
    public async Task Reader_FillAndConsume_ExposeTheBuffer()
    {
        var reader = new AsyncBufferedReader(new ChunkedReader("hello world"u8.ToArray(), 5), 8);
        ReadOnlyMemory<byte> filled = await reader.FillBufferAsync();
        Assert.Equal("hello"u8.ToArray(), filled.ToArray());
        Assert.Equal("hello"u8.ToArray(), (await reader.FillBufferAsync()).ToArray()); // no new read while bytes remain
        reader.Consume(2);
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.Consume(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.Consume(-1));
        Assert.Equal("llo"u8.ToArray(), (await reader.FillBufferAsync()).ToArray());
        reader.Consume(3);
        Assert.Equal(" worl"u8.ToArray(), (await reader.FillBufferAsync()).ToArray());
        reader.Consume(5);
        Assert.Equal("d"u8.ToArray(), (await reader.FillBufferAsync()).ToArray());
        reader.Consume(1);
        Assert.True((await reader.FillBufferAsync()).IsEmpty);
    }

    [Fact]
    public void Reader_NonPositiveCapacity_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncBufferedReader(AsyncEmpty.Instance, 0));
    }

    [Fact]
    public async Task Writer_SmallWrites_AreBufferedUntilFlush()
    {
        var inner = new RecordingWriter();
        var writer = new AsyncBufferedWriter(inner, 16);
        Assert.Equal(5, await writer.WriteAsync("hello"u8.ToArray()));
        Assert.Equal(6, await writer.WriteAsync(" world"u8.ToArray()));
        Assert.Empty(inner.Events);
        Assert.Equal(11, writer.Buffered.Length);
        await writer.FlushAsync();
        Assert.Equal(["W11", "F"], inner.Events);
        Assert.Equal("hello world"u8.ToArray(), inner.Data);
        Assert.True(writer.Buffered.IsEmpty);
    }

    [Fact]
    public async Task Writer_WriteThatDoesNotFit_WritesOutTheBufferFirst()
    {
        var inner = new RecordingWriter();
        var writer = new AsyncBufferedWriter(inner, 8);
        await writer.WriteAllAsync("abcde"u8.ToArray());
        await writer.WriteAllAsync("fghij"u8.ToArray());
        Assert.Equal(["W5"], inner.Events);
        Assert.Equal("fghij"u8.ToArray(), writer.Buffered.ToArray());
        await writer.ShutdownAsync();
        Assert.Equal(["W5", "W5", "S"], inner.Events);
        Assert.Equal("abcdefghij"u8.ToArray(), inner.Data);
    }

    [Fact]
    public async Task Writer_LargeWrite_GoesStraightThroughAfterTheBuffered()
    {
        var inner = new RecordingWriter();
        var writer = new AsyncBufferedWriter(inner, 8);
        byte[] big = TestData.Random(20, 23);
        Assert.Equal(20, await writer.WriteAsync(big)); // buffer empty: one inner write of all of it
        Assert.Equal(["W20"], inner.Events);
        await writer.WriteAllAsync("xy"u8.ToArray());
        await writer.WriteAllAsync(big);
        Assert.Equal(["W20", "W2", "W20"], inner.Events);
        Assert.Equal([.. big, .. "xy"u8, .. big], inner.Data);
    }

    [Fact]
    public async Task Writer_PartialInnerWrites_FlushLoopsInOrder()
    {
        var inner = new RecordingWriter(maxPerWrite: 1);
        var writer = new AsyncBufferedWriter(inner, 64);
        byte[] data = TestData.Random(50, 24);
        await writer.WriteAllAsync(data);
        await writer.FlushAsync();
        Assert.Equal(data, inner.Data);
        Assert.Equal(51, inner.Events.Count);
        Assert.Equal("F", inner.Events[^1]);
    }

    [Fact]
    public async Task Writer_FlushCancelledMidway_RetryWritesTheRestOnce()
    {
        var inner = new RecordingWriter(maxPerWrite: 3) { CancelOnCall = 3 };
        var writer = new AsyncBufferedWriter(inner, 64);
        byte[] data = TestData.Random(10, 25);
        await writer.WriteAllAsync(data);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await writer.FlushAsync());
        Assert.Equal(6, inner.Data.Length);
        Assert.Equal(4, writer.Buffered.Length);
        await writer.FlushAsync();
        Assert.Equal(data, inner.Data);
    }

    [Fact]
    public async Task Writer_InnerTakesZero_FlushThrowsWriteZero()
    {
        var writer = new AsyncBufferedWriter(new RecordingWriter { ZeroAfter = 0 }, 8);
        await writer.WriteAllAsync("abc"u8.ToArray());
        var e = await Assert.ThrowsAsync<IOException>(async () => await writer.FlushAsync());
        Assert.Contains("write zero", e.Message);
    }
    [Fact]
    public async Task Writer_AfterShutdown_ThrowsAndBuffersNothing()
    {
        var inner = new RecordingWriter();
        var writer = new AsyncBufferedWriter(inner, 16);
        await writer.WriteAllAsync("hi"u8.ToArray());
        await writer.ShutdownAsync();
        await Assert.ThrowsAsync<IOException>(async () => await writer.WriteAsync("late"u8.ToArray()));
        Assert.Equal("hi"u8.ToArray(), inner.Data);
        Assert.True(writer.Buffered.IsEmpty);
    }

    [Fact]
    public async Task Writer_AfterDispose_Throws()
    {
        var writer = new AsyncBufferedWriter(new RecordingWriter(), 16);
        await writer.WriteAllAsync("dropped"u8.ToArray());
        writer.Dispose();
        Assert.True(writer.Buffered.IsEmpty);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await writer.WriteAsync("x"u8.ToArray()));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await writer.FlushAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await writer.ShutdownAsync());
    }

    [Fact]
    public void Duplex_Dispose_DropsWhatIsBufferedBothWays()
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        rt.BlockOnBounded(async () =>
        {
            var (end, peer) = MemoryDuplex.Create(64);
            await peer.WriteAllAsync("hello world"u8.ToArray());
            var duplex = new AsyncBufferedDuplex(end);
            var three = new byte[3];
            Assert.Equal(3, await duplex.ReadAsync(three)); // the rest of the message is now buffered here
            duplex.Dispose();

            // The buffered "lo world" is gone: the read goes to the disposed end, not to the stale buffer.
            await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await duplex.ReadAsync(three));
            await Assert.ThrowsAnyAsync<ObjectDisposedException>(async () => await duplex.WriteAsync("x"u8.ToArray()));
        });
    }
}
