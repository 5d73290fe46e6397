using System.Buffers;
using System.Text;
using Kyoto.Codec;
using Kyoto.IO;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Tests;

public sealed class RespCodecTests
{
    private static readonly (string Wire, RespValue Value)[] Replies =
    [
        ("+OK\r\n", RespValue.SimpleString("OK")),
        ("+PONG\r\n", RespValue.SimpleString("PONG")),
        ("+\r\n", RespValue.SimpleString("")),
        ("+hello world\r\n", RespValue.SimpleString("hello world")),
        ("-ERR unknown command 'FOO'\r\n", RespValue.Error("ERR unknown command 'FOO'")),
        (":0\r\n", RespValue.Integer(0)),
        (":-42\r\n", RespValue.Integer(-42)),
        (":9223372036854775807\r\n", RespValue.Integer(long.MaxValue)),
        (":-9223372036854775808\r\n", RespValue.Integer(long.MinValue)),
        ("$5\r\nhello\r\n", RespValue.BulkString("hello")),
        ("$0\r\n\r\n", RespValue.BulkString("")),
        ("$-1\r\n", RespValue.NullBulkString),
        ("$4\r\na\r\nb\r\n", RespValue.BulkString("a\r\nb")),
        ("*0\r\n", RespValue.Array()),
        ("*-1\r\n", RespValue.NullArray),
        ("*3\r\n:1\r\n$3\r\nfoo\r\n$-1\r\n", RespValue.Array(RespValue.Integer(1), RespValue.BulkString("foo"), RespValue.NullBulkString)),
        ("*2\r\n*2\r\n+a\r\n-b\r\n*0\r\n", RespValue.Array(RespValue.Array(RespValue.SimpleString("a"), RespValue.Error("b")), RespValue.Array())),
    ];

