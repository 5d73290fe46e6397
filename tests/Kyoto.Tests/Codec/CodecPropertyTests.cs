using System.Text;
using CsCheck;
using Kyoto.Codec;
using static Kyoto.Tests.Codec.CodecIo;

namespace Kyoto.Tests.Codec;

/// <summary>
/// Property tests (CsCheck): random frames, encoded, then read back through a reader that cuts the stream at
/// random offsets, decode to the same frames, for random codec options. CsCheck prints the seed of a failure.
/// </summary>
public class CodecPropertyTests
{
    // Whole characters (a surrogate pair stays a pair), including a '\r' that is not the line's last.
    private static readonly string[] Pieces = ["a", "b", " ", "\t", "é", "✓", "𝄞", "\r"];
    private static readonly Gen<string> Text = Gen.Int[0, Pieces.Length - 1].Array[0, 40].Select(ix => string.Concat(ix.Select(i => Pieces[i])));

    private static readonly Gen<int[]> Cuts = Gen.Int[1, 4000].Array[0, 40];

    [Fact]
    public void LengthDelimited_RandomFramesOptionsAndSplits_RoundTrip()
    {
        Gen.Select(Gen.Byte.Array[0, 300].Array[0, 30], Gen.Int[0, 3].Select(i => new[] { 2, 3, 4, 8 }[i]), Gen.Bool, Gen.Int[-2, 0], Cuts)
            .Sample((frames, fieldLength, bigEndian, adjustment, cuts) =>
            {
                // A negative adjustment means the field also counts that many head bytes.
                LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder
                {
                    LengthFieldLength = fieldLength,
                    BigEndian = bigEndian,
                    LengthAdjustment = adjustment,
                }.Build();
                byte[] data = EncodeAll<byte[]>(codec, frames);
                Assert.Equal(frames, DecodeAllBytes(new SplitReader(data, cuts), codec, initialBufferSize: 256));
            }, iter: 200, threads: 1);
    }

    [Fact]
    public void Lines_RandomLinesAndSplits_RoundTrip()
    {
        Gen.Select(Text.Where(s => !s.EndsWith('\r')).Array[0, 30], Cuts)
            .Sample((lines, cuts) =>
            {
                byte[] data = EncodeAll(new LinesCodec(), lines);
                Assert.Equal(lines, DecodeAll(new SplitReader(data, cuts), new LinesCodec(), s => s));
            }, iter: 200, threads: 1);
    }

    [Fact]
    public void AnyDelimiter_RandomChunksAndSplits_RoundTrip()
    {
        Gen.Select(Gen.String["abcxyz"].Array[0, 30], Cuts)
            .Sample((chunks, cuts) =>
            {
                byte[] data = EncodeAll<string>(new AnyDelimiterCodec(",;"u8, ","u8), chunks);
                List<string> decoded = DecodeAll(new SplitReader(data, cuts), new AnyDelimiterCodec(",;"u8, ","u8), f => Encoding.UTF8.GetString(f));
                Assert.Equal(chunks, decoded);
            }, iter: 200, threads: 1);
    }

    [Fact]
    public void Lines_WithOverlongLines_KeepEveryShortLine()
    {
        Gen.Select(Gen.Char["abc"].Array[0, 40].Select(c => new string(c)).Array[0, 30], Cuts)
            .Sample((lines, cuts) =>
            {
                byte[] data = EncodeAll(new LinesCodec(), lines);
                var framed = new FramedRead<string>(new SplitReader(data, cuts), new LinesCodec(maxLength: 20), 64);
                var got = new List<string>();
                int errors = 0;
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
                    catch (LineTooLongException)
                    {
                        errors++;
                    }
                }

                Assert.Equal(lines.Where(l => l.Length <= 20), got);
                Assert.Equal(lines.Count(l => l.Length > 20), errors);
            }, iter: 200, threads: 1);
    }
}
