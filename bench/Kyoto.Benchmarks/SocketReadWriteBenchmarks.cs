// Loopback TCP round trips on one warm connection: the client writes 64 bytes, the server task echoes them, the
// client reads them back, ROUNDS times per invocation. One operation = one round trip (two writes, two reads, two
// cross-task wake-ups through the socket). Bcl: `Socket.SendAsync`/`ReceiveAsync` on the .NET thread pool (its
// epoll thread hands each completion to the pool); Kyoto: `TcpStream` on the runtime's own reactor.
using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

public class SocketReadWriteBenchmarks : LoopbackRoundTrips
{
    private readonly byte[] _bclOut = new byte[Size];
    private readonly byte[] _bclIn = new byte[Size];
    private readonly byte[] _kyotoOut = new byte[Size];
    private readonly byte[] _kyotoIn = new byte[Size];
    private Socket _bclClient = null!;

    protected override Func<Task> SetUpPeers()
    {
        Socket bclServer;
        using (var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            _bclClient = Own(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
            _bclClient.Connect(listener.LocalEndPoint!);
            bclServer = Own(listener.Accept());
            bclServer.NoDelay = true;
        }

        _ = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = await bclServer.ReceiveAsync(buffer.AsMemory(), SocketFlags.None)) > 0)
                {
                    await bclServer.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // cleanup closed the socket
            }
        });

        (TcpStream kyotoClient, TcpStream kyotoServer) = Runtime.BlockOn(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            TcpStream server = await accept;
            client.NoDelay = true;
            server.NoDelay = true;
            return (Own(client), Own(server));
        });

        Runtime.Spawn(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = await kyotoServer.ReadAsync(buffer)) > 0)
                {
                    await kyotoServer.WriteAllAsync(buffer.AsMemory(0, n));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // cleanup closed the stream
            }
        });

        byte[] output = _kyotoOut;
        byte[] input = _kyotoIn;
        return async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                await kyotoClient.WriteAllAsync(output);
                int got = 0;
                while (got < Size)
                {
                    int n = await kyotoClient.ReadAsync(input.AsMemory(got));
                    if (n == 0)
                    {
                        throw new InvalidOperationException("the echo server closed the connection");
                    }

                    got += n;
                }
            }

            RoundsDone();
        };
    }

    protected override async Task BclRounds()
    {
        for (int i = 0; i < Rounds; i++)
        {
            await _bclClient.SendAsync(_bclOut.AsMemory(), SocketFlags.None);
            int got = 0;
            while (got < Size)
            {
                int n = await _bclClient.ReceiveAsync(_bclIn.AsMemory(got), SocketFlags.None);
                if (n == 0)
                {
                    throw new InvalidOperationException("the echo server closed the connection");
                }

                got += n;
            }
        }
    }
}
