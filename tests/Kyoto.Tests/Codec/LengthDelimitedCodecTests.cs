using System.Buffers;
using Kyoto.Codec;
using static Kyoto.Tests.Codec.CodecIo;

namespace Kyoto.Tests.Codec;

/// <summary>LengthDelimitedCodec: round trips at every split, each builder option, limits and invalid lengths.</summary>
public class LengthDelimitedCodecTests
{
    private static readonly byte[][] Frames = [Bytes("hello"), [], Bytes("a"), Enumerable.Range(0, 300).Select(i => (byte)i).ToArray(), Bytes("world!")];

    private static List<byte[]> Decode(byte[] data, LengthDelimitedCodec codec, int[]? cuts = null) =>
        DecodeAllBytes(new SplitReader(data, cuts ?? []), codec);

    [Fact]
    public void RoundTrip_EverySplit_DecodesTheSameFrames()
    {
        var codec = new LengthDelimitedCodec();
        byte[] data = EncodeAll<ReadOnlyMemory<byte>>(codec, Frames.Select(f => (ReadOnlyMemory<byte>)f));
        Assert.Equal(Frames.Sum(f => f.Length + 4), data.Length);
        foreach (int[] cuts in Splits(data.Length))
        {
            Assert.Equal(Frames, Decode(data, codec, cuts));
        }
    }

