using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>
/// Warm socket reads and writes (and datagram sends and receives with an address) allocate nothing, whether they
/// complete at once or wait for the reactor
/// (DESIGN.md: zero bytes per socket read/write on the hot path). Measured on a current-thread runtime, whose
/// one thread runs both tasks and turns the reactor, so its allocation counter sees the whole workload.
/// </summary>
public sealed class SocketAllocationTests
{
    private const int Warmup = 2_000;
    private const int Rounds = 20_000;
    private const long Budget = 16 * 1024; // far below one allocation per round (20,000 x 24 B = 480,000 B)

    [Fact]
    public void TcpRoundTrips_WithWaitsOnBothSides_AllocateNothing()
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream server = await accept;
            client.NoDelay = server.NoDelay = true;
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                var buffer = new byte[256];
                int n;
                while ((n = await server.ReadAsync(buffer)) > 0)
                {
                    await server.WriteAllAsync(buffer.AsMemory(0, n));
                }
            });
            var output = new byte[64];
            var input = new byte[64];

            async Task RoundTrips(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    await client.WriteAllAsync(output);
                    int got = 0;
                    while (got < input.Length)
                    {
                        int n = await client.ReadAsync(input.AsMemory(got));
                        if (n == 0)
                        {
                            throw new InvalidOperationException("the echo task closed the connection");
                        }

                        got += n;
                    }
                }
            }

            long used = await AllocatedDuring(RoundTrips);
            client.ShutdownWrite();
            await echo;
            return used;
        });
        Assert.True(bytes < Budget, $"{bytes} bytes allocated over {Rounds} round trips ({(double)bytes / Rounds:F1} B per round trip)");
    }

    [Fact]
    public void UdpRoundTrips_SendToAndReceiveFromWithWaits_AllocateNothing()
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            var loopback = new IPEndPoint(IPAddress.Loopback, 0);
            using var client = UdpSocket.Bind(loopback);
            using var server = UdpSocket.Bind(loopback);
            IPEndPoint serverAddress = server.LocalEndPoint;
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                var buffer = new byte[256];
                while (true)
                {
                    UdpReceiveFromResult got = await server.ReceiveFromAsync(buffer);
                    if (got.Count == 0)
                    {
                        return; // the client's empty datagram: done
                    }

                    await server.SendToAsync(buffer.AsMemory(0, got.Count), got.RemoteEndPoint);
                }
            });
            var output = new byte[64];
            var input = new byte[64];

            async Task RoundTrips(int count)
            {
                for (int i = 0; i < count; i++)
                {
                    await client.SendToAsync(output, serverAddress);
                    UdpReceiveFromResult got = await client.ReceiveFromAsync(input);
                    if (got.Count != input.Length)
                    {
                        throw new InvalidOperationException($"a datagram of {got.Count} bytes came back"); // (Assert.Equal allocates)
                    }
                }
            }

            long used = await AllocatedDuring(RoundTrips);
            await client.SendToAsync(ReadOnlyMemory<byte>.Empty, serverAddress);
            await echo;
            return used;
        });
        Assert.True(bytes < Budget, $"{bytes} bytes allocated over {Rounds} round trips ({(double)bytes / Rounds:F1} B per round trip)");
    }

    [Fact]
    public void UnixDatagramRoundTrips_SendToAndReceiveFromWithWaits_AllocateNothing()
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kyoto-alloc-");
        try
        {
            string serverPath = Path.Combine(dir.FullName, "server.sock");
            string clientPath = Path.Combine(dir.FullName, "client.sock");
            long bytes = rt.BlockOnBounded(async () =>
            {
                using var server = UnixDatagram.Bind(serverPath);
                using var client = UnixDatagram.Bind(clientPath);
                JoinHandle echo = KyotoTask.Spawn(async () =>
                {
                    var buffer = new byte[256];
                    while (true)
                    {
                        UnixReceiveFromResult got = await server.ReceiveFromAsync(buffer);
                        if (got.Count == 0)
                        {
                            return; // the client's empty datagram: done
                        }

                        await server.SendToAsync(buffer.AsMemory(0, got.Count), got.Path!);
                    }
                });
                var output = new byte[64];
                var input = new byte[64];

                async Task RoundTrips(int count)
                {
                    for (int i = 0; i < count; i++)
                    {
                        await client.SendToAsync(output, serverPath);
                        UnixReceiveFromResult got = await client.ReceiveFromAsync(input);
                        if (got.Count != input.Length || got.Path != serverPath)
                        {
                            throw new InvalidOperationException($"a datagram of {got.Count} bytes came back from {got.Path}"); // (Assert.Equal allocates)
                        }
                    }
                }

                long used = await AllocatedDuring(RoundTrips);
                await client.SendToAsync(ReadOnlyMemory<byte>.Empty, serverPath);
                await echo;
                return used;
            });
            Assert.True(bytes < Budget, $"{bytes} bytes allocated over {Rounds} round trips ({(double)bytes / Rounds:F1} B per round trip)");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The bytes this thread allocates while <paramref name="roundTrips"/> makes <see cref="Rounds"/> round trips, after <see cref="Warmup"/> of them.</summary>
    private static async Task<long> AllocatedDuring(Func<int, Task> roundTrips)
    {
        await roundTrips(Warmup);
        long before = GC.GetAllocatedBytesForCurrentThread();
        await roundTrips(Rounds);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
