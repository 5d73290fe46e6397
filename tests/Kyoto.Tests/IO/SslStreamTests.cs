using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kyoto.IO;
using Kyoto.Net;
using Kyoto.Tasks;
using static Kyoto.Tests.IO.AdapterTestSupport;

namespace Kyoto.Tests.IO;

/// <summary>TLS over Kyoto sockets: SslStream over KyotoStream, and Kyoto pipes over SslStream.</summary>
public abstract class SslStreamTests : RuntimeTestBase
{
    public sealed class MultiThread : SslStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SslStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly Lazy<X509Certificate2> ServerCertificate = new(CreateCertificate);

    /// <summary>A self-signed ECDSA certificate for "localhost", re-imported so its private key is usable on Linux.</summary>
    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using X509Certificate2 ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Handshakes client and server SslStreams over <paramref name="clientTransport"/> and <paramref name="serverTransport"/>.</summary>
    private static async Task<(SslStream Client, SslStream Server)> HandshakeAsync(Stream clientTransport, Stream serverTransport)
    {
        X509Certificate2 cert = ServerCertificate.Value;
        string expected = cert.GetCertHashString();
        var server = new SslStream(serverTransport, leaveInnerStreamOpen: false);
        var client = new SslStream(clientTransport, leaveInnerStreamOpen: false, userCertificateValidationCallback: (_, c, _, _) => c!.GetCertHashString() == expected);
        JoinHandle serverSide = KyotoTask.Spawn(() => server.AuthenticateAsServerAsync(cert));
        await client.AuthenticateAsClientAsync("localhost");
        await serverSide;
        Assert.True(client.IsAuthenticated && client.IsEncrypted);
        Assert.True(server.IsAuthenticated);
        Assert.NotEqual(SslProtocols.None, client.SslProtocol);
        return (client, server);
    }

    /// <summary>Writes <paramref name="data"/> in uneven chunks, then sends close_notify.</summary>
    [Fact]
    public void SslStream_OverKyotoTcp_OneMegabyteEachWayAtOnce()
    {
        const int Size = 1 << 20;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream clientTcp, TcpStream serverTcp) = await ConnectPairAsync();
            (SslStream client, SslStream server) = await HandshakeAsync(clientTcp.AsStream(), serverTcp.AsStream());
            await using (client)
            await using (server)
            {
                byte[] up = RandomBytes(Size, 10);
                byte[] down = RandomBytes(Size, 11);
                // Both directions at once: each SslStream reads in one task while another task writes to it.
                JoinHandle clientSends = KyotoTask.Spawn(() => SendAllAsync(client, up));
                JoinHandle serverSends = KyotoTask.Spawn(() => SendAllAsync(server, down));
                JoinHandle<byte[]> serverReceives = KyotoTask.Spawn(() => ReadExactlyAsync(server, Size, 16_384));
                byte[] clientReceived = await ReadExactlyAsync(client, Size, 5000);
                byte[] serverReceived = await serverReceives;
                await clientSends;
                await serverSends;
                Assert.Equal(Checksum(down), Checksum(clientReceived));
                Assert.Equal(Checksum(up), Checksum(serverReceived));

                // Then close_notify each way, once no read is in flight: .NET's SslStream on OpenSSL is not safe
                // for ShutdownAsync while another task reads the same stream (in a loop of this test, 1 run in
                // 10-30 failed with "Decrypt failed with OpenSSL error - SSL_ERROR_SYSCALL" or lost the tail of
                // the data, before and after this session's socket changes alike).
                var one = new byte[1];
                await client.ShutdownAsync();
                Assert.Equal(0, await server.ReadAsync(one));
                await server.ShutdownAsync();
                Assert.Equal(0, await client.ReadAsync(one));
            }
        });
    }

    /// <summary>Writes <paramref name="data"/> in chunks of varying sizes (1 byte to 64 KiB).</summary>
    private static async Task SendAllAsync(SslStream ssl, byte[] data)
    {
        int offset = 0;
        int chunk = 1;
        while (offset < data.Length)
        {
            int n = Math.Min(chunk, data.Length - offset);
            await ssl.WriteAsync(data.AsMemory(offset, n));
            offset += n;
            chunk = (chunk * 7 % 65_521) + 1;
        }
    }

    /// <summary>Reads exactly <paramref name="size"/> bytes, at most <paramref name="chunk"/> per read.</summary>
    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int size, int chunk)
    {
        var all = new byte[size];
        int got = 0;
        while (got < size)
        {
            int n = await stream.ReadAsync(all.AsMemory(got, Math.Min(chunk, size - got)));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            got += n;
        }

        return all;
    }

    [Fact]
    public void SslStream_WrongCertificate_ClientRejectsTheHandshake()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            (TcpStream clientTcp, TcpStream serverTcp) = await ConnectPairAsync();
            await using var server = new SslStream(serverTcp.AsStream());
            await using var client = new SslStream(clientTcp.AsStream(), false, (_, _, _, _) => false);
            JoinHandle serverSide = KyotoTask.Spawn(async () =>
            {
                try
                {
                    await server.AuthenticateAsServerAsync(ServerCertificate.Value);
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    // the client hung up mid-handshake
                }
            });
            await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsClientAsync("localhost"));
            client.Dispose(); // closes the Kyoto socket, so the server's handshake ends
            await serverSide;
        });
    }

    [Fact]
    public void KyotoPipes_OverSslStream_LineProtocolWithCloseNotifyAsEndOfStream()
    {
        using var rt = NewRuntime();
        string replies = rt.BlockOnBounded(async () =>
        {
            (TcpStream clientTcp, TcpStream serverTcp) = await ConnectPairAsync();
            (SslStream client, SslStream server) = await HandshakeAsync(clientTcp.AsStream(), serverTcp.AsStream());
            // Server: SslStream -> Kyoto IAsyncDuplex -> PipeReader/PipeWriter.
            JoinHandle<int> serving = KyotoTask.Spawn(() => PipeAdapterTests.ServeLinesAsync(server.AsAsyncDuplex().AsDuplexPipe()));
            // Client: also through pipes, over the BCL -> Kyoto adapter.
            await using KyotoDuplexPipe pipe = client.AsAsyncDuplex().AsDuplexPipe();
            await pipe.Output.WriteAsync(Encoding.ASCII.GetBytes("one\ntw"));
            await pipe.Output.WriteAsync(Encoding.ASCII.GetBytes("o\nthree"));
            await pipe.Output.CompleteAsync(); // close_notify: the server's pipe reads end of stream
            var all = new StringBuilder();
            while (true)
            {
                ReadResult r = await pipe.Input.ReadAsync();
                all.Append(Encoding.ASCII.GetString(r.Buffer));
                pipe.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }

            Assert.Equal(2, await serving);
            return all.ToString();
        });
        Assert.Equal("ECHO ONE\nECHO TWO\nBYE 2 three\n", replies);
    }
}
