using Kyoto.IO;
using Kyoto.Net;

namespace Kyoto.Tests.IO;

/// <summary>Write all: partial writes, write zero, failures reporting how much was written.</summary>
public class AsyncWriterExtensionsTests
{
    [Fact]
    public async Task WriteAll_OneByteAtATime_WritesEverythingInOrder()
    {
        byte[] data = TestData.Random(300, 10);
        var writer = new RecordingWriter(maxPerWrite: 1);
        await writer.WriteAllAsync(data);
        Assert.Equal(data, writer.Data);
        Assert.Equal(300, writer.WriteCalls);
    }

    [Fact]
    public async Task WriteAll_EmptyBuffer_DoesNotWrite()
    {
        var writer = new RecordingWriter();
        await writer.WriteAllAsync(ReadOnlyMemory<byte>.Empty);
        Assert.Equal(0, writer.WriteCalls);
    }

    [Fact]
    public async Task WriteAll_WriterTakesZero_ThrowsWriteZeroWithTheCount()
    {
        var writer = new RecordingWriter(maxPerWrite: 3) { ZeroAfter = 6 };
        var e = await Assert.ThrowsAsync<PartialWriteException>(async () => await writer.WriteAllAsync(new byte[10]));
        Assert.Equal(6, e.BytesWritten);
        Assert.IsType<IOException>(e.InnerException);
        Assert.Contains("write zero", e.InnerException!.Message);
        Assert.IsAssignableFrom<IOException>(e);
    }

    [Fact]
    public async Task WriteAll_WriterTakesZeroAtOnce_ReportsZero()
    {
        var writer = new RecordingWriter { ZeroAfter = 0 };
        var e = await Assert.ThrowsAsync<PartialWriteException>(async () => await writer.WriteAllAsync(new byte[10]));
        Assert.Equal(0, e.BytesWritten);
    }

    [Fact]
    public async Task WriteAll_WriterFails_ReportsHowMuchWasWritten()
    {
        var writer = new RecordingWriter(maxPerWrite: 4) { FailAfter = 8 };
        var e = await Assert.ThrowsAsync<PartialWriteException>(async () => await writer.WriteAllAsync(new byte[20]));
        Assert.Equal(8, e.BytesWritten);
        Assert.Equal("injected failure", e.InnerException!.Message);
        Assert.Equal(System.Net.Sockets.SocketError.SocketError, e.SocketError);
    }

    [Fact]
    public async Task WriteAll_Cancelled_ThrowsCancellationUnwrapped()
    {
        var writer = new RecordingWriter(maxPerWrite: 2) { CancelOnCall = 2 };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await writer.WriteAllAsync(new byte[10]));
        Assert.Equal(2, writer.Data.Length);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await writer.WriteAllAsync(new byte[10], new CancellationToken(true)));
    }
}
