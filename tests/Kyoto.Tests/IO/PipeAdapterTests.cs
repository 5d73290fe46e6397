using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Scheduling;
using Kyoto.Tasks;
using Kyoto.Time;
using static Kyoto.Tests.IO.AdapterTestSupport;

namespace Kyoto.Tests.IO;

/// <summary>KyotoDuplexPipe: System.IO.Pipelines over Kyoto duplex streams.</summary>
public abstract class PipeAdapterTests : RuntimeTestBase
{
    public sealed class MultiThread : PipeAdapterTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : PipeAdapterTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>
    /// A line protocol server: answers each '\n'-terminated line with "ECHO &lt;LINE&gt;\n" (upper case); at end of
    /// stream answers "BYE &lt;count&gt;\n" plus any unterminated tail, and completes both sides.
    /// </summary>
    internal static async Task<int> ServeLinesAsync(IDuplexPipe pipe)
    {
        int lines = 0;
        while (true)
        {
            ReadResult result = await pipe.Input.ReadAsync();
            ReadOnlySequence<byte> buffer = result.Buffer;
            while (buffer.PositionOf((byte)'\n') is SequencePosition eol)
            {
                string line = Encoding.ASCII.GetString(buffer.Slice(0, eol));
                buffer = buffer.Slice(buffer.GetPosition(1, eol));
                lines++;
                Encoding.ASCII.GetBytes($"ECHO {line.ToUpperInvariant()}\n", pipe.Output);
            }

            if (result.IsCompleted)
            {
                string tail = Encoding.ASCII.GetString(buffer);
                Encoding.ASCII.GetBytes($"BYE {lines}{(tail.Length > 0 ? " " + tail : "")}\n", pipe.Output);
                pipe.Input.AdvanceTo(buffer.End);
                break;
            }

            pipe.Input.AdvanceTo(buffer.Start, buffer.End);
            FlushResult flushed = await pipe.Output.FlushAsync();
            Assert.False(flushed.IsCanceled);
        }

        await pipe.Input.CompleteAsync();
        await pipe.Output.CompleteAsync(); // flushes, then shuts the write side down: the client reads end of stream
        return lines;
    }

