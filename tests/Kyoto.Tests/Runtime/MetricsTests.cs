using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>RuntimeMetrics: counts that must hold exactly in quiet moments, and argument checks.</summary>
public abstract class MetricsTests : RuntimeTestBase
{
    public sealed class MultiThread : MetricsTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        [Fact]
        public void GetWorkerParkCount_IdleWorkers_CountEachPark()
        {
            int hooks = 0;
            using var parked = new CountdownEvent(2);
            using var rt = NewRuntime(b => b.OnThreadPark = () =>
            {
                if (Interlocked.Increment(ref hooks) <= 2)
                {
                    parked.Signal();
                }
            });
            Bounded.Wait(parked, "two parks");

            // The counter is bumped right after the hook; once the workers have exited it is final.
            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
            long total = rt.Metrics.GetWorkerParkCount(0) + rt.Metrics.GetWorkerParkCount(1);
            Assert.Equal(Volatile.Read(ref hooks), total);
        }

        [Fact]
        public void GetWorkerStealCount_BusyWorkerWithQueuedTasks_OtherWorkerSteals()
        {
            using var rt = NewRuntime(b => b.WorkerThreads = 2);
            using var allRan = new CountdownEvent(8);
            rt.BlockOnBounded(async () =>
            {
                await KyotoTask.Yield();
                var handles = new List<JoinHandle>();
                for (int i = 0; i < 9; i++)
                {
                    handles.Add(KyotoTask.Spawn(() =>
                    {
                        if (!allRan.IsSet)
                        {
                            allRan.Signal();
                        }

                        return Task.CompletedTask;
                    }));
                }

                // Keep this worker busy: the queued tasks can only run on the other worker, by stealing
                // (the ninth waits in this worker's LIFO slot, which cannot be stolen).
                Assert.True(allRan.Wait(Bounded.Timeout), "the idle worker did not steal the queued tasks");
                foreach (JoinHandle h in handles)
                {
                    await h;
                }
            });
            long steals = rt.Metrics.GetWorkerStealCount(0) + rt.Metrics.GetWorkerStealCount(1);
            Assert.True(steals > 0, "no steal counted");
        }

