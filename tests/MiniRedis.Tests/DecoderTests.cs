using System.Buffers;
using System.Text;
using Kyoto.Codec;
using MiniRedis.Protocol;

namespace MiniRedis.Tests;

public sealed class DecoderTests
{
    private static List<string[]> DecodeAll(string input, RespDecoder? decoder = null)
    {
        decoder ??= new RespDecoder();
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(input));
        var result = new List<string[]>();
        while (decoder.TryDecode(ref buffer, out RespCommand command))
        {
            result.Add(Enumerable.Range(0, command.Count).Select(command.GetString).ToArray());
        }
        return result;
    }

    [Fact]
    public void MultiBulk_Pipelined_DecodesEach()
    {
        var commands = DecodeAll("*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nx\r\n");
        Assert.Equal(2, commands.Count);
        Assert.Equal(["SET", "k", "v\r\nx"], commands[1]);
    }

    [Fact]
    public void Inline_SplitsLikeSdsSplitArgs()
    {
        var commands = DecodeAll("SET \"a b\" 'it\\'s' \"\\x41\\n\"\r\n  \r\nPING\n");
        Assert.Equal(2, commands.Count);
        Assert.Equal(["SET", "a b", "it's", "A\n"], commands[0]);
        Assert.Equal(["PING"], commands[1]);
    }

    [Fact]
    public void Incomplete_ConsumesNothing_ThenCompletes()
    {
        var decoder = new RespDecoder();
        const string Full = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
        for (int cut = 1; cut < Full.Length; cut++)
        {
            var partial = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(Full[..cut]));
            Assert.False(decoder.TryDecode(ref partial, out _));
            Assert.Equal(cut, partial.Length);
            var whole = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(Full));
            Assert.True(decoder.TryDecode(ref whole, out RespCommand command));
            Assert.Equal("hello", command.GetString(1));
            Assert.True(whole.IsEmpty);
        }
    }

    [Fact]
    public void MultiSegment_Decodes()
    {
        byte[] bytes = Encoding.Latin1.GetBytes("*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n");
        for (int split = 1; split < bytes.Length; split++)
        {
            var first = new Segment(bytes.AsMemory(0, split));
            Segment last = first.Append(bytes.AsMemory(split));
            var buffer = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
            Assert.True(new RespDecoder().TryDecode(ref buffer, out RespCommand command));
            Assert.Equal("hello world", command.GetString(1));
            Assert.True(buffer.IsEmpty);
        }
    }

    [Theory]
    [InlineData("*1\r\n$1099511627776\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$-1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n*1\r\n", "Protocol error: expected '$', got '*'")]
    [InlineData("*abc\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*99999999999\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("SET \"a b\r\n", "Protocol error: unbalanced quotes in request")]
    [InlineData("SET \"a\"b\r\n", "Protocol error: unbalanced quotes in request")]
    public void BadInput_ThrowsRedisProtocolError(string input, string message)
    {
        var e = Assert.Throws<RespProtocolException>(() => DecodeAll(input));
        Assert.Equal(message, e.Message);
        Assert.IsAssignableFrom<FrameException>(e);
    }

    [Fact]
    public void TenThousandNestedArrays_RefusedAtTheSecond()
    {
        string input = string.Concat(Enumerable.Repeat("*1\r\n", 10_000));
        var e = Assert.Throws<RespProtocolException>(() => DecodeAll(input));
        Assert.Equal("Protocol error: expected '$', got '*'", e.Message);
    }

    [Fact]
    public void HugeDeclaredLength_AllocatesNothingSizedByIt()
    {
        var decoder = new RespDecoder();
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes("*1\r\n$536870912\r\nabc"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(decoder.TryDecode(ref buffer, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public void LongInlineWithoutNewline_IsRefused()
    {
        var e = Assert.Throws<RespProtocolException>(() => DecodeAll(new string('a', 70_000)));
        Assert.Equal("Protocol error: too big inline request", e.Message);
    }

    [Fact]
    public void TruncatedAtEof_IsTruncatedFrame()
    {
        IDecoder<RespCommand> decoder = new RespDecoder();
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes("*2\r\n$3\r\nGET\r\n"));
        Assert.Throws<TruncatedFrameException>(() => decoder.TryDecodeEof(ref buffer, out _));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
