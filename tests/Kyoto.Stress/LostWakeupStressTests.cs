using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Lost wake-up hunting: many short bursts of work arriving from outside at a runtime that has just gone
/// (or is just going) idle. Every burst must complete; a parked worker that misses its wake-up hangs one.
/// </summary>
public abstract class LostWakeupStressTests : RuntimeTestBase
{
    public sealed class MultiThread : LostWakeupStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadOneWorker : LostWakeupStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;
    }

    public sealed class MultiThreadFourWorkers : LostWakeupStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : LostWakeupStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private const int Bursts = 10_000;
    private static readonly TimeSpan PerBurst = TimeSpan.FromSeconds(10);

    /// <summary>A random pause that lands the next burst before, during or after the workers park.</summary>
    private static void Jitter(Random rng)
    {
        switch (rng.Next(4))
        {
            case 0:
                break;
            case 1:
                Thread.SpinWait(rng.Next(1, 2_000));
                break;
            case 2:
                Thread.Yield();
                break;
            default:
                Thread.SpinWait(rng.Next(2_000, 50_000));
                break;
        }
    }

    [Fact]
    public void RemoteSpawn_ShortBurstsToIdleRuntime_EveryBurstCompletes()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        Random rng = Seeds.For(10);
        using var done = new CountdownEvent(1);
        for (int burst = 0; burst < Bursts; burst++)
        {
            int n = rng.Next(1, 5);
            done.Reset(n);
            for (int i = 0; i < n; i++)
            {
                bool yieldFirst = rng.Next(3) == 0;
                rt.Spawn(async () =>
                {
                    if (yieldFirst)
                    {
                        await KyotoTask.Yield();
                    }

                    done.Signal();
                });
            }

            Assert.True(done.Wait(PerBurst), $"burst {burst}: {done.CurrentCount} of {n} remote spawns never ran: lost wake-up {Seeds.Describe}");
            Jitter(rng);
        }
    }

    [Fact]
    public void RemoteSpawn_FromManyThreadsAtOnce_EveryTaskRuns()
    {
        const int Threads = 4;
        const int PerThread = 20_000;
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        using var done = new CountdownEvent(Threads * PerThread);
        using var start = new Barrier(Threads);
        Task[] spawners = [.. Enumerable.Range(0, Threads).Select(t => Bounded.OnThread(() =>
        {
            Random rng = Seeds.For(100 + t);
            start.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < PerThread; i++)
            {
                rt.Handle.Spawn(() =>
                {
                    done.Signal();
                    return Task.CompletedTask;
                });
                if (rng.Next(64) == 0)
                {
                    Jitter(rng);
                }
            }
        }))];
        foreach (Task s in spawners)
        {
            Bounded.Wait(s, "a spawning thread");
        }

        Assert.True(done.Wait(TimeSpan.FromSeconds(60)), $"{done.CurrentCount} remote spawns never ran {Seeds.Describe}");
    }

    [Fact]
    public void RemoteWake_OneshotSentFromOutsideToParkedTask_EveryWakeArrives()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        Random rng = Seeds.For(20);
        for (int round = 0; round < Bursts; round++)
        {
            var (tx, rx) = Oneshot.Create<int>();
            using var parked = new ManualResetEventSlim();
            JoinHandle<int> h = rt.Spawn(async () =>
            {
                parked.Set();
                return await rx;
            });
            Assert.True(parked.Wait(PerBurst), $"round {round}: the task never started {Seeds.Describe}");
            Jitter(rng);
            tx.TrySend(round);
            Task<int> joined = h.AsTask();
            Assert.True(Bounded.Finishes(joined, PerBurst), $"round {round}: a oneshot sent from outside never woke its task: lost wake-up {Seeds.Describe}");
            Assert.Equal(round, joined.Result);
        }
    }

    [Fact]
    public void LocalSpawnChains_WhileOtherWorkersIdle_AllComplete()
    {
        using var rt = NewRuntime();
        Random seedRng = Seeds.For(30);
        int seed = seedRng.Next();
        int total = rt.BlockOnBounded(async () =>
        {
            int sum = 0;
            for (int round = 0; round < 2_000; round++)
            {
                int depth = (seed + round) % 7 + 1;
                sum += await Chain(depth);
            }

            return sum;
        }, TimeSpan.FromSeconds(120));
        Assert.True(total > 0);

        static async Task<int> Chain(int depth)
        {
            if (depth == 0)
            {
                return 1;
            }

            JoinHandle<int> a = KyotoTask.Spawn(() => Chain(depth - 1));
            JoinHandle<int> b = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 1;
            });
            return await a + await b;
        }
    }
}
