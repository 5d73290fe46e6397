using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Socket races: reads and writes cancelled at random points while data flows (a cancelled read has read nothing,
/// a cancelled write has written nothing, so the byte stream stays exact), and disposal racing pending calls.
/// </summary>
public class TcpStressTests
{
    private static Runtime NewRuntime(RuntimeFlavor flavor) =>
        flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 }.Build() : RuntimeBuilder.CurrentThread().Build();

    private static async Task<(TcpStream Client, TcpStream Server)> PairAsync()
    {
        using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ValueTask<TcpStream> accept = acceptor.AcceptAsync();
        TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
        return (client, await accept);
    }

    /// <summary>Cancels whatever token the other side currently uses, after a random number of yields.</summary>
    private sealed class Canceller
    {
        private CancellationTokenSource _current = new();

        public CancellationToken Token => Volatile.Read(ref _current).Token;

        public void Renew()
        {
            CancellationTokenSource cts = Volatile.Read(ref _current);
            if (cts.IsCancellationRequested)
            {
                Volatile.Write(ref _current, new CancellationTokenSource());
            }
        }

        public async Task RunAsync(Random rng, Func<bool> done)
        {
            while (!done())
            {
                int yields = rng.Next(0, 20);
                for (int i = 0; i < yields; i++)
                {
                    await KyotoTask.Yield();
                }

                Volatile.Read(ref _current).Cancel();
            }
        }
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void RandomlyCancelledReadsAndWrites_KeepTheByteStreamExact(RuntimeFlavor flavor)
    {
        const int Connections = 6;
        const int BytesPerConnection = 256 << 10;
        using Runtime rt = NewRuntime(flavor);
        string? failure = rt.BlockOnBounded(async () =>
        {
            var results = new JoinHandle<string?>[Connections];
            for (int c = 0; c < Connections; c++)
            {
                var (client, server) = await PairAsync();
                client.Socket.SendBufferSize = 4096; // small buffers: writes must wait, so cancellation finds them parked
                server.Socket.ReceiveBufferSize = 4096;
                Random writerRng = Seeds.For(1000 + c);
                Random readerRng = Seeds.For(2000 + c);
                Random cancelRng = Seeds.For(3000 + c);
                int id = c;
                results[c] = KyotoTask.Spawn(async () =>
                {
                    var writeCancel = new Canceller();
                    var readCancel = new Canceller();
                    bool finished = false;
                    JoinHandle cancellers = KyotoTask.Spawn(() => Task.WhenAll(
                        writeCancel.RunAsync(cancelRng, () => Volatile.Read(ref finished)),
                        readCancel.RunAsync(new Random(cancelRng.Next()), () => Volatile.Read(ref finished))));

                    JoinHandle writer = KyotoTask.Spawn(async () =>
                    {
                        using (client)
                        {
                            var chunk = new byte[8192];
                            long sent = 0;
                            while (sent < BytesPerConnection)
                            {
                                int size = (int)Math.Min(writerRng.Next(1, chunk.Length), BytesPerConnection - sent);
                                for (int i = 0; i < size; i++)
                                {
                                    chunk[i] = (byte)((sent + i) % 251);
                                }

                                try
                                {
                                    // Only what WriteAsync reports as written counts; a cancelled write wrote nothing.
                                    sent += await client.WriteAsync(chunk.AsMemory(0, size), writeCancel.Token);
                                }
                                catch (OperationCanceledException)
                                {
                                    writeCancel.Renew();
                                }
                            }

                            client.ShutdownWrite();
                        }
                    });

                    string? error = null;
                    using (server)
                    {
                        var buffer = new byte[16384];
                        long received = 0;
                        while (true)
                        {
                            int n;
                            try
                            {
                                int max = readerRng.Next(1, buffer.Length);
                                n = readerRng.Next(8) == 0 && server.TryRead(buffer.AsSpan(0, max), out int now)
                                    ? now
                                    : await server.ReadAsync(buffer.AsMemory(0, max), readCancel.Token);
                            }
                            catch (OperationCanceledException)
                            {
                                readCancel.Renew();
                                continue;
                            }

                            if (n == 0)
                            {
                                break;
                            }

                            for (int i = 0; i < n; i++)
                            {
                                if (buffer[i] != (byte)((received + i) % 251))
                                {
                                    error ??= $"connection {id}: byte {received + i} is {buffer[i]}, expected {(received + i) % 251}";
                                }
                            }

                            received += n;
                        }

                        if (received != BytesPerConnection)
                        {
                            error ??= $"connection {id}: received {received} of {BytesPerConnection} bytes";
                        }
                    }

                    await writer;
                    Volatile.Write(ref finished, true);
                    await cancellers;
                    return error;
                });
            }

            string? first = null;
            foreach (JoinHandle<string?> r in results)
            {
                first ??= await r;
            }

            return first;
        }, TimeSpan.FromMinutes(2));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void DisposeRacingPendingCalls_FailsThemCleanly(RuntimeFlavor flavor)
    {
        const int Rounds = 1_000;
        using Runtime rt = NewRuntime(flavor);
        (int disposedErrors, int other) = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(4000);
            int odes = 0, unexpected = 0;
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            for (int i = 0; i < Rounds; i++)
            {
                ValueTask<TcpStream> accept = acceptor.AcceptAsync();
                using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                TcpStream server = await accept;
                JoinHandle<int> reader = KyotoTask.Spawn(async () => await server.ReadAsync(new byte[64]));
                int yields = rng.Next(0, 4);
                for (int y = 0; y < yields; y++)
                {
                    await KyotoTask.Yield();
                }

                if (rng.Next(2) == 0)
                {
                    await client.WriteAllAsync(new byte[8]);
                }

                server.Dispose();
                try
                {
                    int n = await reader;
                    if (n != 8)
                    {
                        unexpected++;
                    }
                }
                catch (JoinException e) when (e.InnerException is ObjectDisposedException)
                {
                    odes++;
                }
                catch (JoinException e) when (e.InnerException is SocketException)
                {
                    odes++;
                }
            }

            return (odes, unexpected);
        }, TimeSpan.FromMinutes(2));
        Assert.True(other == 0, $"{other} reads returned something other than the 8 bytes sent {Seeds.Describe}");
        Assert.InRange(disposedErrors, 0, Rounds);
    }
    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void ReadersAbortedAtRandom_AllEnd(RuntimeFlavor flavor)
    {
        // A reader aborted at a random point: parked on an idle socket, mid-way through a read whose start was
        // deferred for lack of coop budget, or while bytes arrive (the retry of an event queued, not yet armed).
        // Every one must end as cancelled or with what it read: an abort that was lost would leave it parked on
        // the socket, and the bounded wait would fail.
        const int Rounds = 600;
        using Runtime rt = NewRuntime(flavor);
        (int cancelled, int finished) = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(5000);
            int aborted = 0, completed = 0;
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            for (int i = 0; i < Rounds; i++)
            {
                ValueTask<TcpStream> accept = acceptor.AcceptAsync();
                using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                using TcpStream server = await accept;
                bool spendBudget = rng.Next(2) == 0;
                int reads = rng.Next(1, 4);
                JoinHandle reader = KyotoTask.Spawn(async () =>
                {
                    var buffer = new byte[16];
                    for (int r = 0; r < reads; r++)
                    {
                        while (spendBudget && KyotoTask.HasBudgetRemaining)
                        {
                            await KyotoTask.ConsumeBudget();
                        }

                        if (await server.ReadAsync(buffer) == 0)
                        {
                            return;
                        }
                    }
                });

                int yields = rng.Next(0, 6);
                for (int y = 0; y < yields; y++)
                {
                    await KyotoTask.Yield();
                }

                if (rng.Next(3) == 0)
                {
                    await client.WriteAllAsync(new byte[rng.Next(1, 16)]);
                }

                reader.Abort();
                try
                {
                    await reader;
                    completed++;
                }
                catch (JoinException e) when (e.IsCancelled)
                {
                    aborted++;
                }
            }

            return (aborted, completed);
        }, TimeSpan.FromMinutes(2));
        Assert.Equal(Rounds, cancelled + finished);
        Assert.True(cancelled > 0, $"no reader was still running when aborted {Seeds.Describe}");
    }
}
