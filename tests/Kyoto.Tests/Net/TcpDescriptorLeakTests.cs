using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;
using Kyoto.Tests.Io;

namespace Kyoto.Tests.Net;

/// <summary>
/// Opening and closing 100,000 TCP sockets, and aborting tasks blocked in reads, leaves no descriptor open and no
/// registration in the reactor. Runs alone (the descriptor count is process-wide).
/// </summary>
[Collection(nameof(DescriptorCountCollection))]
public sealed class TcpDescriptorLeakTests
{
    private static int CountOpenDescriptors() => Descriptors.CountOpen();

    private static int Registrations() => Kyoto.Reactor.IoReactor.OfCurrentRuntime().RegistrationCount;

    /// <summary>
    /// One connection made and closed before the baseline is taken: the first use of a socket type loads
    /// assemblies (each a mapped file, so a descriptor), which must not count as a leak.
    /// </summary>
    private static async Task WarmUpAsync()
    {
        using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ValueTask<TcpStream> accept = acceptor.AcceptAsync();
        using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
        using TcpStream server = await accept;
        await client.WriteAllAsync(new byte[1]);
        Assert.Equal(1, await server.ReadAsync(new byte[1]));
        JoinHandle<int> aborted = KyotoTask.Spawn(async () => await server.ReadAsync(new byte[1]));
        aborted.Abort();
        await Assert.ThrowsAsync<JoinException>(async () => await aborted);
    }

    [Fact]
    public void HundredThousandSockets_OpenedAndClosed_LeaveNoDescriptor()
    {
        const int Pairs = 50_000; // a client and an accepted socket each: 100,000 sockets
        using Runtime rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        (int before, int after, int regBefore, int regAfter, int served) = rt.BlockOnBounded(async () =>
        {
            await WarmUpAsync();
            int open = CountOpenDescriptors();
            int registered = Registrations();
            using (var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0)))
            {
                JoinHandle<int> server = KyotoTask.Spawn(async () =>
                {
                    int count = 0;
                    for (int i = 0; i < Pairs; i++)
                    {
                        using TcpStream accepted = await acceptor.AcceptAsync();
                        count++;
                    }

                    return count;
                });
                for (int i = 0; i < Pairs; i++)
                {
                    using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                    client.Linger = TimeSpan.Zero; // reset at close: no TIME_WAIT to exhaust the ephemeral ports
                }

                int accepted = await server;
                return (open, CountOpenDescriptors() - 1, registered, Registrations() - 1, accepted);
            }
        }, TimeSpan.FromMinutes(2));
        Assert.Equal(Pairs, served);
        Descriptors.AssertNoLeak(before, after);
        Assert.Equal(regBefore, regAfter);
    }

    [Fact]
    public void AcceptedStreams_WithAndWithoutASocketMadeOnFirstUse_LeaveNoDescriptor()
    {
        const int Pairs = 2_000;
        using Runtime rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        (int before, int after, int regBefore, int regAfter) = rt.BlockOnBounded(async () =>
        {
            await WarmUpAsync();
            int open = CountOpenDescriptors();
            int registered = Registrations();
            using (var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0)))
            {
                for (int i = 0; i < Pairs; i++)
                {
                    ValueTask<TcpStream> accept = acceptor.AcceptAsync();
                    using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                    client.Linger = TimeSpan.Zero; // reset at close: no TIME_WAIT to exhaust the ephemeral ports
                    using TcpStream accepted = await accept;
                    if (i % 2 == 0)
                    {
                        Assert.Equal(client.LocalEndPoint, accepted.RemoteEndPoint); // makes its Socket
                    }
                }
            }

            return (open, CountOpenDescriptors(), registered, Registrations());
        }, TimeSpan.FromMinutes(1));
        Descriptors.AssertNoLeak(before, after);
        Assert.Equal(regBefore, regAfter);
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void AbortingTasksBlockedInReads_ClosesAndDeregistersTheirSockets(RuntimeFlavor flavor)
    {
        const int Connections = 1_000;
        using Runtime rt = flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 }.Build() : RuntimeBuilder.CurrentThread().Build();
        (int before, int after, int regBefore, int regAfter, int aborted) = rt.BlockOnBounded(async () =>
        {
            await WarmUpAsync();
            int open = CountOpenDescriptors();
            int registered = Registrations();
            int abortedCount = 0;
            using (var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0)))
            {
                var clients = new TcpStream[Connections];
                var readers = new JoinHandle[Connections];
                var blocked = new Kyoto.Sync.AsyncSemaphore(0);
                for (int i = 0; i < Connections; i++)
                {
                    ValueTask<TcpStream> accept = acceptor.AcceptAsync();
                    clients[i] = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
                    TcpStream server = await accept;
                    readers[i] = KyotoTask.Spawn(async () =>
                    {
                        using (server)
                        {
                            ValueTask<int> read = server.ReadAsync(new byte[16]);
                            blocked.AddPermits(1);
                            await read; // nothing is ever sent: only the abort ends this
                        }
                    });
                }

                await blocked.AcquireAsync(Connections);
                foreach (JoinHandle reader in readers)
                {
                    reader.Abort();
                }

                foreach (JoinHandle reader in readers)
                {
                    try
                    {
                        await reader;
                    }
                    catch (JoinException e) when (e.IsCancelled)
                    {
                        abortedCount++;
                    }
                }

                foreach (TcpStream client in clients)
                {
                    client.Dispose();
                }
            }

            return (open, CountOpenDescriptors(), registered, Registrations(), abortedCount);
        }, TimeSpan.FromMinutes(1));
        Assert.Equal(Connections, aborted);
        Descriptors.AssertNoLeak(before, after);
        Assert.Equal(regBefore, regAfter);
    }
}
