// Kyoto.Codec's length-delimited framing against a hand-written System.IO.Pipelines loop. One invocation: a
// writer task encodes FRAMES frames (a 4-byte big-endian length and a 16-byte payload), flushing whenever 64 KiB
// are buffered, into an in-memory pipe, and a reader task decodes them all and sums their lengths. One
// operation = one frame encoded, sent, received and decoded.
// Bcl: a Pipe (pause threshold 64 KiB) on the .NET thread pool; the writer writes each head and payload into
// PipeWriter.GetSpan, the reader parses frames out of ReadResult.Buffer and calls AdvanceTo.
// Kyoto: a MemoryDuplex (64 KiB) on a 2-worker runtime; FramedWrite<ReadOnlyMemory<byte>> and
// FramedRead<ReadOnlySequence<byte>> with LengthDelimitedCodec. Pipes, duplexes and framed objects are created
// once, so the allocation column is what each frame costs once warm.
using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Kyoto.Codec;
using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class LengthDelimitedBenchmarks
{
    private const int Frames = 1_000_000;
    private const int PayloadSize = 16;
    private const int FlushThreshold = 64 * 1024;
    private const long Expected = (long)Frames * PayloadSize;

    private readonly byte[] _payload = new byte[PayloadSize];
    private Runtime _runtime = null!;
    private Pipe _pipe = null!;
    private FramedWrite<ReadOnlyMemory<byte>> _output = null!;
    private FramedRead<ReadOnlySequence<byte>> _input = null!;
    private Func<Task<long>> _kyotoRound = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2);
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: FlushThreshold, resumeWriterThreshold: FlushThreshold / 2, useSynchronizationContext: false));
        var (a, b) = MemoryDuplex.Create(FlushThreshold);
        var codec = new LengthDelimitedCodec();
        _output = new FramedWrite<ReadOnlyMemory<byte>>(a, codec) { HighWaterMark = FlushThreshold };
        _input = new FramedRead<ReadOnlySequence<byte>>(b, codec, FlushThreshold);
        _kyotoRound = async () =>
        {
            JoinHandle writer = KyotoTask.Spawn(KyotoWrite);
            long total = await KyotoRead();
            await writer;
            return total;
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public void Bcl()
    {
        Task writer = Task.Run(BclWrite);
        long total = BclRead().GetAwaiter().GetResult();
        writer.GetAwaiter().GetResult();
        Check(total);
    }

    private async Task BclWrite()
    {
        PipeWriter w = _pipe.Writer;
        int unflushed = 0;
        for (int i = 0; i < Frames; i++)
        {
            Span<byte> span = w.GetSpan(4 + PayloadSize);
            BinaryPrimitives.WriteInt32BigEndian(span, PayloadSize);
            _payload.CopyTo(span[4..]);
            w.Advance(4 + PayloadSize);
            unflushed += 4 + PayloadSize;
            if (unflushed >= FlushThreshold)
            {
                unflushed = 0;
                await w.FlushAsync();
            }
        }

        await w.FlushAsync();
    }

    private async Task<long> BclRead()
    {
        PipeReader r = _pipe.Reader;
        long total = 0;
        int frames = 0;
        while (frames < Frames)
        {
            ReadResult result = await r.ReadAsync();
            ReadOnlySequence<byte> buffer = result.Buffer;
            while (TryParse(ref buffer, out ReadOnlySequence<byte> frame))
            {
                total += frame.Length;
                frames++;
            }

            r.AdvanceTo(buffer.Start, buffer.End);
        }

        return total;
    }

    private static bool TryParse(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < 4)
        {
            return false;
        }

        int length;
        if (buffer.FirstSpan.Length >= 4)
        {
            length = BinaryPrimitives.ReadInt32BigEndian(buffer.FirstSpan);
        }
        else
        {
            Span<byte> head = stackalloc byte[4];
            buffer.Slice(0, 4).CopyTo(head);
            length = BinaryPrimitives.ReadInt32BigEndian(head);
        }

        if (buffer.Length < 4 + length)
        {
            return false;
        }

        frame = buffer.Slice(4, length);
        buffer = buffer.Slice(frame.End);
        return true;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void Kyoto() => Check(_runtime.BlockOn(_kyotoRound));

    private async Task KyotoWrite()
    {
        ReadOnlyMemory<byte> payload = _payload;
        for (int i = 0; i < Frames; i++)
        {
            await _output.FeedAsync(payload);
        }

        await _output.FlushAsync();
    }

    private async Task<long> KyotoRead()
    {
        long total = 0;
        int frames = 0;
        while (frames < Frames && await _input.WaitToReadAsync())
        {
            while (frames < Frames && _input.TryRead(out ReadOnlySequence<byte> frame))
            {
                total += frame.Length;
                frames++;
            }
        }

        return total;
    }

    private static void Check(long total)
    {
        if (total != Expected)
        {
            throw new InvalidOperationException($"decoded {total} payload bytes, expected {Expected}");
        }
    }
}
