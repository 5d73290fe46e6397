using System.Buffers;
using System.Text;
using Kyoto.IO;

namespace Kyoto.Tests.IO;

/// <summary>Read exactly, read at least, read to end, read until, read line(s), over readers that return small chunks.</summary>
public class AsyncReaderExtensionsTests
{
    private static readonly int[] OddChunks = [1, 2, 3, 7, 1, 13];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadExactly_ManySmallReads_FillsTheBuffer(bool asynchronous)
    {
        byte[] data = TestData.Random(1000, 1);
        var reader = new ChunkedReader(data, OddChunks, asynchronous);
        var buffer = new byte[600];
        await reader.ReadExactlyAsync(buffer);
        Assert.Equal(data.AsSpan(0, 600).ToArray(), buffer);
        Assert.True(reader.ReadCalls > 50, $"only {reader.ReadCalls} reads");
        await reader.ReadExactlyAsync(buffer.AsMemory(0, 400));
        Assert.Equal(data.AsSpan(600).ToArray(), buffer.AsSpan(0, 400).ToArray());
    }

    [Fact]
    public async Task ReadExactly_EarlyEndOfStream_ThrowsWithTheCountRead()
    {
        var reader = new ChunkedReader(TestData.Random(5, 2), 2, asynchronous: true);
        var e = await Assert.ThrowsAsync<EndOfStreamException>(async () => await reader.ReadExactlyAsync(new byte[10]));
        Assert.Contains("after 5 of the 10 bytes", e.Message);
    }

    [Fact]
    public async Task ReadExactly_EmptyStream_ThrowsWithZero()
    {
        var e = await Assert.ThrowsAsync<EndOfStreamException>(async () => await AsyncEmpty.Instance.ReadExactlyAsync(new byte[3]));
        Assert.Contains("after 0 of the 3 bytes", e.Message);
    }

    [Fact]
    public async Task ReadExactly_EmptyBuffer_CompletesWithoutReading()
    {
        var reader = new ChunkedReader([], 1);
        await reader.ReadExactlyAsync(Memory<byte>.Empty);
        Assert.Equal(0, reader.ReadCalls);
    }

    [Fact]
    public async Task ReadAtLeast_StopsOnceTheMinimumIsReached()
    {
        var reader = new ChunkedReader(TestData.Random(100, 3), 3);
        int n = await reader.ReadAtLeastAsync(new byte[10], 4);
        Assert.Equal(6, n);
        Assert.Equal(2, reader.ReadCalls);
    }

