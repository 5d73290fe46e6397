using System.Net;
using System.Net.Sockets;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Tasks;
using Kyoto.Time;
using static Kyoto.Tests.IO.AdapterTestSupport;

#pragma warning disable CA2022 // inexact reads are what these tests check

namespace Kyoto.Tests.IO;

/// <summary>KyotoStream (Kyoto to System.IO.Stream) and StreamDuplex (System.IO.Stream to Kyoto).</summary>
public abstract class StreamAdapterTests : RuntimeTestBase
{
    public sealed class MultiThread : StreamAdapterTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : StreamAdapterTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void KyotoStream_OverTcp_RoundTripsAndReadsEndOfStream()
    {
        const int Size = 300_000;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            await using KyotoStream c = client.AsStream();
            byte[] data = RandomBytes(Size, 1);
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                await using KyotoStream s = server.AsStream();
                await s.CopyToAsync(s); // echoes until the client shuts its write side down
                await s.ShutdownAsync();
            });
            JoinHandle writer = KyotoTask.Spawn(async () =>
            {
                await c.WriteAsync(data.AsMemory(0, 1000));
                await c.WriteAsync(data, 1000, Size - 1000); // the Task overload
                await c.FlushAsync();
                await c.ShutdownAsync();
            });
            byte[] back = await ReadToEndAsync(c);
            Assert.Equal(Checksum(data), Checksum(back));
            Assert.Equal(0, await c.ReadAsync(new byte[8].AsMemory()));
            Assert.Equal(0, await c.ReadAsync(new byte[8], 0, 8));
            await writer;
            await echo;
        });
    }

    [Fact]
    public void WriteAsync_WriterTakesOneBytePerCall_WritesEverything()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex { MaxPerWrite = 1, AsyncEveryOther = true };
            using var stream = new KyotoStream(fake);
            byte[] data = RandomBytes(1000, 2);
            await stream.WriteAsync(data.AsMemory());
            await stream.WriteAsync(data, 0, 10);
            Assert.Equal([.. data, .. data.AsSpan(0, 10)], fake.Written);
            Assert.Equal(1010, fake.WriteCalls);
        });
    }

    [Fact]
    public void WriteAsync_WriterTakesNothing_ThrowsIOException()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var stream = new FakeDuplex { ReportWritten = 0 }.AsStream();
            await Assert.ThrowsAsync<IOException>(async () => await stream.WriteAsync(new byte[4].AsMemory()));
        });
    }

    [Fact]
    public void Dispose_DisposesInnerUnlessLeftOpen_AndLaterCallsThrow()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var owned = new FakeDuplex();
            var stream = owned.AsStream();
            Assert.True(stream.CanRead && stream.CanWrite);
            Assert.False(stream.CanSeek);
            Assert.Throws<NotSupportedException>(() => stream.Length);
            await stream.DisposeAsync();
            stream.Dispose();
            Assert.Equal(1, owned.Disposals);
            Assert.False(stream.CanRead || stream.CanWrite);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.ReadAsync(new byte[1].AsMemory()));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stream.WriteAsync(new byte[1].AsMemory()));

            var kept = new FakeDuplex();
            new KyotoStream(kept, leaveOpen: true).Dispose();
            Assert.Equal(0, kept.Disposals);
        });
    }

    [Fact]
    public void ReadOnlyAndWriteOnlyStreams_RefuseTheOtherDirection()
    {
        var fake = new FakeDuplex();
        using KyotoStream readOnly = ((IAsyncReader)fake).AsStream(leaveOpen: true);
        using KyotoStream writeOnly = ((IAsyncWriter)fake).AsStream(leaveOpen: true);
        Assert.True(readOnly.CanRead);
        Assert.False(readOnly.CanWrite);
        Assert.False(writeOnly.CanRead);
        Assert.True(writeOnly.CanWrite);
        Assert.Throws<NotSupportedException>(() => readOnly.WriteAsync(new byte[1].AsMemory()));
        Assert.Throws<NotSupportedException>(() => writeOnly.ReadAsync(new byte[1].AsMemory()));
        Assert.Throws<ArgumentException>(() => new KyotoStream(null, null));
    }

    [Fact]
    public void SyncReadWrite_OnWorker_ThrowInvalidOperation()
    {
        using var rt = NewRuntime();
        string message = rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex { Incoming = [1, 2, 3] };
            using var stream = fake.AsStream();
            return await KyotoTask.Spawn(() =>
            {
                var e = Assert.Throws<InvalidOperationException>(() => stream.Read(new byte[4], 0, 4));
                Assert.Throws<InvalidOperationException>(() => stream.Read(new byte[4].AsSpan()));
                Assert.Throws<InvalidOperationException>(() => stream.Write(new byte[4], 0, 4));
                Assert.Throws<InvalidOperationException>(() => stream.ReadByte());
                stream.Flush(); // completes at once: allowed
                Assert.Equal(0, fake.WriteCalls);
                return Task.FromResult(e.Message);
            });
        });
        Assert.Contains("KyotoStream.Read", message);
        Assert.Contains("worker", message);
    }

    [Fact]
    public void SyncReadWrite_OnBlockingThread_Work()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            using KyotoStream c = client.AsStream();
            using KyotoStream s = server.AsStream();
            JoinHandle<int> blockingRead = KyotoTask.SpawnBlocking(() =>
            {
                var buffer = new byte[5];
                int total = 0;
                while (total < 5)
                {
                    int n = c.Read(buffer.AsSpan(total));
                    Assert.True(n > 0);
                    total += n;
                }

                c.Write("world"u8);
                return buffer.Sum(b => (int)b);
            });
            await KyotoTime.Sleep(TimeSpan.FromMilliseconds(20)); // the blocking read is (probably) waiting
            await s.WriteAsync("hello"u8.ToArray());
            Assert.Equal("hello"u8.ToArray().Sum(b => (int)b), await blockingRead);
            var back = new byte[5];
            await s.ReadExactlyAsync(back);
            Assert.Equal("world"u8.ToArray(), back);
        });
    }

    [Fact]
    public void SyncReadWrite_FromNonRuntimeThread_Work()
    {
        using var rt = NewRuntime();
        (TcpStream client, TcpStream server) = rt.BlockOnBounded(ConnectPairAsync);
        using var driver = new BackgroundDriver(rt);
        using KyotoStream c = client.AsStream();
        using KyotoStream s = server.AsStream();
        Bounded.Run(() =>
        {
            s.Write([1, 2, 3], 0, 3);
            var buffer = new byte[3];
            c.ReadExactly(buffer);
            Assert.Equal([1, 2, 3], buffer);
            s.Dispose();
            Assert.Equal(-1, c.ReadByte());
        }, "synchronous reads and writes");
    }

    [Fact]
    public void AsyncCalls_FromThreadPoolThreads_Work()
    {
        // BCL code (SslStream's handshake, for one) may call the adapter from a thread-pool thread.
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            using KyotoStream c = client.AsStream();
            using KyotoStream s = server.AsStream();
            byte[] data = RandomBytes(200_000, 3);
            Task write = Task.Run(async () =>
            {
                await s.WriteAsync(data).ConfigureAwait(false);
                await s.ShutdownAsync().ConfigureAwait(false);
            });
            byte[] got = await Task.Run(() => ReadToEndAsync(c));
            await write;
            Assert.Equal(Checksum(data), Checksum(got));
        });
    }

    [Fact]
    public void ReadAsync_CancelledThroughToken_ThrowsAndLosesNothing()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            using KyotoStream c = client.AsStream();
            using KyotoStream s = server.AsStream();
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            var buffer = new byte[4];
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await c.ReadAsync(buffer.AsMemory(), cts.Token));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await c.ReadAsync(buffer.AsMemory(), cts.Token)); // already cancelled
            await s.WriteAsync(new byte[] { 9, 8, 7, 6 });
            await c.ReadExactlyAsync(buffer);
            Assert.Equal([9, 8, 7, 6], buffer);
        });
    }

    [Fact]
    public void BeginEndRead_ForwardToTheAsyncPath()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var fake = new FakeDuplex { Incoming = [5, 6] };
            using var stream = fake.AsStream();
            var buffer = new byte[2];
            int n = await Task.Factory.FromAsync(stream.BeginRead, stream.EndRead, buffer, 0, 2, null);
            Assert.Equal(2, n);
            await Task.Factory.FromAsync(stream.BeginWrite, stream.EndWrite, buffer, 0, 2, null);
            Assert.Equal([5, 6], fake.Written);
        });
    }

    [Fact]
    public void StreamDuplex_OverKyotoStream_ShutdownSendsEndOfStream()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream client, TcpStream server) = await ConnectPairAsync();
            using StreamDuplex duplex = client.AsStream().AsAsyncDuplex();
            using KyotoStream s = server.AsStream();
            Assert.Equal(3, await duplex.WriteAsync(new byte[] { 1, 2, 3 }));
            await duplex.ShutdownAsync();
            Assert.Throws<InvalidOperationException>(() => duplex.WriteAsync(new byte[1]));
            Assert.Equal([1, 2, 3], await ReadToEndAsync(s));
            await s.WriteAsync(new byte[] { 4 });
            await s.ShutdownAsync();
            var one = new byte[2];
            Assert.Equal(1, await duplex.ReadAsync(one));
            Assert.Equal(0, await duplex.ReadAsync(one));
        });
    }

    [Fact]
    public void StreamDuplex_OverNetworkStream_ShutdownHalfCloses()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            using var bclClient = new TcpClient();
            await bclClient.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
            using TcpClient bclServer = await listener.AcceptTcpClientAsync();
            await using StreamDuplex duplex = bclClient.GetStream().AsAsyncDuplex();
            NetworkStream peer = bclServer.GetStream();

            // An empty read returns 0 at once (the IAsyncReader contract), where NetworkStream would wait for data.
            ValueTask<int> empty = duplex.ReadAsync(Memory<byte>.Empty);
            Assert.True(empty.IsCompletedSuccessfully);
            Assert.Equal(0, empty.Result);
            await duplex.WriteAsync("ab"u8.ToArray());
            await duplex.ShutdownAsync();
            Assert.Equal("ab"u8.ToArray(), await ReadToEndAsync(peer));
            await peer.WriteAsync("c"u8.ToArray());
            bclServer.Client.Shutdown(SocketShutdown.Send);
            var buffer = new byte[4];
            Assert.Equal(1, await duplex.ReadAsync(buffer));
            Assert.Equal(0, await duplex.ReadAsync(buffer));
        });
    }

    [Fact]
    public void StreamDuplex_WriteOnlyStream_ShutdownDisposesIt_LeaveOpenKeepsIt()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var sink = new MemoryStream();
            var gzip = new System.IO.Compression.GZipStream(sink, System.IO.Compression.CompressionMode.Compress, leaveOpen: true);
            var duplex = gzip.AsAsyncDuplex();
            await duplex.WriteAsync(new byte[1000]);
            await duplex.ShutdownAsync(); // closing the gzip stream writes its trailer
            Assert.False(gzip.CanWrite);
            sink.Position = 0;
            using var unzip = new System.IO.Compression.GZipStream(sink, System.IO.Compression.CompressionMode.Decompress);
            Assert.Equal(1000, (await ReadToEndAsync(unzip)).Length);

            var kept = new MemoryStream();
            var keptDuplex = kept.AsAsyncDuplex(leaveOpen: true);
            await keptDuplex.ShutdownAsync();
            await keptDuplex.DisposeAsync();
            Assert.True(kept.CanWrite);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await keptDuplex.ReadAsync(new byte[1]));
        });
    }
}
