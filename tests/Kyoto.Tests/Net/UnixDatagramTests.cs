using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>Unix domain datagram sockets on the runtime's reactor: pairs, paths, unbound senders, back-pressure, failures.</summary>
public abstract class UnixDatagramTests : RuntimeTestBase, IDisposable
{
    public sealed class MultiThread : UnixDatagramTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : UnixDatagramTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kyoto-unixdg-");

    private string SocketPath(string name) => Path.Combine(_dir.FullName, name);

    public void Dispose()
    {
        _dir.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }

    private static IoReactor Reactor => RuntimeHandle.Current.Scheduler.Time.Reactor!;

    [Fact]
    public void Pair_SendAndReceive_KeepsMessageBoundaries()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixDatagram.CreatePair();
            using (a)
            using (b)
            {
                Assert.Equal(3, await a.SendAsync(new byte[] { 1, 2, 3 }));
                Assert.Equal(2, await a.SendAsync(new byte[] { 4, 5 }));
                var buffer = new byte[16];
                Assert.Equal(3, await b.ReceiveAsync(buffer));
                Assert.Equal(2, await b.ReceiveAsync(buffer));
                Assert.Equal(new byte[] { 4, 5 }, buffer[..2]);
                Assert.Null(a.LocalPath);
                Assert.False(b.TryReceive(buffer, out _));
                Assert.True(b.TrySend(new byte[] { 6 }, out int sent));
                Assert.Equal(1, sent);
                Assert.Equal(1, (await a.ReceiveFromAsync(buffer)).Count);
            }
        });
    }

    [Fact]
    public void SendToAndReceiveFrom_WithPaths_ReportsTheSendersPath()
    {
        using var rt = NewRuntime();
        string serverPath = SocketPath("server.sock");
        string clientPath = SocketPath("client.sock");
        rt.BlockOnBounded(async () =>
        {
            using var server = UnixDatagram.Bind(serverPath);
            using var client = UnixDatagram.Bind(clientPath);
            using var anonymous = UnixDatagram.CreateUnbound();
            Assert.Equal(serverPath, server.LocalPath);
            var buffer = new byte[32];
            ValueTask<UnixReceiveFromResult> pending = server.ReceiveFromAsync(buffer);
            await client.SendToAsync("ping"u8.ToArray(), serverPath);
            UnixReceiveFromResult got = await pending;
            Assert.Equal(new UnixReceiveFromResult(4, clientPath), got);
            await server.SendToAsync("pong"u8.ToArray(), got.Path!);
            Assert.Equal(new UnixReceiveFromResult(4, serverPath), await client.ReceiveFromAsync(buffer));

            await anonymous.SendToAsync("anon"u8.ToArray(), serverPath);
            Assert.Equal(new UnixReceiveFromResult(4, null), await server.ReceiveFromAsync(buffer));

            anonymous.Connect(serverPath);
            Assert.Equal(serverPath, anonymous.RemotePath);
            await anonymous.SendAsync(new byte[] { 9 });
            Assert.Equal(1, await server.ReceiveAsync(buffer));
        });
    }

    [Fact]
    public void ReceiveFrom_SendersTakeTurns_EachDatagramReportsItsOwnSender()
    {
        // The receiver caches the last sender's path: a new sender, a longer or shorter path than the last one, or
        // an unnamed sender must never be reported as the cached one.
        using var rt = NewRuntime();
        string serverPath = SocketPath("s.sock");
        string shortPath = SocketPath("a");
        string longPath = SocketPath("a-much-longer-name-for-the-second-sender.sock");
        rt.BlockOnBounded(async () =>
        {
            using var server = UnixDatagram.Bind(serverPath);
            using var shortSender = UnixDatagram.Bind(shortPath);
            using var longSender = UnixDatagram.Bind(longPath);
            using var anonymous = UnixDatagram.CreateUnbound();
            UnixDatagram[] order = [shortSender, shortSender, longSender, shortSender, anonymous, longSender, longSender, anonymous, shortSender];
            string?[] expected = [shortPath, shortPath, longPath, shortPath, null, longPath, longPath, null, shortPath];
            var buffer = new byte[8];
            for (int i = 0; i < order.Length; i++)
            {
                // Alternately waiting (the receive parks first) and completing at once (the datagram is queued first).
                ValueTask<UnixReceiveFromResult> receive = i % 2 == 0 ? server.ReceiveFromAsync(buffer) : default;
                await order[i].SendToAsync(new[] { (byte)i }, serverPath);
                UnixReceiveFromResult got = i % 2 == 0 ? await receive : await server.ReceiveFromAsync(buffer);
                Assert.Equal((1, (byte)i, expected[i]), (got.Count, buffer[0], got.Path));
            }
        });
    }

    [Fact]
    public void ReceiveFrom_SecondWhileOneWaits_IsRefusedAndTheFirstGetsItsDatagramAndSender()
    {
        using var rt = NewRuntime();
        string serverPath = SocketPath("server.sock");
        string clientPath = SocketPath("client.sock");
        rt.BlockOnBounded(async () =>
        {
            using var server = UnixDatagram.Bind(serverPath);
            using var client = UnixDatagram.Bind(clientPath);
            var first = new byte[16];
            var second = new byte[16];
            ValueTask<UnixReceiveFromResult> waiting = server.ReceiveFromAsync(first);
            Assert.False(waiting.IsCompleted);

            // One wait per direction, as UdpSocket: the second receive cannot wait beside the first.
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await server.ReceiveFromAsync(second));
            Assert.False(server.TryReceiveFrom(second, out _)); // a try beside the wait uses an address of its own

            await client.SendToAsync(new byte[] { 7, 8, 9 }, serverPath);
            UnixReceiveFromResult got = await waiting;
            Assert.Equal((3, (byte)7, clientPath), (got.Count, first[0], got.Path));

            // Free again: a datagram already queued is taken at once, with its sender.
            await client.SendToAsync(new byte[] { 1 }, serverPath);
            Assert.True(server.TryReceiveFrom(second, out UnixReceiveFromResult next));
            Assert.Equal((1, (byte)1, clientPath), (next.Count, second[0], next.Path));
        });
    }

    [Fact]
    public void SendTo_NobodyBound_FailsWithTheSocketError_AndDisposeRemovesTheFile()
    {
        using var rt = NewRuntime();
        string path = SocketPath("nobody.sock");
        SocketError missing = rt.BlockOnBounded(async () =>
        {
            using var socket = UnixDatagram.CreateUnbound();
            UnixDatagram.Bind(path).Dispose();
            Assert.False(File.Exists(path));
            var e = await Assert.ThrowsAsync<SocketException>(async () => await socket.SendToAsync(new byte[1], path));
            return e.SocketErrorCode;
        });
        Assert.Equal(SocketError.AddressNotAvailable, missing); // ENOENT
    }

    [Fact]
    public void SendTo_QueueFull_WaitsUntilTheReceiverDrains_WithoutAWouldBlockException()
    {
        // Socket.SendTo reports a full queue by throwing; SendToAsync must find it out as a value, then wait for room.
        using var rt = NewRuntime();
        using var thrown = new WouldBlockExceptions(rt);
        string path = SocketPath("full.sock");
        (int queued, int last) = rt.BlockOnBounded(async () =>
        {
            using var server = UnixDatagram.Bind(path);
            using var client = UnixDatagram.CreateUnbound();
            var buffer = new byte[64];
            // The first send may wait for the reactor's first report that the new socket is writable.
            Assert.Equal(1, await client.SendToAsync(new byte[] { 0 }, path));
            (int queued, ValueTask<int> blocked) = await KyotoTask.Unconstrained(async () =>
            {
                // Without coop budget, an incomplete send can now only mean that the receiver's queue is full.
                for (int i = 1; i < 100_000; i++)
                {
                    ValueTask<int> send = client.SendToAsync(new[] { (byte)i }, path);
                    if (!send.IsCompleted)
                    {
                        return (i, send);
                    }

                    Assert.Equal(1, await send);
                }

                throw new InvalidOperationException("the queue never filled");
            });

            for (int i = 0; i < queued; i++)
            {
                UnixReceiveFromResult got = await server.ReceiveFromAsync(buffer);
                Assert.Equal((1, (byte)i), (got.Count, buffer[0]));
            }

            Assert.Equal(1, await blocked);
            UnixReceiveFromResult after = await server.ReceiveFromAsync(buffer);
            return (queued, after.Count == 1 ? buffer[0] : -1);
        });
        Assert.True(queued > 0);
        Assert.Equal((byte)queued, last);
        Assert.Equal(0, thrown.Count);
    }

    [Fact]
    public void Send_QueueFull_WaitsUntilTheReceiverDrains()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixDatagram.CreatePair();
            using (a)
            using (b)
            {
                int queued = 0;
                while (a.TrySend(new byte[1024], out _))
                {
                    queued++;
                }

                Assert.True(queued > 0);
                ValueTask<int> blocked = a.SendAsync(new byte[1024]);
                Assert.False(blocked.IsCompleted);
                var buffer = new byte[2048];
                for (int i = 0; i < queued; i++)
                {
                    Assert.Equal(1024, await b.ReceiveAsync(buffer));
                }

                Assert.Equal(1024, await blocked);
                Assert.Equal(1024, await b.ReceiveAsync(buffer));
            }
        });
    }

    [Fact]
    public void Receive_Cancelled_ThenReceiveWorks_AndDisposeFailsPendingCalls()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixDatagram.CreatePair();
            using (a)
            {
                using (var cts = new CancellationTokenSource())
                {
                    ValueTask<UnixReceiveFromResult> pending = b.ReceiveFromAsync(new byte[8], cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
                }

                await a.SendAsync(new byte[] { 1 });
                Assert.Equal(1, await b.ReceiveAsync(new byte[8]));
                ValueTask<int> waiting = b.ReceiveAsync(new byte[8]);
                b.Dispose();
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await waiting);
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await b.SendToAsync(new byte[1], "/nonexistent"));
                Assert.Throws<ObjectDisposedException>(() => b.LocalPath);

                // The peer is gone: a send on the connected survivor fails with a socket error, not a signal.
                var e = await Assert.ThrowsAsync<SocketException>(async () => await a.SendAsync(new byte[1]));
                Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
            }
        });
    }

    [Fact]
    public void Receive_TaskAborted_StopsAndDisposeDeregisters()
    {
        using var rt = NewRuntime();
        (bool cancelled, int before, int after) = rt.BlockOnBounded(async () =>
        {
            int registered = Reactor.RegistrationCount;
            var socket = UnixDatagram.CreateUnbound();
            bool wasCancelled = await AbortWhileBlocked.RunAsync(socket, async s => await s.ReceiveFromAsync(new byte[8]));

            return (wasCancelled, registered, Reactor.RegistrationCount);
        });
        Assert.True(cancelled);
        Assert.Equal(before, after);
    }
}
