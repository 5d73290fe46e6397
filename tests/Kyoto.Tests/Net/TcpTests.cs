using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>TCP over loopback on the runtime's own reactor: accept, connect, read, write, half-close, failures.</summary>
public abstract class TcpTests : RuntimeTestBase
{
    public sealed class MultiThread : TcpTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : TcpTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    private static async Task Echo(TcpStream stream)
    {
        using (stream)
        {
            var buffer = new byte[4096];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAllAsync(buffer.AsMemory(0, n));
            }
        }
    }

    private static async Task<byte[]> ReadExactly(TcpStream stream, int count)
    {
        var data = new byte[count];
        int total = 0;
        while (total < count)
        {
            int n = await stream.ReadAsync(data.AsMemory(total));
            Assert.True(n > 0, $"end of stream after {total} of {count} bytes");
            total += n;
        }

        return data;
    }

    [Fact]
    public void AcceptAndConnect_RoundTrip_EchoesTheBytes()
    {
        using var rt = NewRuntime();
        string reply = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            JoinHandle server = KyotoTask.Spawn(async () => await Echo(await acceptor.AcceptAsync()));
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            Assert.Equal(acceptor.LocalEndPoint, client.RemoteEndPoint);
            await client.WriteAllAsync("hello kyoto"u8.ToArray());
            byte[] back = await ReadExactly(client, 11);
            client.ShutdownWrite();
            await server;
            return System.Text.Encoding.ASCII.GetString(back);
        });
        Assert.Equal("hello kyoto", reply);
    }

    [Fact]
    public void ManyConnections_AllEchoTheirOwnData()
    {
        const int Connections = 200;
        using var rt = NewRuntime();
        int ok = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            JoinHandle server = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < Connections; i++)
                {
                    TcpStream s = await acceptor.AcceptAsync();
                    _ = KyotoTask.Spawn(() => Echo(s));
                }
            });
            var clients = new JoinHandle<bool>[Connections];
            for (int c = 0; c < Connections; c++)
            {
                int id = c;
                clients[c] = KyotoTask.Spawn(async () =>
                {
                    using TcpStream stream = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                    stream.NoDelay = true;
                    for (int round = 0; round < 20; round++)
                    {
                        byte[] msg = BitConverter.GetBytes((id * 1000) + round);
                        await stream.WriteAllAsync(msg);
                        byte[] back = await ReadExactly(stream, msg.Length);
                        if (!back.AsSpan().SequenceEqual(msg))
                        {
                            return false;
                        }
                    }

                    return true;
                });
            }

            int good = 0;
            foreach (JoinHandle<bool> h in clients)
            {
                good += await h ? 1 : 0;
            }

            await server;
            return good;
        });
        Assert.Equal(Connections, ok);
    }

    [Fact]
    public void LargeTransfer_SixteenMegabytes_ArrivesIntact()
    {
        const int Size = 16 << 20;
        using var rt = NewRuntime();
        (long sent, long got) = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            var data = new byte[Size];
            new Random(7).NextBytes(data);
            JoinHandle sender = KyotoTask.Spawn(async () =>
            {
                using TcpStream s = await acceptor.AcceptAsync();
                await s.WriteAllAsync(data);
            });
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            byte[] received = await ReadExactly(client, Size);
            Assert.Equal(0, await client.ReadAsync(new byte[1])); // the sender closed: end of stream
            await sender;
            return (Checksum(data), Checksum(received));
        });
        Assert.Equal(sent, got);
    }

    private static long Checksum(byte[] data)
    {
        long sum = 0;
        foreach (byte b in data)
        {
            sum = (sum * 31) + b;
        }

        return sum;
    }

    [Fact]
    public void HalfClose_PeerReadsEndOfStreamAndCanStillAnswer()
    {
        using var rt = NewRuntime();
        string answer = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            JoinHandle server = KyotoTask.Spawn(async () =>
            {
                using TcpStream s = await acceptor.AcceptAsync();
                var buffer = new byte[64];
                int total = 0;
                int n;
                while ((n = await s.ReadAsync(buffer.AsMemory(total))) > 0)
                {
                    total += n;
                }

                await s.WriteAllAsync(System.Text.Encoding.ASCII.GetBytes($"got {total}"));
            });
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            await client.WriteAllAsync(new byte[10]);
            client.ShutdownWrite();
            byte[] reply = await ReadExactly(client, 6);
            Assert.Equal(0, await client.ReadAsync(new byte[1]));
            Assert.Equal(0, await client.ReadAsync(new byte[1]));
            await server;
            return System.Text.Encoding.ASCII.GetString(reply);
        });
        Assert.Equal("got 10", answer);
    }

    [Theory]
    [InlineData("::1", "::1")] // Kyoto opens the connecting socket itself: it passed .NET's AddressFamily
    // number (Windows' 23) to socket(2), where Linux's AF_INET6 is 10, so every IPv6 connect failed.
    [InlineData("::", "127.0.0.1")] // dual-stack, as Linux's default and Tokio's listeners are (.NET makes
    // IPv6 sockets IPv6-only, so an acceptor on [::] refused IPv4 clients)
    public void IPv6_Acceptor_EchoesToAClientOf(string bindTo, string connectTo)
    {
        using var rt = NewRuntime();
        string reply = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Parse(bindTo), 0));
            JoinHandle server = KyotoTask.Spawn(async () => await Echo(await acceptor.AcceptAsync()));
            using TcpStream client = await TcpStream.ConnectAsync(new IPEndPoint(IPAddress.Parse(connectTo), acceptor.LocalEndPoint.Port));
            await client.WriteAllAsync("six"u8.ToArray());
            byte[] back = await ReadExactly(client, 3);
            client.ShutdownWrite();
            await server;
            return System.Text.Encoding.ASCII.GetString(back);
        });
        Assert.Equal("six", reply);
    }

    [Fact]
    public void Bind_PortAlreadyListening_IsRefused()
    {
        // SO_REUSEADDR only: .NET's ReuseAddress also sets SO_REUSEPORT on Linux, which let a second server bind
        // the same port and take half its connections.
        using var rt = NewRuntime();
        SocketError error = rt.BlockOnBounded(() =>
        {
            using var first = TcpAcceptor.Bind(AnyLoopback);
            var e = Assert.Throws<SocketException>(() => TcpAcceptor.Bind(first.LocalEndPoint).Dispose());
            return Task.FromResult(e.SocketErrorCode);
        });
        Assert.Equal(SocketError.AddressAlreadyInUse, error);
    }

    [Fact]
    public void Connect_NobodyListening_ConnectionRefused()
    {
        using var rt = NewRuntime();
        SocketError error = rt.BlockOnBounded(async () =>
        {
            IPEndPoint closed;
            using (var acceptor = TcpAcceptor.Bind(AnyLoopback))
            {
                closed = acceptor.LocalEndPoint;
            }

            var e = await Assert.ThrowsAsync<SocketException>(async () => await TcpStream.ConnectAsync(closed));
            return e.SocketErrorCode;
        });
        Assert.Equal(SocketError.ConnectionRefused, error);
    }

    [Fact]
    public void Accept_Cancelled_ThenAcceptStillWorks()
    {
        using var rt = NewRuntime();
        bool connected = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            using (var cts = new CancellationTokenSource())
            {
                ValueTask<TcpStream> pending = acceptor.AcceptAsync(cts.Token);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            }

            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream server = await accept;
            return server.RemoteEndPoint.Port == client.LocalEndPoint.Port;
        });
        Assert.True(connected);
    }

    [Fact]
    public void Acceptor_DisposedWhileAccepting_FailsTheAccept()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var acceptor = TcpAcceptor.Bind(AnyLoopback);
            ValueTask<TcpStream> pending = acceptor.AcceptAsync();
            acceptor.Dispose();
            return await Record.ExceptionAsync(async () => await pending);
        });
        Assert.IsType<ObjectDisposedException>(e);
    }

    [Fact]
    public void Write_ToAPeerThatClosed_FailsWithASocketErrorNotASignal()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            (await accept).Dispose();
            var chunk = new byte[64 * 1024];
            return await Record.ExceptionAsync(async () =>
            {
                for (int i = 0; i < 1_000; i++)
                {
                    await client.WriteAllAsync(chunk);
                }
            });
        });
        var partial = Assert.IsType<PartialWriteException>(e);
        Assert.True(partial.SocketError is SocketError.ConnectionReset or SocketError.Shutdown, $"unexpected {partial.SocketError}");
    }

}
