// Loopback UDP round trips between two bound sockets: the client sends a 64-byte datagram to the server, the
// server task sends it back to its sender, the client receives it, ROUNDS times per invocation. One operation =
// one round trip (two datagrams with addresses sent, two received, each receive waiting for its datagram). Bcl:
// `Socket.SendToAsync`/`ReceiveFromAsync` with a reused SocketAddress on the .NET thread pool; Kyoto: `UdpSocket`
// on the runtime's own reactor.
using System.Net;
using System.Net.Sockets;
using Kyoto.Net;

namespace Kyoto.Benchmarks;

public class UdpRoundTripBenchmarks : LoopbackRoundTrips
{
    private readonly byte[] _bclOut = new byte[Size];
    private readonly byte[] _bclIn = new byte[Size];
    private Socket _bclClient = null!;
    private SocketAddress _bclServerAddress = null!;
    private SocketAddress _bclFrom = null!;

    protected override Func<Task> SetUpPeers()
    {
        var loopback = new IPEndPoint(IPAddress.Loopback, 0);
        _bclClient = Own(new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        _bclClient.Bind(loopback);
        Socket bclServer = Own(new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        bclServer.Bind(loopback);
        _bclServerAddress = bclServer.LocalEndPoint!.Serialize();
        _bclFrom = new SocketAddress(AddressFamily.InterNetwork);

        _ = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            var from = new SocketAddress(AddressFamily.InterNetwork);
            try
            {
                while (true)
                {
                    int n = await bclServer.ReceiveFromAsync(buffer.AsMemory(), SocketFlags.None, from);
                    await bclServer.SendToAsync(buffer.AsMemory(0, n), SocketFlags.None, from);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // cleanup closed the socket
            }
        });

        (UdpSocket kyotoClient, UdpSocket kyotoServer) =
            Runtime.BlockOn(() => Task.FromResult((Own(UdpSocket.Bind(loopback)), Own(UdpSocket.Bind(loopback)))));
        Runtime.Spawn(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    UdpReceiveFromResult got = await kyotoServer.ReceiveFromAsync(buffer);
                    await kyotoServer.SendToAsync(buffer.AsMemory(0, got.Count), got.RemoteEndPoint);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // cleanup closed the socket
            }
        });

        IPEndPoint server = kyotoServer.LocalEndPoint;
        var output = new byte[Size];
        var input = new byte[Size];
        return async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                await kyotoClient.SendToAsync(output, server);
                UdpReceiveFromResult got = await kyotoClient.ReceiveFromAsync(input);
                if (got.Count != Size)
                {
                    throw new InvalidOperationException($"a datagram of {got.Count} bytes came back");
                }
            }

            RoundsDone();
        };
    }

    protected override async Task BclRounds()
    {
        for (int i = 0; i < Rounds; i++)
        {
            await _bclClient.SendToAsync(_bclOut.AsMemory(), SocketFlags.None, _bclServerAddress);
            int n = await _bclClient.ReceiveFromAsync(_bclIn.AsMemory(), SocketFlags.None, _bclFrom);
            if (n != Size)
            {
                throw new InvalidOperationException($"a datagram of {n} bytes came back");
            }
        }
    }
}