    [Fact]
    public void Decode_DefaultHead_IsFourBytesBigEndian()
    {
        byte[] data = [0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c', 0, 0, 0, 1, (byte)'d'];
        Assert.Equal([Bytes("abc"), Bytes("d")], Decode(data, new LengthDelimitedCodec()));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(8, true)]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(8, false)]
    public void FieldLengthAndEndianness_EncodeTheHeadAsSpecified_AndRoundTrip(int fieldLength, bool bigEndian)
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = fieldLength, BigEndian = bigEndian }.Build();
        byte[] payload = Enumerable.Range(0, 200).Select(i => (byte)(i * 7)).ToArray();
        byte[] data = EncodeAll(codec, [payload]);
        Assert.Equal(fieldLength + payload.Length, data.Length);
        byte[] head = new byte[fieldLength];
        head[bigEndian ? fieldLength - 1 : 0] = 200;
        Assert.Equal(head, data[..fieldLength]);
        foreach (int[] cuts in Splits(fieldLength + 3))
        {
            Assert.Equal([payload], Decode(data, codec, cuts));
        }
    }

    [Fact]
    public void TwoByteLittleEndian_LargeLength_ReadsBothBytes()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 2, BigEndian = false }.Build();
        byte[] payload = new byte[0x0102];
        byte[] data = [0x02, 0x01, .. payload];
        Assert.Equal([payload], Decode(data, codec));
        Assert.Equal(data, EncodeAll(codec, [payload]));
    }

    [Fact]
    public void Offset_ReadsTheLengthAfterTheOffset_AndSkipsTheHead()
    {
        // tag (1 byte), 2-byte length, body
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldOffset = 1, LengthFieldLength = 2 }.Build();
        byte[] data = [0xAA, 0, 3, (byte)'x', (byte)'y', (byte)'z', 0xBB, 0, 0, 0xCC, 0, 1, (byte)'q'];
        foreach (int[] cuts in Splits(data.Length))
        {
            Assert.Equal([Bytes("xyz"), [], Bytes("q")], Decode(data, codec, cuts));
        }
    }

    [Fact]
    public void NumSkipZero_WithAdjustment_KeepsTheHeadInTheFrame()
    {
        // The length counts the body only; the frame returned is head + body.
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 2, LengthAdjustment = 2, NumSkip = 0 }.Build();
        byte[] data = [0, 3, (byte)'a', (byte)'b', (byte)'c'];
        Assert.Equal([data], Decode(data, codec));
    }

    [Fact]
    public void NegativeAdjustment_LengthCountsTheHead()
    {
        // The length counts itself (2 bytes) and the body; the frame is the body.
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 2, LengthAdjustment = -2 }.Build();
        byte[] data = [0, 5, (byte)'a', (byte)'b', (byte)'c', 0, 2];
        Assert.Equal([Bytes("abc"), []], Decode(data, codec));
        Assert.Equal(data, EncodeAll<byte[]>(codec, [Bytes("abc"), []]));
    }

    [Fact]
    public void NumSkipInsideTheHead_DropsOnlyThatPrefix()
    {
        // tag, length (counting the body), body; skip only the tag: the frame is length + body.
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldOffset = 1, LengthFieldLength = 1, LengthAdjustment = 1, NumSkip = 1 }.Build();
        byte[] data = [0x7F, 2, (byte)'h', (byte)'i'];
        foreach (int[] cuts in Splits(data.Length))
        {
            Assert.Equal([new byte[] { 2, (byte)'h', (byte)'i' }], Decode(data, codec, cuts));
        }
    }

    [Fact]
    public void FrameEndingInsideItsHead_IsInvalid()
    {
        // NumSkip 0 and a length of 0 (or 1 to 3) would make a frame shorter than the 4-byte head: it would consume
        // nothing, and a reader would return empty frames for ever.
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { NumSkip = 0 }.Build();
        foreach (byte length in new byte[] { 0, 3 })
        {
            var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader([0, 0, 0, length, 0, 0, 0, 0], []), codec);
            Assert.Throws<InvalidLengthException>(() => Now(framed.WaitToReadAsync()));
        }

        // A length that covers the head is a frame that keeps it.
        Assert.Equal([new byte[] { 0, 0, 0, 4 }], Decode([0, 0, 0, 4], codec));
    }

    [Fact]
    public void OffsetThatOverflowsTheHead_IsRefusedByTheBuilder()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LengthDelimitedCodecBuilder { LengthFieldOffset = int.MaxValue }.Build());
    }

    [Fact]
    public void FrameOverTheMaximum_ThrowsBeforeTheBodyArrives()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { MaxFrameLength = 10 }.Build();
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader([0, 0, 0, 11], []), codec);
        var e = Assert.Throws<FrameTooLargeException>(() => Now(framed.WaitToReadAsync()));
        Assert.Equal(10, e.Limit);
        Assert.Equal(11, e.Length);
        Assert.Equal([Bytes("0123456789")], Decode([0, 0, 0, 10, .. Bytes("0123456789")], codec));
    }

    [Fact]
    public void DefaultMaximum_Is8MiB_AndAHugeLengthIsRefusedWithoutAllocating()
    {
        var codec = new LengthDelimitedCodec();
        Assert.Equal(8 * 1024 * 1024, codec.MaxFrameLength);
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader([0x7F, 0xFF, 0xFF, 0xFF], []), codec);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FrameTooLargeException>(() => Now(framed.WaitToReadAsync()));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "no buffer sized by the frame");
        Assert.Equal(int.MaxValue, e.Length);
    }

    [Fact]
    public void EightByteLength_OfTwoToThe63_IsInvalid()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 8 }.Build();
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader([0x80, 0, 0, 0, 0, 0, 0, 0], []), codec);
        var e = Assert.Throws<InvalidLengthException>(() => Now(framed.WaitToReadAsync()));
        Assert.Equal(1UL << 63, e.FieldValue);
    }

    [Fact]
    public void AdjustmentMakingTheLengthNegative_IsInvalid()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 1, LengthAdjustment = -2 }.Build();
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader([1, 0], []), codec);
        Assert.Throws<InvalidLengthException>(() => Now(framed.WaitToReadAsync()));
    }

    [Fact]
    public void AdjustmentOverflowing_IsInvalid()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 8, LengthAdjustment = 10, MaxFrameLength = int.MaxValue }.Build();
        byte[] data = [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader(data, []), codec);
        Assert.Throws<InvalidLengthException>(() => Now(framed.WaitToReadAsync()));
    }

    [Fact]
    public void Encode_FrameOverTheMaximum_Throws_AndWritesNothing()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { MaxFrameLength = 4 }.Build();
        var output = new ArrayBufferWriter<byte>();
        var e = Assert.Throws<FrameTooLargeException>(() => codec.Encode(new byte[5], output));
        Assert.Equal(4, e.Limit);
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Encode_LengthNotFittingTheField_Throws()
    {
        LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder { LengthFieldLength = 1 }.Build();
        Assert.Throws<FrameTooLargeException>(() => codec.Encode(new byte[256], new ArrayBufferWriter<byte>()));
        Assert.Equal(256, EncodeAll(codec, [new byte[255]]).Length);
    }

    [Fact]
    public void Encode_MultiSegmentSequence_WritesAllSegments()
    {
        var codec = new LengthDelimitedCodec();
        ReadOnlySequence<byte> frame = TestSequences.Segmented(Bytes("abc"), Bytes("de"));
        Assert.Equal([0, 0, 0, 5, .. Bytes("abcde")], EncodeAll(codec, [frame]));
    }

    [Fact]
    public void Decode_MultiSegmentBuffer_ReadsAHeadSplitAcrossSegments()
    {
        var codec = new LengthDelimitedCodec();
        ReadOnlySequence<byte> buffer = TestSequences.Segmented([0, 0], [0, 2, (byte)'o'], [(byte)'k', 9]);
        Assert.True(codec.TryDecode(ref buffer, out ReadOnlySequence<byte> frame));
        Assert.Equal(Bytes("ok"), frame.ToArray());
        Assert.Equal([9], buffer.ToArray());
    }

    [Fact]
    public void TruncatedLastFrame_AtEndOfStream_Throws()
    {
        var codec = new LengthDelimitedCodec();
        byte[] data = [0, 0, 0, 1, (byte)'a', 0, 0, 0, 5, (byte)'b'];
        var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader(data, []), codec);
        Assert.Equal(Bytes("a"), Now(framed.ReadAsync()).ToArray());
        var e = Assert.Throws<TruncatedFrameException>(() => Now(framed.WaitToReadAsync()));
        Assert.Equal(5, e.RemainingBytes);
    }

    [Fact]
    public void CopyingDecoder_ReturnsArraysThatOutliveTheBuffer()
    {
        var codec = new LengthDelimitedCodec();
        byte[] data = EncodeAll<byte[]>(codec, Frames);
        List<byte[]> frames = DecodeAll(SplitReader.ByteByByte(data), new CopyingDecoder(codec), f => f);
        Assert.Equal(Frames, frames);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void Builder_FieldLengthOutOfRange_Throws(int fieldLength)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LengthDelimitedCodecBuilder { LengthFieldLength = fieldLength }.Build());
    }
}

/// <summary>Multi-segment sequences for decoders.</summary>
internal static class TestSequences
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    public static ReadOnlySequence<byte> Segmented(params byte[][] parts)
    {
        Segment first = new(parts[0], null);
        Segment last = first;
        foreach (byte[] part in parts.Skip(1))
        {
            last = new Segment(part, last);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
