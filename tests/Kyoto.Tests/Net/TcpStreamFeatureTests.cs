using System.Net;
using System.Net.Sockets;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>TcpStream beyond read and write: peek, try-calls with readiness, owned halves, TcpSocket options, linger.</summary>
public abstract class TcpStreamFeatureTests : RuntimeTestBase
{
    public sealed class MultiThread : TcpStreamFeatureTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : TcpStreamFeatureTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    private static async Task<(TcpStream Client, TcpStream Server)> PairAsync()
    {
        using var acceptor = TcpAcceptor.Bind(AnyLoopback);
        ValueTask<TcpStream> accept = acceptor.AcceptAsync();
        TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
        return (client, await accept);
    }

    private static async Task<byte[]> ReadExactly(IAsyncReader reader, int count)
    {
        var data = new byte[count];
        int total = 0;
        while (total < count)
        {
            int n = await reader.ReadAsync(data.AsMemory(total));
            Assert.True(n > 0, $"end of stream after {total} of {count} bytes");
            total += n;
        }

        return data;
    }

    [Fact]
    public void Peek_ReturnsTheBytesWithoutConsumingThem()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                await client.WriteAllAsync("abcdef"u8.ToArray());
                var peek = new byte[6];
                int got = 0;
                while (got < 6)
                {
                    got = await server.PeekAsync(peek);
                }

