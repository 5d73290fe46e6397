using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Spawn and abort storms: tasks of random shapes, aborted at random moments from random threads. Every task
/// must finish, with an outcome consistent with what it did, and every started body's finally must run.
/// </summary>
public abstract class SpawnAbortStormStressTests : RuntimeTestBase
{
    public sealed class MultiThread : SpawnAbortStormStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : SpawnAbortStormStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : SpawnAbortStormStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private enum Shape
    {
        Immediate,
        Yields,
        AwaitsOneshot,
        AwaitsSibling,
        Throws,
    }

    [Fact]
    public void Storm_RandomTasksAbortedAtRandomMoments_AllFinishConsistently()
    {
        const int Tasks = 50_000;
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        int started = 0;
        int finallies = 0;
        var shapes = new Shape[Tasks];
        var handles = new JoinHandle<int>[Tasks];
        var senders = new OneshotSender<int>[Tasks];
        var aborted = new bool[Tasks];
        Random rng = Seeds.For(40);

        for (int i = 0; i < Tasks; i++)
        {
            int me = i;
            Shape shape = (Shape)rng.Next(5);
            shapes[i] = shape;
            int yields = rng.Next(1, 6);
            var (tx, rx) = Oneshot.Create<int>();
            senders[i] = tx;
            handles[i] = rt.Spawn(async () =>
            {
                Interlocked.Increment(ref started);
                try
                {
                    switch (shape)
                    {
                        case Shape.Immediate:
                            return me;
                        case Shape.Yields:
                            for (int k = 0; k < yields; k++)
                            {
                                await KyotoTask.Yield();
                            }

                            return me;
                        case Shape.AwaitsOneshot:
                            return await rx;
                        case Shape.AwaitsSibling:
                        {
                            // A helper of its own (a join handle may have one waiter at a time).
                            JoinHandle helper = KyotoTask.Spawn(async () =>
                            {
                                for (int k = 0; k < yields; k++)
                                {
                                    await KyotoTask.Yield();
                                }
                            });
                            await helper;
                            return me;
                        }

                        default:
                            await KyotoTask.Yield();
                            throw new FormatException("planned");
                    }
                }
                finally
                {
                    Interlocked.Increment(ref finallies);
                }
            });

            // Abort about a third, from here, right away or later from another thread.
            int roll = rng.Next(6);
            if (roll == 0)
            {
                aborted[i] = true;
                handles[i].Abort();
            }
            else if (roll == 1)
            {
                aborted[i] = true;
            }
        }

        // Late aborts from a thread-pool thread, and sends for the oneshot waiters, in a shuffled order.
        int[] order = [.. Enumerable.Range(0, Tasks).OrderBy(_ => rng.Next())];
        Task aborter = Task.Run(() =>
        {
            foreach (int i in order)
            {
                if (aborted[i])
                {
                    handles[i].AbortHandle.Abort();
                }
            }
        });
        Task sender = Task.Run(() =>
        {
            foreach (int i in order)
            {
                senders[i].TrySend(i); // refused if the receiver was aborted first: fine
            }
        });
        Bounded.Wait(aborter, "the aborting thread");
        Bounded.Wait(sender, "the sending thread");

        var stuck = new List<int>();
        var wrong = new ConcurrentBag<string>();
        for (int i = 0; i < Tasks; i++)
        {
            Task<int> t = handles[i].AsTask();
            if (!Bounded.Finishes(t, TimeSpan.FromSeconds(stuck.Count == 0 ? 20 : 0.1)))
            {
                stuck.Add(i);
                continue;
            }

            if (t.IsCompletedSuccessfully)
            {
                if (shapes[i] == Shape.Throws)
                {
                    wrong.Add($"task {i} ({shapes[i]}) succeeded");
                }
                else if (t.Result != i)
                {
                    wrong.Add($"task {i} returned {t.Result}");
                }
            }
            else
            {
                var e = (JoinException)t.Exception!.InnerException!;
                if (e.IsFaulted && shapes[i] != Shape.Throws)
                {
                    wrong.Add($"task {i} ({shapes[i]}) faulted: {e.InnerException}");
                }

                if (e.IsCancelled && !aborted[i])
                {
                    wrong.Add($"task {i} ({shapes[i]}) cancelled without an abort");
                }
            }
        }

        Assert.True(stuck.Count == 0, $"{stuck.Count} tasks never finished, e.g. {string.Join(", ", stuck.Take(5).Select(i => $"{i} ({shapes[i]}, aborted {aborted[i]})"))} {Seeds.Describe}");
        Assert.True(wrong.IsEmpty, string.Join("; ", wrong.Take(5)) + " " + Seeds.Describe);
        Assert.Equal(Volatile.Read(ref started), Volatile.Read(ref finallies));
        Assert.True(started <= Tasks);
    }

