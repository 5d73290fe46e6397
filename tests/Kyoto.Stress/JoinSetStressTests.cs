using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>JoinSet with thousands of tasks, and JoinNextAsync cancelled at random while tasks complete.</summary>
public abstract class JoinSetStressTests : RuntimeTestBase
{
    public sealed class MultiThread : JoinSetStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : JoinSetStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : JoinSetStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void JoinSet_TenThousandTasksWithRandomShapes_EachJoinedExactlyOnce()
    {
        const int Tasks = 10_000;
        using var rt = NewRuntime();
        (int joined, int distinctIds, long sum, int aborted) = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            Random rng = Seeds.For(50);
            var senders = new List<OneshotSender<int>>();
            var abortHandles = new List<AbortHandle>();
            for (int i = 0; i < Tasks; i++)
            {
                int n = i;
                int yields = rng.Next(4);
                bool viaOneshot = rng.Next(4) == 0;
                var (tx, rx) = Oneshot.Create<int>();
                if (viaOneshot)
                {
                    senders.Add(tx);
                }

                abortHandles.Add(set.Spawn(async () =>
                {
                    for (int k = 0; k < yields; k++)
                    {
                        await KyotoTask.Yield();
                    }

                    return viaOneshot ? await rx + n : n;
                }));
            }

            // Release the oneshot waiters from a sibling task, in random order, while joining.
            JoinHandle releaser = KyotoTask.Spawn(async () =>
            {
                var order = senders.OrderBy(_ => rng.Next()).ToList();
                foreach (OneshotSender<int> tx in order)
                {
                    tx.TrySend(0);
                    if (rng.Next(16) == 0)
                    {
                        await KyotoTask.Yield();
                    }
                }
            });

            int count = 0;
            int cancelled = 0;
            long total = 0;
            var ids = new HashSet<TaskId>();
            while (await set.JoinNextAsync() is { } r)
            {
                count++;
                ids.Add(r.Id);
                if (r.IsSuccess)
                {
                    total += r.Value;
                }
                else
                {
                    cancelled++;
                }
            }

            await releaser;
            return (count, ids.Count, total, cancelled);
        }, TimeSpan.FromSeconds(120));
        Assert.Equal(Tasks, joined);
        Assert.Equal(Tasks, distinctIds);
        Assert.Equal(0, aborted);
        Assert.Equal((long)Tasks * (Tasks - 1) / 2, sum);
    }

    [Fact]
    public void JoinNextAsync_CancelledAtRandomWhileTasksComplete_LosesNothing()
    {
        const int Tasks = 10_000;
        using var rt = NewRuntime();
        (int joined, int cancellations) = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            Random rng = Seeds.For(51);
            for (int i = 0; i < Tasks; i++)
            {
                int yields = rng.Next(6);
                set.Spawn(async () =>
                {
                    for (int k = 0; k < yields; k++)
                    {
                        await KyotoTask.Yield();
                    }

                    return 1;
                });
            }

            int count = 0;
            int cancels = 0;
            while (true)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<JoinResult<int>?> next = set.JoinNextAsync(cts.Token);
                if (rng.Next(3) == 0)
                {
                    // Cancel from another thread, racing with a completion handing its result over.
                    int spin = rng.Next(200);
                    _ = Task.Run(() =>
                    {
                        Thread.SpinWait(spin);
                        cts.Cancel();
                    });
                }

                JoinResult<int>? r;
                try
                {
                    r = await next;
                }
                catch (OperationCanceledException)
                {
                    cancels++;
                    continue;
                }

                if (r is null)
                {
                    break;
                }

                count += r.Value.Value;
            }

            return (count, cancels);
        }, TimeSpan.FromSeconds(120));
        Assert.True(Tasks == joined, $"joined {joined} of {Tasks} after {cancellations} cancelled waits {Seeds.Describe}");
    }

    [Fact]
    public void JoinSet_AbortAllWhileTasksFinish_EveryTaskAccountedFor()
    {
        using var rt = NewRuntime();
        for (int round = 0; round < 50; round++)
        {
            int r = round;
            (int joined, int succeeded, int cancelled) = rt.BlockOnBounded(async () =>
            {
                using var set = new JoinSet<int>();
                Random rng = Seeds.For(600 + r);
                for (int i = 0; i < 200; i++)
                {
                    int yields = rng.Next(5);
                    set.Spawn(async () =>
                    {
                        for (int k = 0; k < yields; k++)
                        {
                            await KyotoTask.Yield();
                        }

                        return 1;
                    });
                }

                for (int k = rng.Next(4); k > 0; k--)
                {
                    await KyotoTask.Yield();
                }

                set.AbortAll();
                int n = 0;
                int ok = 0;
                int c = 0;
                while (await set.JoinNextAsync() is { } res)
                {
                    n++;
                    if (res.IsSuccess)
                    {
                        ok++;
                    }
                    else if (res.Exception!.IsCancelled)
                    {
                        c++;
                    }
                }

                return (n, ok, c);
            });
            Assert.Equal(200, joined);
            Assert.Equal(200, succeeded + cancelled);
        }
    }
}
