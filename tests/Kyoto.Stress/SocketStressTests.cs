using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Kyoto.Net sockets under churn: reads cancelled at random must lose no byte (cancel safety), and many UDP and
/// Unix datagram pairs ping-ponging at once must lose no wake-up.
/// </summary>
public abstract class SocketStressTests : RuntimeTestBase
{
    public sealed class MultiThread : SocketStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : SocketStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : SocketStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void UnixStream_ReadsCancelledAtRandom_LoseNoByte()
    {
        const int Size = 4 << 20;
        using var rt = NewRuntime();
        (long received, int cancelled) = rt.BlockOnBounded(async () =>
        {
            var (a, b) = UnixStream.CreatePair();
            using (a)
            using (b)
            {
                JoinHandle writer = KyotoTask.Spawn(async () =>
                {
                    Random rng = Seeds.For(1);
                    var chunk = new byte[65_536];
                    int sent = 0;
                    while (sent < Size)
                    {
                        int n = Math.Min(rng.Next(1, chunk.Length), Size - sent);
                        for (int i = 0; i < n; i++)
                        {
                            chunk[i] = (byte)(sent + i);
                        }

                        await a.WriteAllAsync(chunk.AsMemory(0, n));
                        sent += n;
                        if (rng.Next(8) == 0)
                        {
                            await KyotoTask.Yield();
                        }
                    }

                    a.ShutdownWrite();
                });

                Random rng = Seeds.For(2);
                var buffer = new byte[65_536];
                long total = 0;
                int cancels = 0;
                while (true)
                {
                    using var cts = new CancellationTokenSource();
                    ValueTask<int> read = b.ReadAsync(buffer.AsMemory(0, rng.Next(1, buffer.Length)), cts.Token);
                    if (rng.Next(4) == 0)
                    {
                        cts.Cancel();
                    }

                    int n;
                    try
                    {
                        n = await read;
                    }
                    catch (OperationCanceledException)
                    {
                        cancels++;
                        continue;
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    for (int i = 0; i < n; i++)
                    {
                        if (buffer[i] != (byte)(total + i))
                        {
                            throw new InvalidOperationException($"byte {total + i} is wrong {Seeds.Describe}");
                        }
                    }

                    total += n;
                }

                await writer;
                return (total, cancels);
            }
        });
        Assert.Equal(Size, received);
        Assert.True(cancelled >= 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReceiveFromCancelledAtRandom_LosesNoDatagram(bool unix)
    {
        // Each datagram is sent only once the previous one arrived (nothing overflows the socket's buffer), while the
        // receiver's waits are cancelled at random: already, by another task after a few yields, or right after the
        // call. A cancelled receive must have taken nothing, so every datagram arrives once, in order, from the sender.
        // Over UDP, and over Unix datagram sockets with abstract names (the sender's path reported with each).
        const int Datagrams = 3_000;
        using var rt = NewRuntime();
        (int received, int cancelled) = rt.BlockOnBounded(async () =>
        {
            using DatagramEnds ends = unix ? DatagramEnds.Unix() : DatagramEnds.Udp();
            var (ackTx, ackRx) = Kyoto.Sync.Mpsc.CreateUnbounded<int>();
            JoinHandle sending = KyotoTask.Spawn(async () =>
            {
                var datagram = new byte[4];
                for (int i = 0; i < Datagrams; i++)
                {
                    BitConverter.TryWriteBytes(datagram, i);
                    await ends.SendAsync(datagram);
                    if (await ackRx.RecvAsync() != i)
                    {
                        throw new InvalidOperationException($"acknowledged out of order {Seeds.Describe}");
                    }
                }
            });

            Random rng = Seeds.For(unix ? 4 : 3);
            var buffer = new byte[16];
            int count = 0;
            int cancels = 0;
            while (count < Datagrams)
            {
                var (cts, canceller) = RandomCancellation.Next(rng, 8, 3);
                using (cts)
                {
                    ValueTask<(int Count, bool FromSender)> receive = ends.ReceiveFromAsync(buffer, cts?.Token ?? default);
                    if (cts is not null && canceller is null && !cts.IsCancellationRequested && rng.Next(2) == 0)
                    {
                        cts.Cancel();
                    }

                    (int Count, bool FromSender) got;
                    try
                    {
                        got = await receive;
                    }
                    catch (OperationCanceledException)
                    {
                        cancels++;
                        continue;
                    }
                    finally
                    {
                        if (canceller is { } c)
                        {
                            await c;
                        }
                    }

                    if (got.Count != 4 || BitConverter.ToInt32(buffer, 0) != count || !got.FromSender)
                    {
                        throw new InvalidOperationException($"datagram {count}: got {got.Count} bytes, number {BitConverter.ToInt32(buffer, 0)}, from the sender: {got.FromSender} {Seeds.Describe}");
                    }

                    ackTx.TrySend(count);
                    count++;
                }
            }

            await sending;
            return (count, cancels);
        });
        Assert.Equal(Datagrams, received);
        Assert.True(cancelled > 0, "no receive was cancelled: the test did not test cancellation");
    }

    /// <summary>A sender and a receiver of one datagram socket type, and whether a receive came from that sender.</summary>
    private sealed class DatagramEnds(
        IDisposable sender,
        IDisposable receiver,
        Func<ReadOnlyMemory<byte>, ValueTask<int>> send,
        Func<Memory<byte>, CancellationToken, ValueTask<(int, bool)>> receiveFrom) : IDisposable
    {
        internal static DatagramEnds Udp()
        {
            var loopback = new IPEndPoint(IPAddress.Loopback, 0);
            var sender = UdpSocket.Bind(loopback);
            var receiver = UdpSocket.Bind(loopback);
            return new DatagramEnds(
                sender,
                receiver,
                m => sender.SendToAsync(m, receiver.LocalEndPoint),
                async (m, ct) =>
                {
                    UdpReceiveFromResult got = await receiver.ReceiveFromAsync(m, ct);
                    return (got.Count, got.RemoteEndPoint.Equals(sender.LocalEndPoint));
                });
        }

        internal static DatagramEnds Unix()
        {
            string name = "\0kyoto-stress-" + Guid.NewGuid().ToString("N");
            var sender = UnixDatagram.Bind(name + "-sender");
            var receiver = UnixDatagram.Bind(name + "-receiver");
            return new DatagramEnds(
                sender,
                receiver,
                m => sender.SendToAsync(m, name + "-receiver"),
                async (m, ct) =>
                {
                    UnixReceiveFromResult got = await receiver.ReceiveFromAsync(m, ct);
                    return (got.Count, got.Path == name + "-sender");
                });
        }

        internal ValueTask<int> SendAsync(ReadOnlyMemory<byte> datagram) => send(datagram);

        internal ValueTask<(int Count, bool FromSender)> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
            receiveFrom(buffer, cancellationToken);

        public void Dispose()
        {
            sender.Dispose();
            receiver.Dispose();
        }
    }

    [Fact]
    public void ManyDatagramPairs_PingPongAtOnce_EveryBallComesBack()
    {
        const int Pairs = 64;
        const int Rounds = 300;
        using var rt = NewRuntime();
        int done = rt.BlockOnBounded(async () =>
        {
            var games = new List<JoinHandle<int>>();
            for (int p = 0; p < Pairs; p++)
            {
                bool udp = p % 2 == 0;
                games.Add(KyotoTask.Spawn(async () => udp ? await UdpGame(Rounds) : await UnixGame(Rounds)));
            }

            int finished = 0;
            foreach (JoinHandle<int> game in games)
            {
                finished += await game == Rounds ? 1 : 0;
            }

            return finished;
        });
        Assert.Equal(Pairs, done);
    }

    private static async Task<int> UdpGame(int rounds)
    {
        using var a = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var b = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        a.Connect(b.LocalEndPoint);
        b.Connect(a.LocalEndPoint);
        return await PingPong(rounds, m => a.SendAsync(m), m => a.ReceiveAsync(m), m => b.SendAsync(m), m => b.ReceiveAsync(m));
    }

    private static async Task<int> UnixGame(int rounds)
    {
        var (a, b) = UnixDatagram.CreatePair();
        using (a)
        using (b)
        {
            return await PingPong(rounds, m => a.SendAsync(m), m => a.ReceiveAsync(m), m => b.SendAsync(m), m => b.ReceiveAsync(m));
        }
    }

    // One side sends each round's number and waits for its echo; the other echoes: the count of exact echoes.
    private static async Task<int> PingPong(
        int rounds,
        Func<ReadOnlyMemory<byte>, ValueTask<int>> sendA,
        Func<Memory<byte>, ValueTask<int>> receiveA,
        Func<ReadOnlyMemory<byte>, ValueTask<int>> sendB,
        Func<Memory<byte>, ValueTask<int>> receiveB)
    {
        JoinHandle echo = KyotoTask.Spawn(async () =>
        {
            var buffer = new byte[4];
            for (int i = 0; i < rounds; i++)
            {
                int n = await receiveB(buffer);
                await sendB(buffer.AsMemory(0, n));
            }
        });
        var back = new byte[4];
        int ok = 0;
        for (int i = 0; i < rounds; i++)
        {
            await sendA(BitConverter.GetBytes(i));
            await receiveA(back);
            ok += BitConverter.ToInt32(back) == i ? 1 : 0;
        }

        await echo;
        return ok;
    }
}
