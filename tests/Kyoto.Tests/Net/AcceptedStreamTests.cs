using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>
/// A connection Kyoto accepted or connected itself starts as a bare descriptor and gets its .NET Socket only when
/// one is asked for: endpoints, options, shutdown and close behave the same either way.
/// </summary>
public abstract class AcceptedStreamTests : RuntimeTestBase
{
    public sealed class MultiThread : AcceptedStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : AcceptedStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    private static async Task<(TcpStream Client, TcpStream Accepted)> PairAsync(TcpAcceptor acceptor)
    {
        ValueTask<TcpStream> accept = acceptor.AcceptAsync();
        TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
        return (client, await accept);
    }

    /// <summary>Runs <paramref name="body"/> on a new runtime with an acceptor, a connected client and its accepted peer.</summary>
    private void WithPair(Func<TcpAcceptor, TcpStream, TcpStream, Task> body)
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            (TcpStream client, TcpStream accepted) = await PairAsync(acceptor);
            using (client)
            using (accepted)
            {
                await body(acceptor, client, accepted);
            }
        });
    }

    private static async Task<long> DrainAsync(TcpStream stream)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            total += n;
        }

        return total;
    }

    [Fact]
    public void EndPointsAndSocket_MadeOnFirstUse_MatchTheClientsView()
    {
        WithPair(async (acceptor, client, accepted) =>
        {
            Assert.Equal(client.LocalEndPoint, accepted.RemoteEndPoint);
            Assert.Equal(acceptor.LocalEndPoint, accepted.LocalEndPoint);
            Socket socket = accepted.Socket;
            Assert.Same(socket, accepted.Socket);
            Assert.True(socket.Connected);
            Assert.False(socket.Blocking);
            Assert.Equal(SocketType.Stream, socket.SocketType);
            Assert.Equal(client.LocalEndPoint, socket.RemoteEndPoint);

            // The stream still reads and writes through the reactor once its Socket exists.
            await client.WriteAllAsync("ping"u8.ToArray());
            var buffer = new byte[4];
            Assert.Equal(4, await accepted.ReadAsync(buffer));
            await accepted.WriteAllAsync(buffer);
            Assert.Equal(4, await client.ReadAsync(buffer));
            Assert.Equal("ping"u8.ToArray(), buffer);
        });
    }

    [Fact]
    public void ConnectedStream_EndPointsAndSocket_MatchTheAcceptedSide()
    {
        WithPair(async (acceptor, client, accepted) =>
        {
            Assert.Equal(acceptor.LocalEndPoint, client.RemoteEndPoint);
            Assert.Equal(IPAddress.Loopback, client.LocalEndPoint.Address);
            Assert.NotEqual(0, client.LocalEndPoint.Port);
            Assert.True(client.Socket.Connected);
            Assert.False(client.Socket.Blocking);
            Assert.Equal(accepted.Socket.LocalEndPoint, client.Socket.RemoteEndPoint);
            Assert.Equal(accepted.Socket.RemoteEndPoint, client.Socket.LocalEndPoint);
        });
    }

    [Fact]
    public void ConnectAndAccept_ManyTimes_ThrowNoWouldBlockException()
    {
        // Socket.Connect reports a connection in progress by throwing, and Socket.Accept "nothing pending" too;
        // Kyoto makes both calls itself, so neither costs a throw and a catch.
        const int Connections = 40;
        using var rt = NewRuntime();
        using var thrown = new WouldBlockExceptions(rt);
        int served = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            int count = 0;
            for (int i = 0; i < Connections; i++)
            {
                (TcpStream client, TcpStream accepted) = await PairAsync(acceptor);
                using (client)
                using (accepted)
                {
                    await client.WriteAllAsync(new byte[] { (byte)i });
                    var one = new byte[1];
                    Assert.Equal(1, await accepted.ReadAsync(one));
                    Assert.Equal((byte)i, one[0]);
                    count++;
                }
            }

            return count;
        });

        Assert.Equal(Connections, served);
        Assert.Equal(0, thrown.Count);
    }

    [Fact]
    public void TcpSocketConnect_KeepsTheBindAndOptions_IsNonBlocking_AndThrowsNoWouldBlockException()
    {
        using var rt = NewRuntime();
        using var thrown = new WouldBlockExceptions(rt);
        rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            using var socket = TcpSocket.CreateV4();
            socket.ReuseAddress = true;
            socket.KeepAlive = true;
            socket.Bind(AnyLoopback);
            IPEndPoint bound = socket.LocalEndPoint!;
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await socket.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream accepted = await accept;
            // Non-blocking (connect and accept rely on it; recv and send pass MSG_DONTWAIT anyway), checked before
            // anything makes the stream's Socket, which would set the flag itself.
            int flags = Kyoto.Native.Libc.fcntl(client.Io.Descriptor, Kyoto.Native.Libc.F_GETFL, 0);
            Assert.NotEqual(0, flags & Kyoto.Native.Libc.O_NONBLOCK);
            await accepted.WriteAllAsync("late"u8.ToArray());
            Assert.Equal(4, await client.ReadAsync(new byte[16]));

            Assert.Equal(bound, client.LocalEndPoint);
            Assert.Equal(bound, accepted.RemoteEndPoint);
            Assert.Equal(1, (int)client.Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        });
        Assert.Equal(0, thrown.Count);
    }

    [Fact]
    public void NoDelay_SetOnTheDescriptor_IsWhatTheSocketReports()
    {
        WithPair(async (acceptor, client, accepted) =>
        {
            Assert.False(accepted.NoDelay);
            accepted.NoDelay = true;
            Assert.True(accepted.NoDelay);
            Assert.True(accepted.Socket.NoDelay);
            accepted.NoDelay = false;
            Assert.False(accepted.Socket.NoDelay);
        });
    }

    [Fact]
    public void Linger_SetOnTheDescriptor_IsWhatTheSocketReports()
    {
        WithPair(async (acceptor, client, accepted) =>
        {
            Assert.Null(client.Linger);
            client.Linger = TimeSpan.FromMilliseconds(2_500); // whole seconds, rounded up
            Assert.Equal(TimeSpan.FromSeconds(3), client.Linger);
            Assert.True(client.Socket.LingerState!.Enabled);
            Assert.Equal(3, client.Socket.LingerState.LingerTime);
            client.Linger = null;
            Assert.Null(client.Linger);
            Assert.False(client.Socket.LingerState!.Enabled);
            Assert.Throws<ArgumentOutOfRangeException>(() => accepted.Linger = TimeSpan.FromSeconds(-1));
            Assert.Throws<ArgumentOutOfRangeException>(() => accepted.Linger = TimeSpan.FromSeconds(70_000));
            Assert.Null(accepted.Linger);
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Dispose_WithDataStillInFlight_ClosesInOrder_ThePeerReadsAllOfItThenEndOfStream(bool makeSocket)
    {
        const int Size = 4 * 1024 * 1024; // far more than the socket buffers hold: most is unsent at the close
        using var rt = NewRuntime();
        long received = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            (TcpStream client, TcpStream accepted) = await PairAsync(acceptor);
            using (client)
            {
                if (makeSocket)
                {
                    _ = accepted.Socket;
                }

                JoinHandle<long> reader = KyotoTask.Spawn(() => DrainAsync(client));
                using (accepted)
                {
                    await accepted.WriteAllAsync(new byte[Size]);
                }

                // A reset (what disposing an owning SafeSocketHandle sends) would fail this read instead.
                return await reader;
            }
        });
        Assert.Equal(Size, received);
    }

    [Fact]
    public void ShutdownWrite_OnTheDescriptor_PeerReadsEndOfStreamAndCanStillAnswer()
    {
        WithPair(async (acceptor, client, accepted) =>
        {
            await accepted.WriteAllAsync("bye"u8.ToArray());
            accepted.ShutdownWrite();
            Assert.Equal(3, await DrainAsync(client));
            await client.WriteAllAsync("ok"u8.ToArray());
            client.ShutdownWrite();
            Assert.Equal(2, await DrainAsync(accepted));
        });
    }

    [Fact]
    public void Socket_FirstAskedForAfterDispose_ThrowsObjectDisposed()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(AnyLoopback);
            (TcpStream client, TcpStream accepted) = await PairAsync(acceptor);
            using (client)
            {
                accepted.Dispose();
                Assert.Throws<ObjectDisposedException>(() => accepted.Socket);
                Assert.Throws<ObjectDisposedException>(() => accepted.NoDelay = true);
                Assert.Throws<ObjectDisposedException>(() => accepted.ShutdownWrite());
                Assert.Equal(0, await client.ReadAsync(new byte[1])); // closed in order: end of stream
            }
        });
    }
}