    [Fact]
    public void LineProtocol_OverTcp_RepliesPerLineAndEndsAtEndOfStream()
    {
        using var rt = NewRuntime();
        string replies = rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            JoinHandle<int> serving = KyotoTask.Spawn(() => ServeLinesAsync(server.AsDuplexPipe()));
            using (client)
            {
                // Lines split across writes, several lines in one write, and an unterminated tail.
                foreach (string part in new[] { "hel", "lo\nwor", "ld\n", "a\nb\nc\n", "tail" })
                {
                    await client.WriteAllAsync(Encoding.ASCII.GetBytes(part));
                    await KyotoTime.Sleep(TimeSpan.FromMilliseconds(2));
                }

                client.ShutdownWrite();
                byte[] all = await ReadToEndAsync(client.AsStream(leaveOpen: true));
                Assert.Equal(5, await serving);
                return Encoding.ASCII.GetString(all);
            }
        });
        Assert.Equal("ECHO HELLO\nECHO WORLD\nECHO A\nECHO B\nECHO C\nBYE 5 tail\n", replies);
    }

    [Fact]
    public void BothSidesCompleted_DisposeTheTransport_UnlessLeftOpen()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex();
            KyotoDuplexPipe pipe = fake.AsDuplexPipe();
            await pipe.Output.WriteAsync(new byte[] { 1, 2 });
            await pipe.Output.CompleteAsync();
            Assert.Equal(1, fake.Shutdowns);
            Assert.Equal([1, 2], fake.Written);
            Assert.Equal(0, fake.Disposals);
            pipe.Input.Complete();
            pipe.Input.Complete();
            Assert.Equal(1, fake.Disposals);
            await pipe.DisposeAsync();
            Assert.Equal(1, fake.Disposals);

            var kept = new FakeDuplex();
            KyotoDuplexPipe keptPipe = kept.AsDuplexPipe(leaveOpen: true);
            await keptPipe.DisposeAsync();
            Assert.Equal(1, kept.Shutdowns);
            Assert.Equal(0, kept.Disposals);
        });
    }

    [Fact]
    public void Errors_PropagateFromReadAndFlush()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex { ReadError = new IOException("read broke"), WriteError = new IOException("write broke") };
            KyotoDuplexPipe pipe = fake.AsDuplexPipe();
            var readError = await Assert.ThrowsAsync<IOException>(async () => await pipe.Input.ReadAsync());
            Assert.Equal("read broke", readError.Message);
            pipe.Output.GetSpan(1)[0] = 7;
            pipe.Output.Advance(1);
            var writeError = await Assert.ThrowsAsync<IOException>(async () => await pipe.Output.FlushAsync());
            Assert.Equal("write broke", writeError.Message);
            await pipe.DisposeAsync();
            Assert.Equal(1, fake.Disposals);
        });
    }

    [Fact]
    public void EndOfStream_ReadResultIsCompleted()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            KyotoDuplexPipe pipe = new FakeDuplex { Incoming = [1, 2, 3] }.AsDuplexPipe();
            ReadResult r = await pipe.Input.ReadAtLeastAsync(4);
            Assert.True(r.IsCompleted);
            Assert.Equal(3, r.Buffer.Length);
            pipe.Input.AdvanceTo(r.Buffer.End);
            r = await pipe.Input.ReadAsync();
            Assert.True(r.IsCompleted);
            Assert.True(r.Buffer.IsEmpty);
            await pipe.DisposeAsync();
        });
    }

    [Fact]
    public void SyncComplete_OnWorkerWithUnflushedBytes_Throws_AfterFlushWorks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex();
            KyotoDuplexPipe pipe = fake.AsDuplexPipe();
            await KyotoTask.Spawn(async () =>
            {
                pipe.Output.GetSpan(3);
                pipe.Output.Advance(3);
                var e = Assert.Throws<InvalidOperationException>(() => pipe.Output.Complete());
                Assert.Contains("CompleteAsync", e.Message);
                await pipe.Output.FlushAsync();
                pipe.Output.Complete();
            });
            Assert.Equal(3, fake.Written.Length);
            Assert.Equal(1, fake.Shutdowns);
        });
    }

    [Fact]
    public void CancelPendingRead_ReturnsCanceledResult_AndLosesNothing()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            await using KyotoDuplexPipe pipe = server.AsDuplexPipe();
            using (client)
            {
                ValueTask<ReadResult> pending = pipe.Input.ReadAsync();
                await KyotoTime.Sleep(TimeSpan.FromMilliseconds(10));
                pipe.Input.CancelPendingRead();
                ReadResult r = await pending;
                Assert.True(r.IsCanceled);
                pipe.Input.AdvanceTo(r.Buffer.Start);
                await client.WriteAllAsync(new byte[] { 4, 2 });
                r = await pipe.Input.ReadAtLeastAsync(2);
                Assert.Equal([4, 2], r.Buffer.ToArray());
                pipe.Input.AdvanceTo(r.Buffer.End);
            }
        });
    }

    [Fact]
    public void AwaitingInputAndOutput_InsideATask_ResumesOnTheRuntimeInTheSameTask()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            using (client)
            {
                JoinHandle check = KyotoTask.Spawn(async () =>
                {
                    await using KyotoDuplexPipe pipe = server.AsDuplexPipe();
                    TaskId me = KyotoTask.Id;
                    SynchronizationContext? context = SynchronizationContext.Current;
                    Assert.NotNull(context);
                    for (int i = 0; i < 3; i++)
                    {
                        ReadResult r = await pipe.Input.ReadAsync(); // parks: the client writes later
                        AssertOnRuntimeIn(me);
                        Assert.Same(context, SynchronizationContext.Current);
                        pipe.Input.AdvanceTo(r.Buffer.End);
                        await pipe.Output.WriteAsync(new byte[] { (byte)i });
                        AssertOnRuntimeIn(me);
                    }
                });
                for (int i = 0; i < 3; i++)
                {
                    await KyotoTime.Sleep(TimeSpan.FromMilliseconds(10));
                    await client.WriteAllAsync(new byte[] { 1 });
                    var one = new byte[1];
                    Assert.Equal(1, await client.ReadAsync(one));
                    Assert.Equal(i, one[0]);
                }

                await check;
            }
        });

        static void AssertOnRuntimeIn(TaskId expected)
        {
            Assert.NotNull(RuntimeContext.CurrentOrNull?.Worker);
            Assert.Equal(expected, KyotoTask.CurrentId);
        }
    }
}
