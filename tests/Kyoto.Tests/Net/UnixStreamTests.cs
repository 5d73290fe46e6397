using System.Net.Sockets;
using Kyoto.Native;
using Kyoto.Net;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>Unix domain stream sockets on the runtime's reactor: listener, connect, pair, half close, credentials, failures.</summary>
public abstract class UnixStreamTests : RuntimeTestBase, IDisposable
{
    public sealed class MultiThread : UnixStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : UnixStreamTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kyoto-unix-");

    private string SocketPath(string name = "s.sock") => Path.Combine(_dir.FullName, name);

    public void Dispose()
    {
        _dir.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }

    private static IoReactor Reactor => RuntimeHandle.Current.Scheduler.Time.Reactor!;

    private static async Task<byte[]> ReadExactly(UnixStream stream, int count)
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
    public void ListenerAndConnect_RoundTrip_EchoesAndReportsPaths()
    {
        using var rt = NewRuntime();
        string path = SocketPath();
        rt.BlockOnBounded(async () =>
        {
            using var listener = UnixListener.Bind(path);
            Assert.Equal(path, listener.LocalPath);
            JoinHandle server = KyotoTask.Spawn(async () =>
            {
                using UnixStream s = await listener.AcceptAsync();
                Assert.Equal(path, s.LocalPath);
                Assert.Null(s.RemotePath); // the client is unnamed
                var buffer = new byte[256];
                int n;
                while ((n = await s.ReadAsync(buffer)) > 0)
                {
                    await s.WriteAllAsync(buffer.AsMemory(0, n));
                }
            });
            using UnixStream client = await UnixStream.ConnectAsync(path);
            Assert.Equal(path, client.RemotePath);
            Assert.Null(client.LocalPath);
            await client.WriteAllAsync("hello unix"u8.ToArray());
            Assert.Equal("hello unix"u8.ToArray(), await ReadExactly(client, 10));
            client.ShutdownWrite();
            await server;
            Assert.Equal(0, await client.ReadAsync(new byte[1]));
        });
        Assert.False(File.Exists(path), "disposing the listener removes the socket file it created (.NET's Socket does)");
    }

