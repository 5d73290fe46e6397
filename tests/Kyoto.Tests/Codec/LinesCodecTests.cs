using System.Buffers;
using System.Text;
using Kyoto.Codec;
using static Kyoto.Tests.Codec.CodecIo;

namespace Kyoto.Tests.Codec;

/// <summary>LinesCodec, AnyDelimiterCodec and BytesCodec: round trips at every split, terminators, limits and resynchronisation, invalid UTF-8.</summary>
public class LinesCodecTests
{
    private static List<string> Lines(byte[] data, LinesCodec codec, int[]? cuts = null) =>
        DecodeAll(new SplitReader(data, cuts ?? []), codec, s => s);

    [Fact]
    public void RoundTrip_EverySplit_DecodesTheSameLines()
    {
        string[] lines = ["hello", "", "wörld ✓ 𝄞", "x", new string('a', 300)];
        var codec = new LinesCodec();
        byte[] data = EncodeAll(codec, lines);
        Assert.Equal(Bytes(string.Join("\n", lines) + "\n"), data);
        foreach (int[] cuts in Splits(data.Length))
        {
            Assert.Equal(lines, Lines(data, new LinesCodec(), cuts));
        }
    }

    [Fact]
    public void CarriageReturnBeforeNewline_IsDropped_OthersKept()
    {
        Assert.Equal(["a", "b\rc", "", "d"], Lines(Bytes("a\r\nb\rc\n\r\nd\n"), new LinesCodec()));
    }

    [Fact]
    public void LastLineWithoutNewline_IsReturnedAtEndOfStream()
    {
        Assert.Equal(["a", "tail"], Lines(Bytes("a\ntail"), new LinesCodec()));
        Assert.Equal(["a"], Lines(Bytes("a\n"), new LinesCodec()));
    }

    [Fact]
    public void LineTooLong_Throws_ThenResynchronisesAtTheNextNewline()
    {
        byte[] data = Bytes("ok\n" + new string('x', 40) + "\nafter\n" + new string('y', 11) + "\nend\n");
        foreach (int[] cuts in Splits(data.Length))
        {
            var framed = new FramedRead<string>(new SplitReader(data, cuts), new LinesCodec(maxLength: 10), 256);
            var got = new List<string>();
            var errors = new List<LineTooLongException>();
            while (true)
            {
                try
                {
                    if (!Now(framed.WaitToReadAsync()))
                    {
                        break;
                    }

                    while (framed.TryRead(out string line))
                    {
                        got.Add(line);
                    }
                }
                catch (LineTooLongException e)
                {
                    errors.Add(e);
                }
            }

            Assert.Equal(["ok", "after", "end"], got);
            Assert.Equal(2, errors.Count);
            Assert.All(errors, e => Assert.Equal(10, e.Limit));
            Assert.All(errors, e => Assert.True(e.Length > 10));
        }
    }

    [Fact]
    public void LineOfExactlyTheMaximum_IsAccepted()
    {
        Assert.Equal([new string('z', 10)], Lines(Bytes(new string('z', 10) + "\n"), new LinesCodec(maxLength: 10)));
    }

    [Fact]
    public void LineTooLong_IsRefusedBeforeTheBufferGrowsWithIt()
    {
        // A flood without newlines: the codec refuses and discards it as it comes; the read buffer stays small.
        byte[] data = new byte[1 << 20];
        data.AsSpan().Fill((byte)'a');
        var framed = new FramedRead<string>(new SplitReader(data, Enumerable.Range(1, 255).Select(i => i * 4096)), new LinesCodec(maxLength: 100), 256);
        Assert.Throws<LineTooLongException>(() => Now(framed.WaitToReadAsync()));
        Assert.False(Now(framed.WaitToReadAsync())); // the rest is discarded up to end of stream
    }

    [Fact]
    public void InvalidUtf8_ThrowsWithTheOffset_ThenTheNextLineDecodes()
    {
        byte[] data = [.. Bytes("good\nab"), 0xC3, 0x28, .. Bytes("\nnext\n")];
        var framed = new FramedRead<string>(new SplitReader(data, []), new LinesCodec());
        Assert.Equal("good", Now(framed.ReadAsync()));
        var e = Assert.Throws<InvalidUtf8Exception>(() => Now(framed.ReadAsync()));
        Assert.Equal(2, e.Offset);
        Assert.Equal(4, e.LineLength);
        Assert.Equal("next", Now(framed.ReadAsync()));
    }

    [Fact]
    public void Decode_MultiSegmentBuffer()
    {
        var codec = new LinesCodec();
        ReadOnlySequence<byte> buffer = TestSequences.Segmented(Bytes("he"), Bytes("llo\r"), Bytes("\nrest"));
        Assert.True(codec.TryDecode(ref buffer, out string line));
        Assert.Equal("hello", line);
        Assert.False(codec.TryDecode(ref buffer, out _));
        Assert.Equal(Bytes("rest"), buffer.ToArray());
    }

    [Fact]
    public void AnyDelimiter_RoundTrip_EverySplit()
    {
        var codec = new AnyDelimiterCodec(",;"u8, ";"u8, maxLength: 64);
        string[] chunks = ["a", "", "bc", "déf"];
        byte[] data = EncodeAll<string>(codec, chunks);
        Assert.Equal(Bytes("a;;bc;déf;"), data);
        foreach (int[] cuts in Splits(data.Length))
        {
            Assert.Equal(chunks, DecodeAll(new SplitReader(data, cuts), new AnyDelimiterCodec(",;"u8, ";"u8, 64), f => Encoding.UTF8.GetString(f)));
        }
    }

    [Fact]
    public void AnyDelimiter_AnySeekDelimiter_EndsAChunk_AndTheRestIsTheLastChunk()
    {
        List<byte[]> chunks = DecodeAllBytes(new SplitReader(Bytes("a,b;c\nd"), []), new AnyDelimiterCodec(",;\n"u8, ","u8));
        Assert.Equal([Bytes("a"), Bytes("b"), Bytes("c"), Bytes("d")], chunks);
    }

    [Fact]
    public void AnyDelimiter_ChunkTooLong_ThrowsAndResynchronises()
    {
        byte[] data = Bytes("ab,0123456789,cd,");
        foreach (int[] cuts in Splits(data.Length))
        {
            var framed = new FramedRead<ReadOnlySequence<byte>>(new SplitReader(data, cuts), new AnyDelimiterCodec(","u8, ","u8, maxLength: 5));
            Assert.Equal(Bytes("ab"), Now(framed.ReadAsync()).ToArray());
            Assert.Throws<LineTooLongException>(() => Now(framed.ReadAsync()));
            Assert.Equal(Bytes("cd"), Now(framed.ReadAsync()).ToArray());
            Assert.False(Now(framed.WaitToReadAsync()));
        }
    }

    [Fact]
    public void Bytes_PassesChunksThrough()
    {
        byte[] data = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        foreach (int[] cuts in new[] { new[] { 1, 500 }, [999], [] })
        {
            List<byte[]> chunks = DecodeAllBytes(new SplitReader(data, cuts), new BytesCodec());
            Assert.Equal(data, chunks.SelectMany(c => c).ToArray());
            Assert.DoesNotContain(chunks, c => c.Length == 0);
        }

        Assert.Equal(data, EncodeAll<byte[]>(new BytesCodec(), [data[..10], data[10..]]));
    }
}
