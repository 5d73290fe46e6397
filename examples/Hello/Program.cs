// Hello, Kyoto: a tour of the runtime core in one program.
//
//   dotnet run -c Release --project examples/Hello [-- --tasks N --workers N]
//
// It builds a 2-worker runtime, fans out N tasks through a JoinSet, plays ping-pong over oneshot
// channels, sleeps on the runtime's timer wheel (and measures how late the timers fire), bounds an
// operation with a timeout, streams values from four producers through a bounded channel, limits
// concurrency with a fair semaphore, runs blocking work on the blocking pool, aborts a runaway task, and
// prints the scheduler's metrics. Ctrl+C (or SIGTERM) aborts the run cleanly: every task is aborted and the runtime shuts down.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Kyoto;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;

int tasks = 100_000;
int workers = 2;
for (int i = 0; i < args.Length - 1; i++)
{
    switch (args[i])
    {
        case "--tasks": tasks = int.Parse(args[++i]); break;
        case "--workers": workers = int.Parse(args[++i]); break;
    }
}

using var runtime = new RuntimeBuilder { WorkerThreads = workers, ThreadName = "hello-worker" }.Build();

// Ctrl+C and SIGTERM: stop the root task; its children are aborted by the JoinSet's disposal.
JoinHandle<int>? root = null;
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
void Stop(PosixSignalContext ctx)
{
    ctx.Cancel = true;
    Console.WriteLine("stopping...");
    root?.Abort();
}

int exitCode = runtime.BlockOn(async () =>
{
    root = KyotoTask.Spawn(() => MainAsync(tasks));
    try
    {
        return await root.Value;
    }
    catch (JoinException e) when (e.IsCancelled)
    {
        Console.WriteLine("stopped: every task was aborted.");
        return 0; // a requested stop is a clean stop
    }
});

RuntimeMetrics m = runtime.Metrics;
Console.WriteLine($"metrics: workers={m.WorkerCount} alive={m.AliveTasks} global-queue={m.GlobalQueueDepth} blocking-threads={m.BlockingThreads}");
for (int w = 0; w < m.WorkerCount; w++)
{
    Console.WriteLine($"  worker {w}: polls={m.GetWorkerPollCount(w)} steals={m.GetWorkerStealCount(w)} parks={m.GetWorkerParkCount(w)} busy={m.GetWorkerTotalBusyDuration(w).TotalMilliseconds:F1} ms");
}

return exitCode;

