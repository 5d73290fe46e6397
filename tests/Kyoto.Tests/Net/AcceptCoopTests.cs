using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>Accepting spends the coop budget, as a read does, so a flood of pending connections cannot starve other tasks.</summary>
public sealed class AcceptCoopTests
{
    [Fact]
    public void Accept_OfConnectionsAlreadyPending_SpendsTheCoopBudget()
    {
        // 300 connections wait in the backlog before the acceptor starts, so every accept completes at once. A task
        // spawned first must still run before the acceptor is done. On the current-thread runtime it can run only
        // when the acceptor yields, which makes this deterministic (on a multi-thread one another worker would run
        // it in parallel, and 300 accepts can finish before that worker wakes).
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
}
