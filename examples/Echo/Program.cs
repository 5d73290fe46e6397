// Echo: a TCP echo server on Kyoto's own I/O driver.
//
//   dotnet run -c Release --project examples/Echo [-- --port 7007 --workers 2]
//
// Every connection is a task that reads into a 4 KiB buffer and writes back what it read, until the peer closes.
// Readiness comes from the runtime's epoll set, turned by the worker that parks, so a read resumes on a worker
// without a hop through the .NET thread pool. Ctrl+C (or SIGTERM), received through Kyoto.Signal on the same
// driver, stops accepting, aborts the connections and exits 0. Try it with `nc 127.0.0.1 7007`, or load it with the shared client:
//   tokio-bench echo-client 127.0.0.1:7007 --conns 50 --reqs 2000 --size 64 --runs 10
using System.Net;
using Kyoto;
using Kyoto.Net;
using Kyoto.Signal;
using Kyoto.Tasks;

int port = 7007;
int workers = 2;
for (int i = 0; i < args.Length - 1; i++)
{
    switch (args[i])
    {
        case "--port": port = int.Parse(args[++i]); break;
        case "--workers": workers = int.Parse(args[++i]); break;
    }
}

using var runtime = new RuntimeBuilder { WorkerThreads = workers, ThreadName = "echo-worker" }.Build();

return runtime.BlockOn(async () =>
{
    // Listening before anything else: from here on, Ctrl+C and SIGTERM no longer kill the process, they stop it.
    using SignalReceiver interrupt = Signals.Listen(SignalKind.Interrupt);
    using SignalReceiver terminate = Signals.Listen(SignalKind.Terminate);
    using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, port));
    Console.WriteLine($"echo server listening on {acceptor.LocalEndPoint} (Ctrl+C to stop)");
    JoinHandle server = KyotoTask.Spawn(async () =>
    {
        while (true)
        {
            TcpStream stream = await acceptor.AcceptAsync(KyotoTask.CancellationToken);
            stream.NoDelay = true;

            // Detached, as tokio::spawn: disposing the runtime when Main returns aborts every connection still open.
            // (A JoinSet would own them too, at the cost of a lock and a set update per connection; measured in
            // docs/benchmarks.md, it made the first runs of the shared load client slower.)
            _ = KyotoTask.Spawn(() => ServeAsync(stream));
        }
    });
    JoinHandle onInterrupt = KyotoTask.Spawn(() => StopOnAsync(interrupt, server));
    JoinHandle onTerminate = KyotoTask.Spawn(() => StopOnAsync(terminate, server));
    try
    {
        await server;
    }
    catch (JoinException e) when (e.IsCancelled)
    {
        onInterrupt.Abort();
        onTerminate.Abort();
        Console.WriteLine($"stopped. (garbage collections: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2; {GC.GetTotalAllocatedBytes() / 1024} KiB allocated in all; {System.Runtime.JitInfo.GetCompiledMethodCount()} methods compiled in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms)");
    }

    return 0;
});

// Stops the server at the first delivery of the receiver's signal.
static async Task StopOnAsync(SignalReceiver signal, JoinHandle server)
{
    if (await signal.RecvAsync(KyotoTask.CancellationToken))
    {
        server.Abort();
    }
}

static async Task ServeAsync(TcpStream stream)
{
    using (stream)
    {
        var buffer = new byte[4096];
        CancellationToken aborted = KyotoTask.CancellationToken; // this task's own: waits on it cost no registration
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, aborted)) > 0)
            {
                await stream.WriteAllAsync(buffer.AsMemory(0, n), aborted);
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            // the peer reset the connection: nothing to answer
        }
        catch (IOException)
        {
            // a write failed midway (the peer went away)
        }
    }
}
