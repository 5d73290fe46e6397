using System.Net;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.IO;

/// <summary>AsyncCopy: copy counts and flushing; copy bidirectional over memory duplexes and loopback TCP, end of stream propagation, failures, cancellation.</summary>
public abstract class CopyTests : RuntimeTestBase
{
    public sealed class MultiThread : CopyTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : CopyTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    /// <summary>A duplex whose reads fail (after a yield) and whose writes are discarded.</summary>
    private sealed class FailingReadDuplex : IAsyncDuplex
    {
        public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await KyotoTask.Yield();
            throw new IOException("injected read failure");
        }

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => new(buffer.Length);

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => default;

        public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => default;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bounded.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await KyotoTask.Yield();
        }
    }

    [Fact]
    public void Copy_CopiesAndCountsEveryByte_ThenFlushes_WithoutShutdown()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            byte[] data = TestData.Random(100_000, 40);
            var writer = new RecordingWriter(maxPerWrite: 1000);
            long n = await AsyncCopy.CopyAsync(new ChunkedReader(data, [1, 5000, 9000, 17]), writer);
            Assert.Equal(data.Length, n);
            Assert.Equal(data, writer.Data);
            Assert.Equal("F", writer.Events[^1]);
            Assert.DoesNotContain("S", writer.Events);
        });
    }

    [Fact]
    public void Copy_EmptyAndSink()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            Assert.Equal(0, await AsyncCopy.CopyAsync(AsyncEmpty.Instance, AsyncSink.Instance));
            var (a, b) = MemoryDuplex.Create(100);
            await a.WriteAllAsync(new byte[77]);
            await a.ShutdownAsync();
            Assert.Equal(77, await AsyncCopy.CopyAsync(b, AsyncSink.Instance));
        });
    }

    [Fact]
    public void Copy_RepeatBoundedByTheWriter_StopsOnWriteFailure()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var writer = new RecordingWriter { FailAfter = 3 * AsyncCopy.BufferSize };
            var e = await Assert.ThrowsAsync<PartialWriteException>(async () => await AsyncCopy.CopyAsync(new AsyncRepeat(0x5A), writer));
            Assert.Equal(0, e.BytesWritten);
            Assert.Equal(3 * AsyncCopy.BufferSize, writer.Data.Length);
            Assert.All(writer.Data, b => Assert.Equal(0x5A, b));
        });
    }

    [Fact]
    public void Copy_FlushesABufferedWriterWhileWaitingForTheReader()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (source, sourcePeer) = MemoryDuplex.Create(64);
            var (destination, destinationPeer) = MemoryDuplex.Create(64);
            var buffered = new AsyncBufferedWriter(destination, 1024);
            JoinHandle<long> copy = KyotoTask.Spawn(async () => await AsyncCopy.CopyAsync(source, buffered));

            await sourcePeer.WriteAllAsync("ping"u8.ToArray());
            var reply = new byte[4];
            await destinationPeer.ReadExactlyAsync(reply); // only arrives if the copy flushed while waiting
            Assert.Equal("ping"u8.ToArray(), reply);
            Assert.False(copy.IsFinished);

            await sourcePeer.ShutdownAsync();
            Assert.Equal(4, await copy);
        });
    }

    [Fact]
    public void CopyBidirectional_OverMemoryDuplexes_CopiesBothWaysAndReportsCounts()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, proxyA) = MemoryDuplex.Create(4096);
            var (proxyB, server) = MemoryDuplex.Create(1000);
            JoinHandle<CopyResult> proxy = KyotoTask.Spawn(async () => await AsyncCopy.CopyBidirectionalAsync(proxyA, proxyB));
            byte[] up = TestData.Random(300_000, 41);
            byte[] down = TestData.Random(200_000, 42);

            JoinHandle<byte[]> serverSide = KyotoTask.Spawn(async () =>
            {
                JoinHandle<byte[]> received = KyotoTask.Spawn(async () => await server.ReadToEndAsync());
                await server.WriteAllAsync(down);
                await server.ShutdownAsync();
                return await received;
            });
            JoinHandle<byte[]> clientReceived = KyotoTask.Spawn(async () => await client.ReadToEndAsync());
            await client.WriteAllAsync(up);
            await client.ShutdownAsync();

            Assert.Equal(new StreamChecksumResult(up), new StreamChecksumResult(await serverSide));
            Assert.Equal(new StreamChecksumResult(down), new StreamChecksumResult(await clientReceived));
            Assert.Equal(new CopyResult(up.Length, down.Length), await proxy);
        });
    }

    [Fact]
    public void CopyBidirectional_EndOfStreamOnOneSide_ShutsDownTheOtherWriterAndKeepsTheOtherDirection()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, proxyA) = MemoryDuplex.Create(64);
            var (proxyB, server) = MemoryDuplex.Create(64);
            JoinHandle<CopyResult> proxy = KyotoTask.Spawn(async () => await AsyncCopy.CopyBidirectionalAsync(proxyA, proxyB));

            await client.WriteAllAsync("request"u8.ToArray());
            await client.ShutdownAsync();
            Assert.Equal("request"u8.ToArray(), await server.ReadToEndAsync()); // the proxy shut its writer down
            Assert.False(proxy.IsFinished);

            await server.WriteAllAsync("response"u8.ToArray());
            await server.ShutdownAsync();
            Assert.Equal("response"u8.ToArray(), await client.ReadToEndAsync());
            Assert.Equal(new CopyResult(7, 8), await proxy);
        });
    }

    [Fact]
    public void CopyBidirectional_FailureInOneDirection_CancelsTheOtherAndPropagates()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, proxyA) = MemoryDuplex.Create(64);
            var e = await Assert.ThrowsAsync<IOException>(async () => await AsyncCopy.CopyBidirectionalAsync(proxyA, new FailingReadDuplex()));
            Assert.Equal("injected read failure", e.Message);
            Assert.Equal(0, proxyA.WaiterCount); // the other direction's pending read was cancelled and removed

            // proxyA is still usable: nothing was consumed by the cancelled read.
            await client.WriteAllAsync("still here"u8.ToArray());
            var buffer = new byte[10];
            await proxyA.ReadExactlyAsync(buffer);
            Assert.Equal("still here"u8.ToArray(), buffer);
        });
    }

    [Fact]
    public void CopyBidirectional_Cancelled_StopsBothDirections()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (_, proxyA) = MemoryDuplex.Create(64);
            var (proxyB, _) = MemoryDuplex.Create(64);
            using var cts = new CancellationTokenSource();
            ValueTask<CopyResult> copy = AsyncCopy.CopyBidirectionalAsync(proxyA, proxyB, cts.Token);
            await Until(() => proxyA.WaiterCount == 1 && proxyB.WaiterCount == 1, "both directions to wait");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await copy);
            Assert.Equal(0, proxyA.WaiterCount);
            Assert.Equal(0, proxyB.WaiterCount);
        });
    }

    [Fact]
    public void CopyBidirectional_OverLoopbackTcp_ProxiesAnEchoServer()
    {
        const int Length = 1024 * 1024;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var serverAcceptor = TcpAcceptor.Bind(AnyLoopback);
            using var proxyAcceptor = TcpAcceptor.Bind(AnyLoopback);
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                using TcpStream conn = await serverAcceptor.AcceptAsync();
                await AsyncCopy.CopyAsync(conn, conn);
                await conn.ShutdownAsync();
            });
            JoinHandle<CopyResult> proxy = KyotoTask.Spawn(async () =>
            {
                using TcpStream inbound = await proxyAcceptor.AcceptAsync();
                using TcpStream outbound = await TcpStream.ConnectAsync(serverAcceptor.LocalEndPoint);
                return await AsyncCopy.CopyBidirectionalAsync(inbound, outbound);
            });

            using TcpStream client = await TcpStream.ConnectAsync(proxyAcceptor.LocalEndPoint);
            byte[] data = TestData.Random(Length, 43);
            JoinHandle<byte[]> received = KyotoTask.Spawn(async () => await TestData.ReadAllAsync(client));
            await ((IAsyncWriter)client).WriteAllAsync(data);
            await client.ShutdownAsync();

            Assert.Equal(data, await received);
            Assert.Equal(new CopyResult(Length, Length), await proxy);
            await echo;
        });
    }

    [Fact]
    public void CopyBidirectional_OverLoopbackTcp_PropagatesEndOfStreamEachWay()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            byte[] request = TestData.Random(700_000, 44);
            byte[] response = TestData.Random(123_457, 45);
            using var serverAcceptor = TcpAcceptor.Bind(AnyLoopback);
            using var proxyAcceptor = TcpAcceptor.Bind(AnyLoopback);
            JoinHandle<byte[]> server = KyotoTask.Spawn(async () =>
            {
                using TcpStream conn = await serverAcceptor.AcceptAsync();
                byte[] got = await conn.ReadToEndAsync(); // ends only because the proxy shut its outbound side
                await ((IAsyncWriter)conn).WriteAllAsync(response);
                await conn.ShutdownAsync();
                return got;
            });
            JoinHandle<CopyResult> proxy = KyotoTask.Spawn(async () =>
            {
                using TcpStream inbound = await proxyAcceptor.AcceptAsync();
                using TcpStream outbound = await TcpStream.ConnectAsync(serverAcceptor.LocalEndPoint);
                return await AsyncCopy.CopyBidirectionalAsync(inbound, outbound);
            });

            using TcpStream client = await TcpStream.ConnectAsync(proxyAcceptor.LocalEndPoint);
            await client.WriteAllAsync(request);
            await client.ShutdownAsync();
            byte[] reply = await client.ReadToEndAsync(); // ends only because the proxy shut its inbound side
            Assert.Equal(new StreamChecksumResult(request), new StreamChecksumResult(await server));
            Assert.Equal(new StreamChecksumResult(response), new StreamChecksumResult(reply));
            Assert.Equal(new CopyResult(request.Length, response.Length), await proxy);
        });
    }
}

/// <summary>A checksum and length of a byte array, for compact assertion messages on large buffers.</summary>
internal readonly record struct StreamChecksumResult(long Length, ulong Checksum)
{
    public StreamChecksumResult(byte[] data)
        : this(data.Length, Compute(data))
    {
    }

    private static ulong Compute(byte[] data)
    {
        var checksum = new StreamChecksum();
        checksum.Append(data);
        return checksum.Value;
    }
}