    [Fact]
    public void Storm_AbortRacingCompletion_OutcomeIsSuccessOrCancelledNeverHangs()
    {
        const int Rounds = 20_000;
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        Random rng = Seeds.For(41);
        int succeeded = 0;
        int cancelled = 0;
        for (int round = 0; round < Rounds; round++)
        {
            int yields = rng.Next(3);
            JoinHandle<int> h = rt.Spawn(async () =>
            {
                for (int k = 0; k < yields; k++)
                {
                    await KyotoTask.Yield();
                }

                return 1;
            });
            if (rng.Next(2) == 0)
            {
                Thread.SpinWait(rng.Next(500));
            }

            h.Abort();
            Task<int> t = h.AsTask();
            Assert.True(Bounded.Finishes(t, TimeSpan.FromSeconds(10)), $"round {round}: an aborted task never finished {Seeds.Describe}");
            if (t.IsCompletedSuccessfully)
            {
                succeeded++;
            }
            else
            {
                Assert.True(((JoinException)t.Exception!.InnerException!).IsCancelled);
                cancelled++;
            }
        }

        Assert.Equal(Rounds, succeeded + cancelled);
        Assert.True(cancelled > 0);
    }

    [Fact]
    public void Storm_TasksSpawningAndAbortingEachOther_AllFinish()
    {
        using var rt = NewRuntime();
        int finished = rt.BlockOnBounded(async () =>
        {
            Random master = Seeds.For(42);
            var all = new ConcurrentQueue<JoinHandle>();
            async Task Node(int depth, int seed)
            {
                var rng = new Random(seed);
                var mine = new List<JoinHandle>();
                int children = depth == 0 ? 0 : rng.Next(1, 4);
                for (int c = 0; c < children; c++)
                {
                    int childSeed = rng.Next();
                    JoinHandle h = KyotoTask.Spawn(() => Node(depth - 1, childSeed));
                    mine.Add(h);
                    all.Enqueue(h);
                }

                for (int k = rng.Next(3); k > 0; k--)
                {
                    await KyotoTask.Yield();
                }

                foreach (JoinHandle h in mine)
                {
                    if (rng.Next(3) == 0)
                    {
                        h.Abort();
                    }
                }

                foreach (JoinHandle h in mine)
                {
                    try
                    {
                        await h;
                    }
                    catch (JoinException e) when (e.IsCancelled)
                    {
                    }
                }
            }

            var roots = new List<JoinHandle>();
            for (int r = 0; r < 1_000; r++)
            {
                int s = master.Next();
                roots.Add(KyotoTask.Spawn(() => Node(5, s)));
            }

            foreach (JoinHandle h in roots)
            {
                await h;
            }

            // An aborted parent stops awaiting its children (abort does not propagate), so orphans may still
            // run; they only yield and join their own children, so they finish by themselves. Their handles
            // may still be awaited by their parents, so watch IsFinished rather than awaiting a second time.
            int n = 0;
            for (int spins = 0; spins < 1_000_000; spins++)
            {
                n = all.Count(h => h.IsFinished);
                if (n == all.Count)
                {
                    break;
                }

                await KyotoTask.Yield();
            }

            Assert.True(all.Count == n, $"{all.Count - n} of {all.Count} tasks never finished {Seeds.Describe}");
            return n;
        }, TimeSpan.FromSeconds(120));
        Assert.True(finished > 1_000);
    }
}
