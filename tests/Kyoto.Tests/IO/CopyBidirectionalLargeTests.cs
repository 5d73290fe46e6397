using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Tasks;
using Xunit.Abstractions;

namespace Kyoto.Tests.IO;

/// <summary>
/// 1 GiB through a TCP proxy built on CopyBidirectionalAsync (client → proxy → checksum sink server), multi-thread
/// flavour only: the server's checksum and count of what it received must equal the client's of what it sent.
/// </summary>
public sealed class CopyBidirectionalLargeTests(ITestOutputHelper output) : RuntimeTestBase
{
    private const long Total = 1L << 30;
    private const int Chunk = 1 << 20;

    protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

    [Fact]
    public void CopyBidirectional_OneGibibyteThroughALoopbackProxy_ArrivesIntact()
    {
        using var rt = NewRuntime();
        var stopwatch = Stopwatch.StartNew();
        (ulong sent, CopyResult copied, long receivedLength, ulong received) = rt.BlockOnBounded(async () =>
        {
            using var serverAcceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            using var proxyAcceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            JoinHandle server = KyotoTask.Spawn(async () =>
            {
                using TcpStream conn = await serverAcceptor.AcceptAsync();
                var checksum = new StreamChecksum();
                var buffer = new byte[64 * 1024];
                int n;
                while ((n = await conn.ReadAsync(buffer)) > 0)
                {
                    checksum.Append(buffer.AsSpan(0, n));
                }

                var summary = new byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(summary, checksum.Length);
                BinaryPrimitives.WriteUInt64LittleEndian(summary.AsSpan(8), checksum.Value);
                await conn.WriteAllAsync(summary);
                await conn.ShutdownAsync();
            });
            JoinHandle<CopyResult> proxy = KyotoTask.Spawn(async () =>
            {
                using TcpStream inbound = await proxyAcceptor.AcceptAsync();
                using TcpStream outbound = await TcpStream.ConnectAsync(serverAcceptor.LocalEndPoint);
                return await AsyncCopy.CopyBidirectionalAsync(inbound, outbound);
            });

            using TcpStream client = await TcpStream.ConnectAsync(proxyAcceptor.LocalEndPoint);
            byte[] block = TestData.Random(Chunk, 50);
            var checksum = new StreamChecksum();
            for (long i = 0; i < Total / Chunk; i++)
            {
                // Stamp each chunk with its index, so a lost, repeated or reordered chunk changes the checksum.
                BinaryPrimitives.WriteInt64LittleEndian(block, i);
                checksum.Append(block);
                await client.WriteAllAsync(block);
            }

            await client.ShutdownAsync();
            byte[] reply = await client.ReadToEndAsync();
            Assert.Equal(16, reply.Length);
            await server;
            return (checksum.Value, await proxy, BinaryPrimitives.ReadInt64LittleEndian(reply), BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));
        }, TimeSpan.FromSeconds(120));

        output.WriteLine($"1 GiB through the proxy in {stopwatch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(Total, receivedLength);
        Assert.Equal(sent, received);
        Assert.Equal(new CopyResult(Total, 16), copied);
    }
}