    public static TheoryData<int> ReplyIndexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Replies.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ReplyIndexes))]
    public void Decode_EveryReplyType_RoundTrips(int index)
    {
        (string wire, RespValue expected) = Replies[index];
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire + "+next\r\n"));
        Assert.True(new RespReplyDecoder().TryDecode(ref buffer, out RespValue value));
        Assert.Equal(expected, value);
        Assert.Equal("+next\r\n", Encoding.UTF8.GetString(buffer.ToArray()));
    }

    [Theory]
    [MemberData(nameof(ReplyIndexes))]
    public void Decode_SplitAtEveryByteBoundary_NeedsMoreThenDecodes(int index)
    {
        (string wire, RespValue expected) = Replies[index];
        byte[] bytes = Encoding.UTF8.GetBytes(wire);
        var decoder = new RespReplyDecoder();
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var prefix = new ReadOnlySequence<byte>(bytes, 0, cut);
            Assert.False(decoder.TryDecode(ref prefix, out _), $"decoded from {cut} of {bytes.Length} bytes");
            Assert.Equal(cut, prefix.Length); // nothing consumed

            // The whole reply as two segments split at the cut.
            ReadOnlySequence<byte> split = Segments(bytes[..cut], bytes[cut..]);
            Assert.True(decoder.TryDecode(ref split, out RespValue value), $"split at {cut}");
            Assert.Equal(expected, value);
            Assert.True(split.IsEmpty);
        }
    }

    [Fact]
    public void Decode_AllRepliesThroughFramedReadOneByteAtATime()
    {
        Bounded.OnRuntime(async () =>
        {
            string all = string.Concat(Replies.Select(r => r.Wire));
            var reader = new TrickleReader(Encoding.UTF8.GetBytes(all));
            await using var framed = new FramedRead<RespValue>(reader, new RespReplyDecoder());
            foreach ((_, RespValue expected) in Replies)
            {
                Assert.Equal(expected, await framed.ReadAsync());
            }

            Assert.False(await framed.WaitToReadAsync());
        });
    }

    [Theory]
    [InlineData("?5\r\n", "type byte")]
    [InlineData(":12a\r\n", "integer")]
    [InlineData(":\r\n", "integer")]
    [InlineData(":+5\r\n", "integer")]
    [InlineData(":99999999999999999999\r\n", "integer")]
    [InlineData("$-2\r\n", "Negative bulk")]
    [InlineData("$x\r\n", "bulk length")]
    [InlineData("$3\r\nabcXY", "CRLF")]
    [InlineData("*-5\r\n", "Negative array")]
    [InlineData("*1\r\n!\r\n", "type byte")]
    [InlineData("_\r\n", "type byte")]
    public void Decode_Malformed_ThrowsFormatException(string wire, string messagePart)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        var e = Assert.Throws<RespFormatException>(() => new RespReplyDecoder().TryDecode(ref buffer, out _));
        Assert.Contains(messagePart, e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<FrameException>(e);
    }

    [Fact]
    public void Decode_BulkOverLimit_ThrowsLimitExceptionBeforeThePayloadArrives()
    {
        var buffer = new ReadOnlySequence<byte>("$536870913\r\n"u8.ToArray());
        var e = Assert.Throws<RespLimitException>(() => new RespReplyDecoder().TryDecode(ref buffer, out _));
        Assert.Equal("MaxBulkLength", e.LimitName);
        Assert.Equal(512L * 1024 * 1024, e.Limit);
        Assert.Equal(512L * 1024 * 1024 + 1, e.Actual);

        var small = new RespReplyDecoder { MaxBulkLength = 4 };
        var five = new ReadOnlySequence<byte>("$5\r\nhello\r\n"u8.ToArray());
        Assert.Throws<RespLimitException>(() => small.TryDecode(ref five, out _));
    }

    [Fact]
    public void Decode_NestingOverLimit_ThrowsLimitException()
    {
        var decoder = new RespReplyDecoder { MaxNestingDepth = 3 };
        var ok = new ReadOnlySequence<byte>("*1\r\n*1\r\n*1\r\n:1\r\n"u8.ToArray());
        Assert.True(decoder.TryDecode(ref ok, out _));
        var deep = new ReadOnlySequence<byte>("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"u8.ToArray());
        var e = Assert.Throws<RespLimitException>(() => decoder.TryDecode(ref deep, out _));
        Assert.Equal("MaxNestingDepth", e.LimitName);

        var defaults = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", 40)) + ":1\r\n"));
        Assert.Throws<RespLimitException>(() => new RespReplyDecoder().TryDecode(ref defaults, out _));
    }

    [Fact]
    public void Decode_LineWithoutCrlfOverLimit_ThrowsLimitException()
    {
        var decoder = new RespReplyDecoder { MaxLineLength = 16 };
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("+" + new string('x', 40)));
        Assert.Throws<RespLimitException>(() => decoder.TryDecode(ref buffer, out _));
    }

    [Fact]
    public void Decode_StatusRepliesShareTheirBytes()
    {
        var a = new ReadOnlySequence<byte>("+OK\r\n"u8.ToArray());
        var b = new ReadOnlySequence<byte>("+OK\r\n"u8.ToArray());
        var decoder = new RespReplyDecoder();
        decoder.TryDecode(ref a, out RespValue first);
        decoder.TryDecode(ref b, out RespValue second);
        Assert.True(first.AsMemory().Span == second.AsMemory().Span); // same array: no allocation
    }

    [Fact]
    public void Encode_CommandOfEveryArgumentKind()
    {
        var output = new ArrayBufferWriter<byte>();
        RespCommandEncoder.Instance.Encode(
            new RedisCommand("SET", "ключ", new byte[] { 0, 255 }, new ReadOnlyMemory<byte>("xyz"u8.ToArray(), 1, 2), -12L, 7, ""),
            output);
        string expected = "*7\r\n$3\r\nSET\r\n$8\r\nключ\r\n$2\r\n\0\u00ff\r\n$2\r\nyz\r\n$3\r\n-12\r\n$1\r\n7\r\n$0\r\n\r\n";
        Assert.Equal(Encoding.Latin1.GetBytes(expected.Replace("ключ", Encoding.Latin1.GetString(Encoding.UTF8.GetBytes("ключ")), StringComparison.Ordinal)), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Encode_EmptyCommand_Throws()
    {
        Assert.Throws<ArgumentException>(() => new RedisCommand(Array.Empty<RedisArgument>()));
        Assert.Throws<FrameException>(() => RespCommandEncoder.Instance.Encode(default, new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public void RespValue_Accessors()
    {
        Assert.Null(RespValue.NullBulkString.AsString());
        Assert.True(RespValue.NullArray.IsNull);
        Assert.Equal(0, RespValue.NullArray.AsSpanOfElements().Length);
        Assert.Equal("42", RespValue.Integer(42).AsString());
        Assert.Throws<InvalidCastException>(() => RespValue.BulkString("x").AsInteger());
        Assert.Throws<InvalidCastException>(() => RespValue.Integer(1).AsArray());
        Assert.True(RespValue.SimpleString("OK").Is("OK"u8));
        Assert.Equal("*[:1, $\"a\", $nil]", RespValue.Array(RespValue.Integer(1), RespValue.BulkString("a"), RespValue.NullBulkString).ToString());
    }

    private static ReadOnlySequence<byte> Segments(byte[] first, byte[] second)
    {
        var a = new Segment(first, 0);
        Segment b = a.Append(second);
        return new ReadOnlySequence<byte>(a, 0, b, second.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>A reader that hands out one byte per read.</summary>
    private sealed class TrickleReader(byte[] bytes) : IAsyncReader
    {
        private int _position;

        public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == bytes.Length || buffer.IsEmpty)
            {
                return new ValueTask<int>(0);
            }

            buffer.Span[0] = bytes[_position++];
            return new ValueTask<int>(1);
        }
    }
}
