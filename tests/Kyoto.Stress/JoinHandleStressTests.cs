using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Join handles under contention: many sequential awaiters of finished handles across workers.</summary>
public abstract class JoinHandleStressTests : RuntimeTestBase
{
    public sealed class MultiThread : JoinHandleStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : JoinHandleStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : JoinHandleStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void FinishedHandle_AwaitedInLoopsByManyTasksAtOnce_EveryAwaitReturns()
    {
        const int Awaiters = 8;
        const int Loops = 20_000;
        using var rt = NewRuntime();
        long total = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> done = KyotoTask.Spawn(() => Task.FromResult(1));
            await done;
            var hs = new List<JoinHandle<long>>();
            for (int a = 0; a < Awaiters; a++)
            {
                hs.Add(KyotoTask.Spawn(async () =>
                {
                    long sum = 0;
                    for (int i = 0; i < Loops; i++)
                    {
                        sum += await done; // past each budget this goes through the pooled join waiter
                    }

                    return sum;
                }));
            }

            long t = 0;
            foreach (JoinHandle<long> h in hs)
            {
                t += await h;
            }

            return t;
        }, TimeSpan.FromSeconds(120));
        Assert.Equal((long)Awaiters * Loops, total);
    }

    [Fact]
    public void JoinWhileCompleting_ManyPairs_NoJoinIsLost()
    {
        const int Pairs = 50_000;
        using var rt = NewRuntime();
        int joined = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(90);
            int n = 0;
            var pending = new List<JoinHandle<int>>();
            for (int i = 0; i < Pairs; i++)
            {
                int yields = rng.Next(3);
                pending.Add(KyotoTask.Spawn(async () =>
                {
                    for (int k = 0; k < yields; k++)
                    {
                        await KyotoTask.Yield();
                    }

                    return 1;
                }));
                if (pending.Count == 64)
                {
                    foreach (JoinHandle<int> h in pending)
                    {
                        n += await h;
                    }

                    pending.Clear();
                }
            }

            foreach (JoinHandle<int> h in pending)
            {
                n += await h;
            }

            return n;
        }, TimeSpan.FromSeconds(120));
        Assert.Equal(Pairs, joined);
    }
}
