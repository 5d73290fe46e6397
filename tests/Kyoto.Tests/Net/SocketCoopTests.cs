using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>
/// Socket calls that complete at once spend the coop budget, so a hot connection (or a flood of pending
/// connections) cannot starve other tasks. Both tests run on the current-thread runtime: there another task can
/// run only when the busy one yields, so the check is deterministic (on a multi-thread runtime another worker
/// would run it in parallel, whenever that worker happens to wake).
/// </summary>
public sealed class SocketCoopTests
{
    [Fact]
    public void Accept_OfConnectionsAlreadyPending_SpendsTheCoopBudget()
    {
        // 300 connections wait in the backlog before the acceptor starts, so every accept completes at once. A task
        // spawned first must still run before the acceptor is done.
        const int Connections = 300;
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        (int acceptedBeforeOtherRan, int total) = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var clients = new List<TcpStream>();
            for (int i = 0; i < Connections; i++)
            {
                clients.Add(await TcpStream.ConnectAsync(acceptor.LocalEndPoint)); // the kernel completes it: backlog 1024
            }

            int progress = 0;
            int seen = -1;
            JoinHandle other = KyotoTask.Spawn(() =>
            {
                seen = Volatile.Read(ref progress);
                return Task.CompletedTask;
            });
            while (progress < Connections)
            {
                using TcpStream accepted = await acceptor.AcceptAsync();
                progress++;
            }

            await other;
            foreach (TcpStream client in clients)
            {
                client.Dispose();
            }

            return (seen, progress);
        });
        Assert.Equal(Connections, total);
        Assert.InRange(acceptedBeforeOtherRan, 0, Connections - 1);
    }

    [Fact]
    public void Read_OfDataAlwaysReady_SpendsTheCoopBudget()
    {
        // 64 KiB sit in the socket before the reader starts, and it reads them a byte at a time: every read completes
        // at once. Another task spawned first must still run before the reader is done.
        const int Size = 64 * 1024;
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        (int readBeforeOtherRan, int total) = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream server = await accept;
            await client.WriteAllAsync(new byte[Size]);
            int progress = 0;
            int seen = -1;
            JoinHandle other = KyotoTask.Spawn(() =>
            {
                seen = Volatile.Read(ref progress);
                return Task.CompletedTask;
            });
            var one = new byte[1];
            while (progress < Size)
            {
                int n = await server.ReadAsync(one);
                Assert.Equal(1, n);
                progress++;
            }

            await other;
            return (seen, progress);
        });
        Assert.Equal(Size, total);
        Assert.InRange(readBeforeOtherRan, 0, Size - 1);
    }
    [Fact]
    public void Abort_OfAReadStartedWithoutBudget_EndsTheTaskAndTakesNoData()
    {
        // A read that starts with the budget spent is queued at the back of the run queue, not yet armed on the
        // socket, so an abort that comes then has no wait to disarm. The abort used to be lost there: the queued
        // start armed the read anyway, and the aborted task stayed parked on the idle socket until data came.
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        (bool deferred, bool cancelled, int echoed) = rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            ValueTask<TcpStream> accept = acceptor.AcceptAsync();
            using TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
            using TcpStream server = await accept;
            bool readDeferred = false;
            JoinHandle self = default;
            JoinHandle reader = KyotoTask.Spawn(async () =>
            {
                while (KyotoTask.HasBudgetRemaining)
                {
                    await KyotoTask.ConsumeBudget();
                }

                ValueTask<int> read = server.ReadAsync(new byte[8]);
                readDeferred = !read.IsCompleted;
                self.Abort();
                await read;
            });
            self = reader; // set before the reader runs: on this runtime it starts when this task awaits
            bool wasCancelled = false;
            try
            {
                await reader;
            }
            catch (JoinException e) when (e.IsCancelled)
            {
                wasCancelled = true;
            }

            // The aborted read took nothing: the next byte reaches the next read.
            await client.WriteAllAsync(new byte[] { 42 });
            var one = new byte[1];
            int n = await server.ReadAsync(one);
            return (readDeferred, wasCancelled, n == 1 ? one[0] : -1);
        });
        Assert.True(deferred, "the read should have been deferred for lack of budget");
        Assert.True(cancelled);
        Assert.Equal(42, echoed);
    }
}
