using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Shutdown while tasks keep spawning tasks: it must return, and no join handle may hang.</summary>
public abstract class ShutdownStressTests : RuntimeTestBase
{
    public sealed class MultiThread : ShutdownStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : ShutdownStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : ShutdownStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private const int Rounds = 40;

    [Fact]
    public void Shutdown_WhileTasksSpawnTasks_ReturnsTrueAndEveryHandleFinishes()
    {
        for (int round = 0; round < Rounds; round++)
        {
            RunRound(round);
        }
    }

    private void RunRound(int round)
    {
        var rt = NewRuntime();
        var driver = new BackgroundDriver(rt);
        var handles = new ConcurrentQueue<JoinHandle>();
        int bodies = 0;
        int finallies = 0;
        int refused = 0;
        int spawned = 0;
        Random rng = Seeds.For(70 + round);
        int threshold = rng.Next(50, 3_000);
        using var enough = new ManualResetEventSlim();

        async Task Node(int seed)
        {
            Interlocked.Increment(ref bodies);
            try
            {
                var local = new Random(seed);
                while (true)
                {
                    int action = local.Next(4);
                    if (action == 0)
                    {
                        await KyotoTask.Yield();
                    }
                    else if (action == 1)
                    {
                        var (tx, rx) = Oneshot.Create<int>();
                        int childSeed = local.Next();
                        try
                        {
                            handles.Enqueue(KyotoTask.Spawn(async () =>
                            {
                                await KyotoTask.Yield();
                                tx.TrySend(1);
                                await Node(childSeed);
                            }));
                        }
                        catch (RuntimeShutdownException)
                        {
                            Interlocked.Increment(ref refused);
                            return;
                        }

                        if (Interlocked.Increment(ref spawned) >= threshold)
                        {
                            enough.Set();
                        }

                        await rx;
                    }
                    else if (action == 2)
                    {
                        int childSeed = local.Next();
                        try
                        {
                            handles.Enqueue(KyotoTask.Spawn(() => Node(childSeed)));
                        }
                        catch (RuntimeShutdownException)
                        {
                            Interlocked.Increment(ref refused);
                            return;
                        }

                        if (Interlocked.Increment(ref spawned) >= threshold)
                        {
                            enough.Set();
                        }
                    }
                    else if (Volatile.Read(ref spawned) > 200_000)
                    {
                        return; // a safety net against unbounded growth; shutdown normally comes first
                    }
                }
            }
            finally
            {
                Interlocked.Increment(ref finallies);
            }
        }

        bool clean;
        try
        {
            for (int i = 0; i < 4; i++)
            {
                int s = rng.Next();
                handles.Enqueue(rt.Spawn(() => Node(s)));
            }

            Bounded.Wait(enough, $"round {round}: tasks to spawn {threshold} tasks");
            clean = Bounded.Run(() => rt.Shutdown(TimeSpan.FromSeconds(10)), $"round {round}: Shutdown", TimeSpan.FromSeconds(40));
        }
        finally
        {
            driver.Dispose();
            rt.Dispose();
        }

        int unfinished = handles.Count(h => !h.IsFinished);
        Assert.True(unfinished == 0, $"round {round}: {unfinished} of {handles.Count} join handles never finished after shutdown {Seeds.Describe}");
        Assert.True(clean, $"round {round}: Shutdown returned false though every task awaits only Kyoto awaitables {Seeds.Describe}");
        Assert.Equal(Volatile.Read(ref bodies), Volatile.Read(ref finallies));
        foreach (JoinHandle h in handles)
        {
            Task t = h.AsTask();
            Assert.True(t.IsCompleted);
            if (!t.IsCompletedSuccessfully)
            {
                Assert.True(((JoinException)t.Exception!.InnerException!).IsCancelled, $"round {round}: a task faulted: {t.Exception}");
            }
        }
    }

    [Fact]
    public void CreateAndDispose_ManyRuntimesWithWork_NoLeakOrHang()
    {
        for (int round = 0; round < 100; round++)
        {
            using var rt = NewRuntime();
            int v = rt.BlockOnBounded(async () =>
            {
                JoinHandle<int> a = KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    return 1;
                });
                JoinHandle<int> b = KyotoTask.SpawnBlocking(() => 2);
                return await a + await b;
            });
            Assert.Equal(3, v);
            var (tx, rx) = Oneshot.Create<int>();
            rt.Spawn(async () =>
            {
                await KyotoTask.Yield();
                await rx; // left parked: shutdown aborts it
            });
            Assert.True(rt.ShutdownBounded(TimeSpan.FromSeconds(10)), $"round {round}");
            GC.KeepAlive(tx);
        }
    }
}