                Assert.Equal("abcdef"u8.ToArray(), peek);
                Assert.Equal("abcdef"u8.ToArray(), await ReadExactly(server, 6));
            }
        });
    }

    [Fact]
    public void TryRead_WithReadiness_ReadsWhatArrivedAndReportsWouldBlock()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                var buffer = new byte[64];
                Assert.False(server.TryRead(buffer, out _));
                Ready ready = await client.ReadyAsync(Interest.Writable);
                Assert.True(ready.HasFlag(Ready.Writable));
                Assert.True(client.TryWrite("xyz"u8, out int written));
                Assert.Equal(3, written);
                int total = 0;
                while (total < 3)
                {
                    await server.ReadableAsync();
                    if (server.TryRead(buffer.AsSpan(total), out int n))
                    {
                        total += n;
                    }
                }

                Assert.Equal("xyz"u8.ToArray(), buffer[..3]);
                Assert.False(server.TryRead(buffer, out _));
            }
        });
    }

    [Fact]
    public void ReadyAsync_ReadWrite_CompletesWithEitherDirection()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                Ready ready = await server.ReadyAsync(Interest.ReadWrite);
                Assert.True(ready.HasFlag(Ready.Writable));
                Assert.False(ready.HasFlag(Ready.Readable));
            }
        });
    }

    [Fact]
    public void SplitHalves_InDifferentTasks_CarryBothDirections()
    {
        const int Messages = 200;
        using var rt = NewRuntime();
        long sum = rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            var (reader, writer) = server.Split();
            // The server echoes through its halves from two tasks: one reads and hands chunks over a channel to
            // the other, which owns the write half.
            var relay = Kyoto.Sync.Mpsc.CreateUnbounded<byte[]>();
            JoinHandle readTask = KyotoTask.Spawn(async () =>
            {
                using (reader)
                using (relay.Sender)
                {
                    var buffer = new byte[256];
                    int n;
                    while ((n = await reader.ReadAsync(buffer)) > 0)
                    {
                        relay.Sender.Send(buffer[..n]);
                    }
                }
            });
            JoinHandle writeTask = KyotoTask.Spawn(async () =>
            {
                using (writer)
                {
                    await foreach (byte[] chunk in relay.Receiver)
                    {
                        await writer.WriteAllAsync(chunk);
                    }
                }
            });
            long total = 0;
            using (client)
            {
                for (int i = 0; i < Messages; i++)
                {
                    await client.WriteAllAsync(BitConverter.GetBytes(i));
                    total += BitConverter.ToInt32(await ReadExactly(client, 4));
                }

                client.ShutdownWrite();
                await readTask;
                await writeTask;
                // The write half's disposal shut down the server's write side: the client reads end of stream.
                Assert.Equal(0, await client.ReadAsync(new byte[1]));
            }

            return total;
        });
        Assert.Equal(Messages * (Messages - 1) / 2, sum);
    }

    [Fact]
    public void Reunite_GivesBackTheStream_AndRefusesForeignHalves()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = await PairAsync();
            var (ra, wa) = a.Split();
            var (rb, wb) = b.Split();
            Assert.Throws<ArgumentException>(() => ra.Reunite(wb));
            Assert.Throws<InvalidOperationException>(() => a.Split());
            TcpStream back = ra.Reunite(wa);
            Assert.Same(a, back);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await ra.ReadAsync(new byte[1]));
            wa.Dispose(); // a no-op after reunite: the stream stays open
            await back.WriteAllAsync("ok"u8.ToArray());
            Assert.Equal("ok"u8.ToArray(), await ReadExactly(rb, 2));
            back.Dispose();
            rb.Dispose();
            wb.Dispose();
        });
    }

    [Fact]
    public void TcpSocket_OptionsBeforeConnectAndListen_AreApplied()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var listenSocket = TcpSocket.CreateV4();
            listenSocket.ReuseAddress = true;
            listenSocket.ReusePort = true;
            Assert.True(listenSocket.ReuseAddress);
            Assert.True(listenSocket.ReusePort);
            listenSocket.Bind(AnyLoopback);
            using TcpAcceptor acceptor = listenSocket.Listen(16);
            Assert.Throws<ObjectDisposedException>(() => listenSocket.Listen());

            using var connectSocket = TcpSocket.CreateFor(acceptor.LocalEndPoint);
            connectSocket.KeepAlive = true;
            connectSocket.NoDelay = true;
            connectSocket.ReceiveBufferSize = 64 * 1024;
            connectSocket.SendBufferSize = 64 * 1024;
            connectSocket.Linger = TimeSpan.FromSeconds(3);
            Assert.True(connectSocket.KeepAlive);
            Assert.True(connectSocket.ReceiveBufferSize >= 64 * 1024);
            Assert.Equal(TimeSpan.FromSeconds(3), connectSocket.Linger);
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await connectSocket.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream server = await accept;
            Assert.True(client.NoDelay);
            Assert.Equal(TimeSpan.FromSeconds(3), client.Linger);
            client.Ttl = 42;
            Assert.Equal(42, client.Ttl);
            await client.WriteAllAsync("hi"u8.ToArray());
            Assert.Equal("hi"u8.ToArray(), await ReadExactly(server, 2));
        });
    }

    [Fact]
    public void TcpSocket_ReusePort_LetsTwoAcceptorsShareAPort()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var first = TcpSocket.CreateV4();
            first.ReusePort = true;
            first.Bind(AnyLoopback);
            using TcpAcceptor a = first.Listen();
            using var second = TcpSocket.CreateV4();
            second.ReusePort = true;
            second.Bind(a.LocalEndPoint);
            using TcpAcceptor b = second.Listen();
            Assert.Equal(a.LocalEndPoint, b.LocalEndPoint);

            using var third = TcpSocket.CreateV4();
            var e = Assert.Throws<SocketException>(() => third.Bind(a.LocalEndPoint));
            Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
            await Task.CompletedTask;
        });
    }

    [Fact]
    public void LingerZero_ResetsTheConnectionAtClose()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (server)
            {
                client.Linger = TimeSpan.Zero;
                client.Dispose();
                var e = await Assert.ThrowsAsync<SocketException>(async () => await server.ReadAsync(new byte[16]));
                Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
            }
        });
    }

    [Fact]
    public void CancelledRead_LeavesTheStreamUsable_AndReadsNothing()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                for (int i = 0; i < 100; i++)
                {
                    using var cts = new CancellationTokenSource();
                    ValueTask<int> read = server.ReadAsync(new byte[8], cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await read);
                }

                await client.WriteAllAsync("after"u8.ToArray());
                Assert.Equal("after"u8.ToArray(), await ReadExactly(server, 5));
            }
        });
    }

    [Fact]
    public void ConcurrentReads_OnOneStream_AreRefused()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                ValueTask<int> first = server.ReadAsync(new byte[8]);
                await Assert.ThrowsAsync<InvalidOperationException>(async () => await server.ReadAsync(new byte[8]));
                await client.WriteAllAsync("1"u8.ToArray());
                Assert.Equal(1, await first);
            }
        });
    }

    [Fact]
    public void Dispose_WhileAReadWaits_FailsItWithObjectDisposed()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            {
                ValueTask<int> read = server.ReadAsync(new byte[8]);
                server.Dispose();
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await read);
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await server.WriteAsync(new byte[1]));
            }
        });
    }

    [Fact]
    public void LargeWriteAll_ThatMustWait_CompletesWhenThePeerDrains()
    {
        const int Size = 8 << 20;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                var data = new byte[Size];
                new Random(3).NextBytes(data);
                ValueTask write = client.WriteAllAsync(data);
                byte[] got = await ReadExactly(server, Size);
                await write;
                Assert.True(data.AsSpan().SequenceEqual(got));
            }
        });
    }

    [Fact]
    public void ThousandsOfConcurrentConnections_AllOpenAtOnce_EachEchoesItsOwnData()
    {
        const int Connections = 2_000;
        const int Rounds = 5;
        using var rt = NewRuntime();
        long total = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback, backlog: 4096);
            JoinHandle server = KyotoTask.Spawn(async () =>
            {
                var echoes = new JoinHandle[Connections];
                for (int i = 0; i < Connections; i++)
                {
                    TcpStream s = await acceptor.AcceptAsync();
                    echoes[i] = KyotoTask.Spawn(async () =>
                    {
                        using (s)
                        {
                            var buffer = new byte[64];
                            int n;
                            while ((n = await s.ReadAsync(buffer)) > 0)
                            {
                                await s.WriteAllAsync(buffer.AsMemory(0, n));
                            }
                        }
                    });
                }

                foreach (JoinHandle e in echoes)
                {
                    await e;
                }
            });

            // Every client connects and then waits at a barrier, so all 2,000 connections are open at once.
            var allOpen = new Kyoto.Sync.AsyncBarrier(Connections);
            var clients = new JoinHandle<long>[Connections];
            for (int c = 0; c < Connections; c++)
            {
                int id = c;
                clients[c] = KyotoTask.Spawn(async () =>
                {
                    using TcpStream stream = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                    await allOpen.WaitAsync();
                    long sum = 0;
                    for (int r = 0; r < Rounds; r++)
                    {
                        int value = (id * Rounds) + r;
                        await stream.WriteAllAsync(BitConverter.GetBytes(value));
                        sum += BitConverter.ToInt32(await ReadExactly(stream, 4));
                    }

                    return sum;
                });
            }

            long all = 0;
            foreach (JoinHandle<long> h in clients)
            {
                all += await h;
            }

            await server;
            return all;
        }, TimeSpan.FromMinutes(1));
        long n = (long)Connections * Rounds;
        Assert.Equal(n * (n - 1) / 2, total);
    }

    [Fact]
    public void ConnectByHostName_ResolvesAndConnects_AndAnUnknownHostFails()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync("localhost", acceptor.LocalEndPoint.Port);
            using TcpStream server = await accept;
            await client.WriteAllAsync("by name"u8.ToArray());
            Assert.Equal("by name"u8.ToArray(), await ReadExactly(server, 7));
            await Assert.ThrowsAsync<SocketException>(async () => await TcpStream.ConnectAsync("no-such-host.invalid", 80));
        });
    }

    [Fact]
    public void ReadWhileAnotherTaskWaitsForReadability_IsRefused_AndTheStreamStaysUsable()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (client, server) = await PairAsync();
            using (client)
            using (server)
            {
                using var cts = new CancellationTokenSource();
                ValueTask readable = server.ReadableAsync(cts.Token);
                await Assert.ThrowsAsync<InvalidOperationException>(async () => await server.ReadAsync(new byte[8]));
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await readable);

                // The refused read left nothing behind: a read that has to wait can still park.
                var buffer = new byte[8];
                ValueTask<int> read = server.ReadAsync(buffer);
                Assert.False(read.IsCompleted);
                await client.WriteAllAsync("x"u8.ToArray());
                Assert.Equal(1, await read);
                Assert.Equal((byte)'x', buffer[0]);
            }
        });
    }
}
