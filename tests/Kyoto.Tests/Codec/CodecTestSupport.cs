using System.Buffers;
using Kyoto.Codec;
using Kyoto.IO;

namespace Kyoto.Tests.Codec;

/// <summary>A reader over fixed data that returns it in pieces cut at the given offsets (and at most the buffer's length per read); completes synchronously.</summary>
internal sealed class SplitReader : IAsyncReader
{
    private readonly byte[] _data;
    private readonly Queue<int> _cuts;
    private int _position;

    public SplitReader(byte[] data, IEnumerable<int> cuts)
    {
        _data = data;
        _cuts = new Queue<int>(cuts.Where(c => c > 0 && c < data.Length).Distinct().Order());
    }

    /// <summary>A reader returning one byte per read.</summary>
    public static SplitReader ByteByByte(byte[] data) => new(data, Enumerable.Range(1, Math.Max(0, data.Length - 1)));

    public int Reads { get; private set; }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Reads++;
        cancellationToken.ThrowIfCancellationRequested();
        while (_cuts.Count > 0 && _cuts.Peek() <= _position)
        {
            _cuts.Dequeue();
        }

        int end = _cuts.Count > 0 ? _cuts.Peek() : _data.Length;
        int n = Math.Min(buffer.Length, end - _position);
        _data.AsSpan(_position, n).CopyTo(buffer.Span);
        _position += n;
        return new ValueTask<int>(n);
    }
}

/// <summary>Decoding and encoding helpers over synchronous readers (no runtime needed: every ValueTask completes at once).</summary>
internal static class CodecIo
{
    /// <summary>Decodes every frame of <paramref name="reader"/>, projecting each (before the next read) with <paramref name="keep"/>.</summary>
    public static List<TOut> DecodeAll<T, TOut>(IAsyncReader reader, IDecoder<T> decoder, Func<T, TOut> keep, int initialBufferSize = 256)
    {
        var framed = new FramedRead<T>(reader, decoder, initialBufferSize);
        var frames = new List<TOut>();
        while (Now(framed.WaitToReadAsync()))
        {
            while (framed.TryRead(out T frame))
            {
                frames.Add(keep(frame));
            }
        }

        Now(framed.DisposeAsync());
        return frames;
    }

    public static List<byte[]> DecodeAllBytes(IAsyncReader reader, IDecoder<ReadOnlySequence<byte>> decoder, int initialBufferSize = 256) =>
        DecodeAll(reader, decoder, f => f.ToArray(), initialBufferSize);

    public static byte[] EncodeAll<T>(IEncoder<T> encoder, IEnumerable<T> frames)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (T frame in frames)
        {
            encoder.Encode(frame, output);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>Every way to cut <paramref name="length"/> bytes in two, plus one byte per read, plus not at all.</summary>
    public static IEnumerable<int[]> Splits(int length)
    {
        yield return [];
        for (int cut = 1; cut < length; cut++)
        {
            yield return [cut];
        }

        yield return Enumerable.Range(1, Math.Max(0, length - 1)).ToArray();
    }

    public static T Now<T>(ValueTask<T> task)
    {
        Assert.True(task.IsCompleted, "expected a synchronous completion");
        return task.GetAwaiter().GetResult();
    }

    public static void Now(ValueTask task)
    {
        Assert.True(task.IsCompleted, "expected a synchronous completion");
        task.GetAwaiter().GetResult();
    }

    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);
}