static async Task<int> MainAsync(int tasks)
{
    Console.WriteLine($"task {KyotoTask.Id} on thread '{Thread.CurrentThread.Name}'");

    // 1. Fan out: N tasks that each yield a few times and return a number; join them as they finish.
    var sw = Stopwatch.StartNew();
    using (var set = new JoinSet<long>())
    {
        for (int i = 0; i < tasks; i++)
        {
            if ((i & 1023) == 0)
            {
                // A loop that never awaits cannot be interrupted by abort: check the task's token now and then.
                KyotoTask.CancellationToken.ThrowIfCancellationRequested();
            }

            long n = i;
            set.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return n * n;
            });
        }

        long sum = 0;
        while (await set.JoinNextAsync(KyotoTask.CancellationToken) is { } done)
        {
            sum += done.Value;
        }

        Console.WriteLine($"fan-out: {tasks:N0} tasks joined in {sw.Elapsed.TotalMilliseconds:F1} ms (sum of squares {sum})");
    }

    // 2. Ping-pong over oneshot channels.
    sw.Restart();
    const int rounds = 10_000;
    for (int i = 0; i < rounds; i++)
    {
        var (pingTx, pingRx) = Oneshot.Create<int>();
        var (pongTx, pongRx) = Oneshot.Create<int>();
        _ = KyotoTask.Spawn(async () => pongTx.TrySend(await pingRx + 1));
        pingTx.TrySend(i);
        if (await pongRx != i + 1)
        {
            throw new InvalidOperationException("pong mismatch");
        }
    }

    Console.WriteLine($"ping-pong: {rounds:N0} round trips in {sw.Elapsed.TotalMilliseconds:F1} ms ({sw.Elapsed.TotalNanoseconds / rounds:F0} ns each)");

    // 3. Timers: 1,000 tasks each sleep 1-10 ms; none may wake early.
    var lateness = new double[1_000];
    using (var sleepers = new JoinSet<bool>())
    {
        for (int i = 0; i < lateness.Length; i++)
        {
            int n = i;
            sleepers.Spawn(async () =>
            {
                TimeSpan delay = TimeSpan.FromMilliseconds(1 + n % 10);
                Instant deadline = Instant.Now + delay;
                await KyotoTime.Sleep(delay);
                lateness[n] = (Instant.Now - deadline).TotalMicroseconds;
                return true;
            });
        }

        await sleepers.JoinAllAsync(KyotoTask.CancellationToken);
    }

    Array.Sort(lateness);
    Console.WriteLine($"timers: 1,000 sleeps of 1-10 ms, lateness mean {lateness.Average():F0} us, p99 {lateness[989]:F0} us, early {lateness.Count(l => l < 0)}");

    try
    {
        await KyotoTime.Timeout(TimeSpan.FromMilliseconds(20), async ct =>
        {
            await KyotoTime.Sleep(TimeSpan.FromSeconds(10), ct);
            return 0;
        });
    }
    catch (ElapsedException e)
    {
        Console.WriteLine($"timeout: {e.Message}");
    }

    // 4. Coordination: four producers feed a bounded channel (a full channel makes them wait) and the
    //    consumer reads it as an async stream until the last producer is gone; then a fair semaphore lets
    //    at most three of twenty tasks into a section at once.
    sw.Restart();
    var (tx, rx) = Mpsc.CreateBounded<int>(capacity: 64);
    const int perProducer = 25_000;
    for (int p = 0; p < 4; p++)
    {
        MpscSender<int> producer = tx.Clone();
        int first = p * perProducer;
        _ = KyotoTask.Spawn(async () =>
        {
            using (producer)
            {
                for (int i = 0; i < perProducer; i++)
                {
                    await producer.SendAsync(first + i, KyotoTask.CancellationToken);
                }
            }
        });
    }

    tx.Dispose(); // the channel closes when the last clone is disposed
    long total = 0;
    int received = 0;
    await foreach (int v in rx.WithCancellation(KyotoTask.CancellationToken))
    {
        total += v;
        received++;
    }

    Console.WriteLine($"channel: {received:N0} values from 4 producers through a 64-slot channel in {sw.Elapsed.TotalMilliseconds:F1} ms (sum {total})");

    var gate = new AsyncSemaphore(3);
    int inside = 0;
    int most = 0;
    using (var visitors = new JoinSet<bool>())
    {
        for (int i = 0; i < 20; i++)
        {
            visitors.Spawn(async () =>
            {
                using (await gate.AcquireAsync(KyotoTask.CancellationToken))
                {
                    int now = Interlocked.Increment(ref inside);
                    int seen;
                    while (now > (seen = Volatile.Read(ref most)) && Interlocked.CompareExchange(ref most, now, seen) != seen)
                    {
                    }

                    await KyotoTime.Sleep(TimeSpan.FromMilliseconds(1));
                    Interlocked.Decrement(ref inside);
                }

                return true;
            });
        }

        await visitors.JoinAllAsync(KyotoTask.CancellationToken);
    }

    Console.WriteLine($"semaphore: 20 tasks through a 3-permit gate, at most {most} inside at once");

    // 5. Blocking work goes to the blocking pool, not to a worker.
    string where = await KyotoTask.SpawnBlocking(() => Thread.CurrentThread.Name ?? "?");
    Console.WriteLine($"blocking work ran on a blocking-pool thread ('{where}')");

    // 6. Abort: a task spinning on yields stops at its next await; its finally block runs. (A task aborted
    //    before it ever ran never runs at all, so wait until it has started.)
    var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var cleanedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    JoinHandle spinner = KyotoTask.Spawn(async () =>
    {
        started.SetResult();
        try
        {
            while (true)
            {
                await KyotoTask.Yield();
            }
        }
        finally
        {
            cleanedUp.SetResult();
        }
    });
    await started.Task.WaitAsync(KyotoTask.CancellationToken); // foreign awaits take the task's token so abort reaches them
    spinner.Abort();
    try
    {
        await spinner;
    }
    catch (JoinException e) when (e.IsCancelled)
    {
        await cleanedUp.Task.WaitAsync(KyotoTask.CancellationToken);
        Console.WriteLine($"abort: task {spinner.Id} stopped at its next await and ran its finally block");
    }

    return 0;
}