        [Fact]
        public void GetWorkerTotalBusyDuration_AfterWork_CoversTheWork()
        {
            using var rt = NewRuntime(b => b.WorkerThreads = 1);
            Bounded.Join(rt.Spawn(async () =>
            {
                long until = Environment.TickCount64 + 30;
                while (Environment.TickCount64 < until)
                {
                    await KyotoTask.Yield();
                }
            }));

            // Busy time is accounted when the worker parks; after shutdown that has happened.
            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
            Assert.True(rt.Metrics.GetWorkerTotalBusyDuration(0) >= TimeSpan.FromMilliseconds(25), $"busy {rt.Metrics.GetWorkerTotalBusyDuration(0)}");
        }
    }

    public sealed class CurrentThread : MetricsTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

        [Fact]
        public void GlobalQueueDepth_TasksSpawnedWhileNotDriven_CountsThem()
        {
            using var rt = NewRuntime();
            Assert.Equal(0, rt.Metrics.GlobalQueueDepth);
            JoinHandle[] handles = [.. Enumerable.Range(0, 4).Select(_ => rt.Spawn(() => Task.CompletedTask))];
            Assert.Equal(4, rt.Metrics.GlobalQueueDepth);
            Assert.Equal(4, rt.Metrics.AliveTasks);
            rt.BlockOnBounded(async () =>
            {
                foreach (JoinHandle h in handles)
                {
                    await h;
                }
            });
            Assert.Equal(0, rt.Metrics.GlobalQueueDepth);
            Assert.Equal(0, rt.Metrics.AliveTasks);
        }

        [Fact]
        public void GetWorkerLocalQueueDepth_TasksSpawnedInsideBlockOn_CountsThem()
        {
            using var rt = NewRuntime();
            int depth = rt.BlockOnBounded(() =>
            {
                for (int i = 0; i < 3; i++)
                {
                    _ = KyotoTask.Spawn(() => Task.CompletedTask);
                }

                return Task.FromResult(RuntimeHandle.Current.Metrics.GetWorkerLocalQueueDepth(0));
            });
            Assert.Equal(3, depth);
        }

        [Fact]
        public void GetWorkerStealCountAndBusyDuration_CurrentThread_AreZero()
        {
            using var rt = NewRuntime();
            rt.BlockOnBounded(async () => await KyotoTask.Yield());
            Assert.Equal(0, rt.Metrics.GetWorkerStealCount(0));
            Assert.Equal(TimeSpan.Zero, rt.Metrics.GetWorkerTotalBusyDuration(0));
        }

        [Fact]
        public void GetWorkerParkCount_DriverParkedDuringBlockOn_Counts()
        {
            var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var parked = new ManualResetEventSlim();
            using var rt = NewRuntime(b => b.OnThreadPark = parked.Set);
            Assert.Equal(0, rt.Metrics.GetWorkerParkCount(0));
            Task completer = Bounded.OnThread(() =>
            {
                Bounded.Wait(parked, "the driver to park");
                tcs.SetResult(1);
            });
            Assert.Equal(1, rt.BlockOnBounded(async () => await tcs.Task));
            Bounded.Wait(completer, "the completer");
            Assert.True(rt.Metrics.GetWorkerParkCount(0) >= 1);
        }
    }

    [Fact]
    public void WorkerCount_MatchesConfiguration()
    {
        using var rt = NewRuntime();
        Assert.Equal(IsMultiThread ? WorkerThreads : 1, rt.Metrics.WorkerCount);
    }

    [Fact]
    public void PerWorkerMetrics_IndexOutOfRange_ThrowsArgumentOutOfRangeException()
    {
        using var rt = NewRuntime();
        RuntimeMetrics m = rt.Metrics;
        int n = m.WorkerCount;
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerParkCount(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerParkCount(n));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerStealCount(n));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerPollCount(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerPollCount(n));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerTotalBusyDuration(n));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerLocalQueueDepth(n));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetWorkerLocalQueueDepth(-1));
    }

    [Fact]
    public void AliveTasks_FreshRuntime_IsZero()
    {
        using var rt = NewRuntime();
        Assert.Equal(0, rt.Metrics.AliveTasks);
        Assert.Equal(0, rt.Metrics.BlockingThreads);
        Assert.Equal(0, rt.Metrics.IdleBlockingThreads);
        Assert.Equal(0, rt.Metrics.BlockingQueueDepth);
    }

    [Fact]
    public void AliveTasks_ParkedTasks_CountedUntilTheyFinish()
    {
        using var rt = NewRuntime();
        var senders = new List<OneshotSender<int>>();
        JoinHandle[] handles = rt.BlockOnBounded(async () =>
        {
            var hs = new JoinHandle[10];
            for (int i = 0; i < hs.Length; i++)
            {
                var (tx, rx) = Oneshot.Create<int>();
                senders.Add(tx);
                hs[i] = KyotoTask.Spawn(async () => { await rx; });
            }

            await KyotoTask.Yield();
            return hs;
        });
        Assert.Equal(10, rt.Metrics.AliveTasks);
        rt.BlockOnBounded(async () =>
        {
            foreach (OneshotSender<int> tx in senders)
            {
                tx.TrySend(1);
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }
        });
        Assert.Equal(0, rt.Metrics.AliveTasks);
    }

    [Fact]
    public void AliveTasks_AfterShutdown_IsZero()
    {
        using var rt = NewRuntime();
        var senders = new List<OneshotSender<int>>();
        rt.BlockOnBounded(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                (_, OneshotSender<int> tx) = await ParkedTask.SpawnAsync();
                senders.Add(tx);
            }
        });
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.Equal(0, rt.Metrics.AliveTasks);
    }

    [Fact]
    public void GetWorkerPollCount_AfterManyYields_Increases()
    {
        using var rt = NewRuntime();
        long before = TotalPolls(rt);
        rt.BlockOnBounded(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await KyotoTask.Yield();
            }
        });
        Assert.True(TotalPolls(rt) - before >= 100, $"polls {TotalPolls(rt) - before}");
    }

    [Fact]
    public void BlockingMetrics_WhileBlockingTaskRuns_CountThread()
    {
        using var rt = NewRuntime();
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        JoinHandle h = rt.SpawnBlocking(() =>
        {
            running.Set();
            release.Wait(Bounded.Timeout);
        });
        Bounded.Wait(running, "the blocking task");
        Assert.Equal(1, rt.Metrics.BlockingThreads);
        Assert.Equal(0, rt.Metrics.IdleBlockingThreads);
        Assert.Equal(1, rt.Metrics.AliveTasks);
        release.Set();
        Bounded.Join(h);
        Assert.Equal(0, rt.Metrics.AliveTasks);
    }

    private static long TotalPolls(Kyoto.Runtime rt)
    {
        long n = 0;
        for (int i = 0; i < rt.Metrics.WorkerCount; i++)
        {
            n += rt.Metrics.GetWorkerPollCount(i);
        }

        return n;
    }
}