    [Fact]
    public async Task ReadAtLeast_EndOfStreamWithoutThrow_ReturnsWhatWasRead()
    {
        var reader = new ChunkedReader(TestData.Random(5, 4), 2, asynchronous: true);
        Assert.Equal(5, await reader.ReadAtLeastAsync(new byte[10], 8, throwOnEndOfStream: false));
        Assert.Equal(0, await reader.ReadAtLeastAsync(new byte[10], 8, throwOnEndOfStream: false));
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await reader.ReadAtLeastAsync(new byte[10], 8));
    }

    [Fact]
    public async Task ReadAtLeast_MinimumAboveBufferLength_Throws()
    {
        var reader = new ChunkedReader([], 1);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await reader.ReadAtLeastAsync(new byte[2], 3));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100_000)]
    public async Task ReadToEnd_ReturnsEveryByte(int length)
    {
        byte[] data = TestData.Random(length, 5);
        Assert.Equal(data, await new ChunkedReader(data, [1000, 1, 4096, 77], asynchronous: true).ReadToEndAsync());
    }

    [Fact]
    public async Task ReadToEnd_IntoBufferWriter_AppendsAndCounts()
    {
        byte[] data = TestData.Random(50_000, 6);
        var output = new ArrayBufferWriter<byte>();
        output.Write("prefix"u8);
        long n = await new ChunkedReader(data, 999).ReadToEndAsync(output);
        Assert.Equal(50_000, n);
        Assert.Equal([.. "prefix"u8, .. data], output.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task ReadToEnd_Cancelled_Throws()
    {
        var reader = new ChunkedReader(TestData.Random(10, 7), 1);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.ReadToEndAsync(new CancellationToken(true)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8192)]
    public async Task ReadUntil_ReturnsEachRecordWithItsDelimiter(int capacity)
    {
        var reader = new AsyncBufferedReader(new ChunkedReader("ab\0\0cde\0fg"u8.ToArray(), OddChunks), capacity);
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(3, await reader.ReadUntilAsync(0, output));
        Assert.Equal("ab\0"u8.ToArray(), output.WrittenSpan.ToArray());
        output.Clear();
        Assert.Equal(1, await reader.ReadUntilAsync(0, output));
        Assert.Equal(4, await reader.ReadUntilAsync(0, output));
        Assert.Equal("\0cde\0"u8.ToArray(), output.WrittenSpan.ToArray());
        output.Clear();
        Assert.Equal(2, await reader.ReadUntilAsync(0, output));
        Assert.Equal("fg"u8.ToArray(), output.WrittenSpan.ToArray());
        Assert.Equal(0, await reader.ReadUntilAsync(0, output));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task ReadLine_HandlesTerminatorsEmptyLinesLongLinesAndTheLastLine(int capacity)
    {
        string longLine = new string('x', 100) + "é" + new string('y', 50);
        string text = $"a\nb\r\n\n\r\n{longLine}\r\nhéllo wörld ✓\nlast";
        var reader = new AsyncBufferedReader(new ChunkedReader(Encoding.UTF8.GetBytes(text), OddChunks, asynchronous: capacity % 2 == 0), capacity);
        var lines = new List<string?>();
        for (int i = 0; i < 8; i++)
        {
            lines.Add(await reader.ReadLineAsync());
        }

        Assert.Equal(["a", "b", "", "", longLine, "héllo wörld ✓", "last", null], lines);
        Assert.Null(await reader.ReadLineAsync());
    }

    [Fact]
    public async Task ReadLine_CarriageReturnAloneIsKept()
    {
        // Only the \r of a \r\n ends a line: a last line without \n keeps its \r (as Tokio's lines() does).
        var reader = new AsyncBufferedReader(new ChunkedReader("a\rb\n\r"u8.ToArray(), 2), 2);
        Assert.Equal("a\rb", await reader.ReadLineAsync());
        Assert.Equal("\r", await reader.ReadLineAsync());
        Assert.Null(await reader.ReadLineAsync());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8192)]
    public async Task ReadLine_InvalidUtf8_ThrowsInvalidDataAndSkipsTheLine(int capacity)
    {
        byte[] data = [(byte)'o', 0xFF, 0xFE, (byte)'\n', (byte)'o', (byte)'k', (byte)'\n'];
        var reader = new AsyncBufferedReader(new ChunkedReader(data, 3), capacity);
        var e = await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadLineAsync());
        Assert.Contains("UTF-8", e.Message);
        Assert.Equal("ok", await reader.ReadLineAsync());
        Assert.Null(await reader.ReadLineAsync());
    }

    [Fact]
    public async Task ReadLines_EnumeratesUntilEndOfStream()
    {
        var reader = new AsyncBufferedReader(new ChunkedReader("one\ntwo\r\n\nthree\n"u8.ToArray(), OddChunks, asynchronous: true), 4);
        var lines = new List<string>();
        await foreach (string line in reader.ReadLinesAsync())
        {
            lines.Add(line);
        }

        Assert.Equal(["one", "two", "", "three"], lines);
    }

    [Fact]
    public async Task ReadLines_Cancelled_Throws()
    {
        var reader = new AsyncBufferedReader(new ChunkedReader("one\ntwo\n"u8.ToArray(), 1, asynchronous: true), 4);
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (string line in reader.ReadLinesAsync(cts.Token))
            {
                Assert.Equal("one", line);
                await cts.CancelAsync();
            }
        });
    }
}
