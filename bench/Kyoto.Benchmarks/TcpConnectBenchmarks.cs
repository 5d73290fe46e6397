// A TCP connection's whole life on loopback, ROUNDS per invocation: the client connects, the server accepts and
// serves the connection in a task of its own, one byte goes each way, both close (the client with linger zero, so
// no TIME_WAIT piles up over millions of connections). One operation = one connection: socket, connect, accept,
// registration, a spawn, two reads, two writes, two closes. Bcl: `Socket.ConnectAsync`/`AcceptAsync` on the
// .NET thread pool; Kyoto: `TcpStream.ConnectAsync` and `TcpAcceptor.AcceptAsync` on the runtime's own reactor.
using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Benchmarks;

public class TcpConnectBenchmarks : LoopbackRoundTrips
{
    private static readonly LingerOption ResetAtClose = new(true, 0);
    private readonly byte[] _bclByte = new byte[1];
    private EndPoint _bclServer = null!;

    protected override Func<Task> SetUpPeers()
    {
        Socket listener = Own(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1024);
        _bclServer = listener.LocalEndPoint!;
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    Socket accepted = await listener.AcceptAsync();
                    _ = BclServeAsync(accepted);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // cleanup closed the listener
            }
        });

        TcpAcceptor acceptor = Own(Runtime.BlockOn(() => Task.FromResult(TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0)))));
        IPEndPoint kyotoServer = acceptor.LocalEndPoint;
        Runtime.Spawn(async () =>
        {
            try
            {
                while (true)
                {
                    TcpStream accepted = await acceptor.AcceptAsync();
                    _ = KyotoTask.Spawn(() => KyotoServeAsync(accepted));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // cleanup closed the acceptor
            }
        });

        var one = new byte[1];
        return async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                using TcpStream client = await TcpStream.ConnectAsync(kyotoServer);
                await client.WriteAllAsync(one);
                if (await client.ReadAsync(one) != 1)
                {
                    throw new InvalidOperationException("the server closed the connection without answering");
                }

                client.Linger = TimeSpan.Zero;
            }

            RoundsDone();
        };
    }

    private static async Task BclServeAsync(Socket accepted)
    {
        using (accepted)
        {
            var one = new byte[1];
            if (await accepted.ReceiveAsync(one.AsMemory(), SocketFlags.None) == 1)
            {
                await accepted.SendAsync(one.AsMemory(), SocketFlags.None);
            }
        }
    }

    private static async Task KyotoServeAsync(TcpStream accepted)
    {
        using (accepted)
        {
            var one = new byte[1];
            if (await accepted.ReadAsync(one) == 1)
            {
                await accepted.WriteAllAsync(one);
            }
        }
    }

    protected override async Task BclRounds()
    {
        for (int i = 0; i < Rounds; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(_bclServer);
            await client.SendAsync(_bclByte.AsMemory(), SocketFlags.None);
            if (await client.ReceiveAsync(_bclByte.AsMemory(), SocketFlags.None) != 1)
            {
                throw new InvalidOperationException("the server closed the connection without answering");
            }

            client.LingerState = ResetAtClose;
        }
    }
}