    [Fact]
    public void LargeTransfer_OverAPair_ArrivesIntact()
    {
        const int Size = 4 << 20;
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixStream.CreatePair();
            using (a)
            using (b)
            {
                var data = new byte[Size];
                new Random(3).NextBytes(data);
                JoinHandle writer = KyotoTask.Spawn(async () =>
                {
                    await a.WriteAllAsync(data);
                    await a.ShutdownAsync();
                });
                byte[] got = await ReadExactly(b, Size);
                Assert.Equal(0, await b.ReadAsync(new byte[1]));
                await writer;
                Assert.True(data.AsSpan().SequenceEqual(got));
                Assert.Null(a.LocalPath);
                Assert.Null(b.RemotePath);
            }
        });
    }

    [Fact]
    public void HalfClose_PeerReadsEndOfStreamAndCanStillAnswer()
    {
        using var rt = NewRuntime();
        string answer = rt.BlockOnBounded(async () =>
        {
            var (client, server) = UnixStream.CreatePair();
            using (client)
            using (server)
            {
                JoinHandle serve = KyotoTask.Spawn(async () =>
                {
                    int total = 0;
                    int n;
                    var buffer = new byte[64];
                    while ((n = await server.ReadAsync(buffer)) > 0)
                    {
                        total += n;
                    }

                    Assert.Equal(0, await server.ReadAsync(buffer)); // read after EOF: 0 again
                    await server.WriteAllAsync(System.Text.Encoding.ASCII.GetBytes($"got {total}"));
                    await server.FlushAsync();
                });
                await client.WriteAllAsync(new byte[10]);
                client.ShutdownWrite();
                byte[] reply = await ReadExactly(client, 6);
                await serve;
                return System.Text.Encoding.ASCII.GetString(reply);
            }
        });
        Assert.Equal("got 10", answer);
    }

    [Fact]
    public void PeerCredentials_AreThisProcesssPidUidAndGid()
    {
        using var rt = NewRuntime();
        string path = SocketPath();
        (UnixCredentials pair, UnixCredentials accepted, UnixCredentials connected) = rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixStream.CreatePair();
            using (a)
            using (b)
            {
                using var listener = UnixListener.Bind(path);
                ValueTask<UnixStream> accept = listener.AcceptAsync();
                using UnixStream client = await UnixStream.ConnectAsync(path);
                using UnixStream server = await accept;
                return (a.PeerCredentials, server.PeerCredentials, client.PeerCredentials);
            }
        });
        var me = new UnixCredentials(Environment.ProcessId, Libc.getuid(), Libc.getgid());
        Assert.Equal(me, pair);
        Assert.Equal(me, accepted);
        Assert.Equal(me, connected);
    }

    [Fact]
    public void Write_ToAPeerThatClosed_FailsWithASocketErrorNotASignal()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixStream.CreatePair();
            b.Dispose();
            using (a)
            {
                return await Record.ExceptionAsync(async () => await a.WriteAllAsync(new byte[1024]));
            }
        });
        var partial = Assert.IsType<PartialWriteException>(e);
        Assert.True(partial.SocketError is SocketError.Shutdown or SocketError.ConnectionReset, $"unexpected {partial.SocketError}");
        Assert.Equal(0, partial.BytesWritten);
    }

    [Fact]
    public void Connect_NobodyListening_FailsWithTheSocketError()
    {
        using var rt = NewRuntime();
        string path = SocketPath();
        (SocketError missing, SocketError stale) = rt.BlockOnBounded(async () =>
        {
            var e1 = await Assert.ThrowsAsync<SocketException>(async () => await UnixStream.ConnectAsync(path));
            using var notListening = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            notListening.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path)); // a socket file nobody listens on
            var e2 = await Assert.ThrowsAsync<SocketException>(async () => await UnixStream.ConnectAsync(path));
            return (e1.SocketErrorCode, e2.SocketErrorCode);
        });
        Assert.Equal(SocketError.AddressNotAvailable, missing); // ENOENT
        Assert.Equal(SocketError.ConnectionRefused, stale);
    }

    [Fact]
    public void Bind_PathInUse_FailsWithAddressAlreadyInUse()
    {
        using var rt = NewRuntime();
        string path = SocketPath();
        SocketError error = rt.BlockOnBounded(() =>
        {
            using var first = UnixListener.Bind(path);
            return Task.FromResult(Assert.Throws<SocketException>(() => UnixListener.Bind(path)).SocketErrorCode);
        });
        Assert.Equal(SocketError.AddressAlreadyInUse, error);
    }

    [Fact]
    public void Accept_CancelledThenDisposed_FailsEachWayAndLeaksNoRegistration()
    {
        using var rt = NewRuntime();
        string path = SocketPath();
        (int before, int after) = rt.BlockOnBounded(async () =>
        {
            int registered = Reactor.RegistrationCount;
            var listener = UnixListener.Bind(path);
            using (var cts = new CancellationTokenSource())
            {
                ValueTask<UnixStream> pending = listener.AcceptAsync(cts.Token);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            }

            ValueTask<UnixStream> accept = listener.AcceptAsync();
            listener.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await accept);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await listener.AcceptAsync());
            return (registered, Reactor.RegistrationCount);
        });
        Assert.Equal(before, after);
    }

    [Fact]
    public void Read_TaskAborted_StopsAndDisposeDeregisters()
    {
        using var rt = NewRuntime();
        (bool cancelled, int before, int after) = rt.BlockOnBounded(async () =>
        {
            int registered = Reactor.RegistrationCount;
            var (a, b) = UnixStream.CreatePair();
            bool wasCancelled = await AbortWhileBlocked.RunAsync(b, async s => await s.ReadAsync(new byte[8]));

            a.Dispose();
            return (wasCancelled, registered, Reactor.RegistrationCount);
        });
        Assert.True(cancelled);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Disposed_EveryCallThrowsObjectDisposed()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixStream.CreatePair();
            using (b)
            {
                ValueTask<int> pending = a.ReadAsync(new byte[8]);
                a.Dispose();
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pending);
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await a.ReadAsync(new byte[8]));
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await a.WriteAsync(new byte[8]));
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await a.FlushAsync());
                Assert.Throws<ObjectDisposedException>(a.ShutdownWrite);
                Assert.Throws<ObjectDisposedException>(() => a.PeerCredentials);
                Assert.Equal(0, await b.ReadAsync(new byte[8])); // the peer sees end of stream
            }
        });
    }

    [Fact]
    public void AbstractName_ListenAndConnect()
    {
        using var rt = NewRuntime();
        string name = "\0kyoto-test-" + Guid.NewGuid().ToString("N");
        rt.BlockOnBounded(async () =>
        {
            using var listener = UnixListener.Bind(name);
            ValueTask<UnixStream> accept = listener.AcceptAsync();
            using UnixStream client = await UnixStream.ConnectAsync(name);
            using UnixStream server = await accept;
            Assert.Equal(name, client.RemotePath);
            await client.WriteAllAsync(new byte[] { 1 });
            Assert.Equal(1, await server.ReadAsync(new byte[4]));
        });
    }
}
