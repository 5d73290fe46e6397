// Kyoto.Codec's lines codec against a hand-written System.IO.Pipelines loop. One invocation: a writer task
// encodes FRAMES lines of 16 ASCII characters (each one string, made once) followed by '\n', flushing whenever
// 64 KiB are buffered, into an in-memory pipe; a reader task splits the bytes at '\n' and decodes each line into a
// string. One operation = one line. Both sides allocate the decoded string (the frame the user asks for); nothing
// else should be allocated per line.
// Bcl: a Pipe on the .NET thread pool; Encoding.UTF8 into PipeWriter.GetSpan, SequenceReader.TryReadTo('\n') and
// Encoding.UTF8.GetString. Kyoto: a MemoryDuplex on a 2-worker runtime with FramedWrite<string> and
// FramedRead<string> over LinesCodec (which also validates UTF-8 strictly).
using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using Kyoto.Codec;
using Kyoto.IO;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

[MemoryDiagnoser]
public class LinesBenchmarks
{
    private const int Frames = 1_000_000;
    private const string Line = "GET key:01234567";
    private const int FlushThreshold = 64 * 1024;
    private const long Expected = (long)Frames * 16;

    private Runtime _runtime = null!;
    private Pipe _pipe = null!;
    private FramedWrite<string> _output = null!;
    private FramedRead<string> _input = null!;
    private Func<Task<long>> _kyotoRound = null!;

    [GlobalSetup]
    public void Setup()
    {
        ThreadPool.SetMinThreads(2, 2);
        _runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: FlushThreshold, resumeWriterThreshold: FlushThreshold / 2, useSynchronizationContext: false));
        var (a, b) = MemoryDuplex.Create(FlushThreshold);
        _output = new FramedWrite<string>(a, new LinesCodec()) { HighWaterMark = FlushThreshold };
        _input = new FramedRead<string>(b, new LinesCodec(), FlushThreshold);
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
            Span<byte> span = w.GetSpan(Encoding.UTF8.GetMaxByteCount(Line.Length) + 1);
            int n = Encoding.UTF8.GetBytes(Line, span);
            span[n] = (byte)'\n';
            w.Advance(n + 1);
            unflushed += n + 1;
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
            SequencePosition consumed = Parse(result.Buffer, ref total, ref frames);
            r.AdvanceTo(consumed, result.Buffer.End);
        }

        return total;
    }

    private static SequencePosition Parse(in ReadOnlySequence<byte> buffer, ref long total, ref int frames)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            string s = line.IsSingleSegment ? Encoding.UTF8.GetString(line.FirstSpan) : Encoding.UTF8.GetString(line.ToArray());
            total += s.Length;
            frames++;
        }

        return reader.Position;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void Kyoto() => Check(_runtime.BlockOn(_kyotoRound));

    private async Task KyotoWrite()
    {
        for (int i = 0; i < Frames; i++)
        {
            await _output.FeedAsync(Line);
        }

        await _output.FlushAsync();
    }

    private async Task<long> KyotoRead()
    {
        long total = 0;
        int frames = 0;
        while (frames < Frames && await _input.WaitToReadAsync())
        {
            while (frames < Frames && _input.TryRead(out string line))
            {
                total += line.Length;
                frames++;
            }
        }

        return total;
    }

    private static void Check(long total)
    {
        if (total != Expected)
        {
            throw new InvalidOperationException($"decoded {total} characters, expected {Expected}");
        }
    }
}
