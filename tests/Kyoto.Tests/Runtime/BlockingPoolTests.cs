using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>SpawnBlocking, the blocking pool's cap and keep-alive, and BlockInPlace.</summary>
public abstract class BlockingPoolTests : RuntimeTestBase
{
    public sealed class MultiThread : BlockingPoolTests
    {
        [Fact]
        public void BlockInPlace_WithTheBlockingPoolFull_HandsTheWorkerOnAtOnce()
        {
            // The pool's one thread runs a blocking task and another waits in its queue. BlockInPlace hands the
            // worker to a thread beyond the cap; that thread must run the worker, not the queued blocking task
            // (which would block too, and leave the worker's own tasks, U below, waiting behind it).
            using var rt = new RuntimeBuilder { WorkerThreads = 1, MaxBlockingThreads = 1 }.Build();
            using var release = new ManualResetEventSlim(false);
            bool unblocked = rt.BlockOnBounded(async () =>
            {
                JoinHandle first = KyotoTask.SpawnBlocking(() => release.Wait());
                JoinHandle queued = KyotoTask.SpawnBlocking(() => release.Wait());
                bool ok = await KyotoTask.Spawn(() =>
                {
                    using var uRan = new ManualResetEventSlim(false);
                    JoinHandle u = KyotoTask.Spawn(() =>
                    {
                        uRan.Set();
                        return Task.CompletedTask;
                    });
                    return Task.FromResult(KyotoTask.BlockInPlace(() => uRan.Wait(TimeSpan.FromSeconds(10))));
                });
                release.Set();
                await first;
                await queued;
                return ok;
            });
            Assert.True(unblocked, "the worker's queued task did not run while its task blocked in place");
        }

        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;

        [Fact]
        public void BlockInPlace_OnOnlyWorker_OtherTasksKeepRunning()
        {
            using var rt = NewRuntime();
            using var otherRan = new ManualResetEventSlim();
            (bool sawOther, int after) = rt.BlockOnBounded(async () =>
            {
                await KyotoTask.Yield();
                JoinHandle other = KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    otherRan.Set();
                });

                // This blocks the only worker's thread; the other task runs only if the worker was handed off.
                bool saw = KyotoTask.BlockInPlace(() => otherRan.Wait(Bounded.Timeout));
                await other;
                await KyotoTask.Yield();
                return (saw, 5);
            });
            Assert.True(sawOther, "the other task did not run while the worker's thread was blocked in place");
            Assert.Equal(5, after);
        }

        [Fact]
        public void BlockInPlace_Twice_InSameTask_Works()
        {
            using var rt = NewRuntime();
            int total = rt.BlockOnBounded(async () =>
            {
                int sum = 0;
                for (int i = 0; i < 3; i++)
                {
                    using var evt = new ManualResetEventSlim();
                    JoinHandle helper = KyotoTask.Spawn(async () =>
                    {
                        await KyotoTask.Yield();
                        evt.Set();
                    });
                    sum += KyotoTask.BlockInPlace(() => evt.Wait(Bounded.Timeout) ? 1 : 0);
                    await helper;
                }

                return sum;
            });
            Assert.Equal(3, total);
        }

        [Fact]
        public void BlockInPlace_ActionOverload_RunsBodyAndKeepsTaskContext()
        {
            using var rt = NewRuntime();
            (TaskId before, TaskId? after, bool ran) = rt.BlockOnBounded(async () =>
            {
                TaskId id = KyotoTask.Id;
                bool ran = false;
                KyotoTask.BlockInPlace(() => ran = true);
                await KyotoTask.Yield();
                return (id, KyotoTask.CurrentId, ran);
            });
            Assert.True(ran);
            Assert.Equal(before, after);
        }

        [Fact]
        public void BlockInPlace_ThenShutdown_ReturnsTrue()
        {
            using var rt = NewRuntime();
            rt.BlockOnBounded(async () =>
            {
                await KyotoTask.Yield();
                KyotoTask.BlockInPlace(() => { });
                await KyotoTask.Yield();
            });
            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        }
    }

    public sealed class CurrentThread : BlockingPoolTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

        [Fact]
        public void BlockInPlace_OnCurrentThreadRuntime_ThrowsInvalidOperationException()
        {
            using var rt = NewRuntime();
            bool ran = false;
            Exception? e = rt.BlockOnBounded(async () =>
            {
                await KyotoTask.Yield();
                return Record.Exception(() => KyotoTask.BlockInPlace(() => ran = true));
            });
            Assert.IsType<InvalidOperationException>(e);
            Assert.False(ran);
        }
    }

    [Fact]
    public void BlockInPlace_OutsideRuntime_JustRunsBody()
    {
        Assert.Equal(6, Bounded.Run(() => KyotoTask.BlockInPlace(() => 6), "BlockInPlace on a plain thread"));
    }

    [Fact]
    public void BlockInPlace_OnBlockingThread_JustRunsBody()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => KyotoTask.BlockInPlace(() => 8)));
        Assert.Equal(8, v);
    }

    [Fact]
    public void SpawnBlocking_ReturnsValueFromAnotherThread()
    {
        using var rt = NewRuntime();
        (int caller, int blocking, int value) = rt.BlockOnBounded(async () =>
        {
            int me = Environment.CurrentManagedThreadId;
            (int tid, int v) = await KyotoTask.SpawnBlocking(() => (Environment.CurrentManagedThreadId, 10));
            return (me, tid, v);
        });
        Assert.NotEqual(caller, blocking);
        Assert.Equal(10, value);
    }

    [Fact]
    public void SpawnBlocking_Action_RunsToCompletion()
    {
        using var rt = NewRuntime();
        int ran = 0;
        rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => { Interlocked.Increment(ref ran); }));
        Assert.Equal(1, ran);
    }

    [Fact]
    public void SpawnBlocking_FromOutside_CanBeJoinedFromOutside()
    {
        using var rt = NewRuntime();
        Assert.Equal(4, Bounded.Join(rt.SpawnBlocking(() => 4)));
        Assert.Equal(5, Bounded.Join(rt.Handle.SpawnBlocking(() => 5)));
    }

    [Fact]
    public void SpawnBlocking_Throws_JoinExceptionIsFaultedWithOriginal()
    {
        using var rt = NewRuntime();
        var boom = new FormatException();
        JoinException e = Bounded.JoinFails(rt.SpawnBlocking(new Func<int>(() => throw boom)));
        Assert.True(e.IsFaulted);
        Assert.Same(boom, e.InnerException);
    }

    [Fact]
    public void SpawnBlocking_InsideBlockingTask_HasTaskIdAndRuntime()
    {
        using var rt = NewRuntime();
        (TaskId? inside, TaskId handleId, bool sameRuntime) = rt.BlockOnBounded(async () =>
        {
            JoinHandle<(TaskId?, bool)> h = KyotoTask.SpawnBlocking(() => (KyotoTask.CurrentId, ReferenceEquals(RuntimeHandle.TryCurrent, rt.Handle)));
            (TaskId? id, bool same) = await h;
            return (id, h.Id, same);
        });
        Assert.Equal(handleId, inside);
        Assert.True(sameRuntime);
    }

    [Fact]
    public void SpawnBlocking_CapTwo_AtMostTwoRunAtOnceAndAllFinish()
    {
        using var rt = NewRuntime(b => b.MaxBlockingThreads = 2);
        using var barrier = new Barrier(2);
        int running = 0;
        int maxRunning = 0;
        JoinHandle[] handles = [.. Enumerable.Range(0, 4).Select(_ => rt.SpawnBlocking(() =>
        {
            int now = Interlocked.Increment(ref running);
            int seen;
            while ((seen = Volatile.Read(ref maxRunning)) < now && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen)
            {
            }

            // Pairs meet here: with a cap of 2 the first two meet, then the last two.
            Assert.True(barrier.SignalAndWait(Bounded.Timeout), "blocking tasks did not meet at the barrier");
            Interlocked.Decrement(ref running);
        }))];
        foreach (JoinHandle h in handles)
        {
            Bounded.Join(h, "a capped blocking task");
        }

        Assert.Equal(2, Volatile.Read(ref maxRunning));
        Assert.True(rt.Metrics.BlockingThreads <= 2);
    }

    [Fact]
    public void SpawnBlocking_CapReached_QueuesUntilAThreadFrees()
    {
        using var rt = NewRuntime(b => b.MaxBlockingThreads = 1);
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        JoinHandle<int> first = rt.SpawnBlocking(() =>
        {
            running.Set();
            release.Wait(Bounded.Timeout);
            return 1;
        });
        Bounded.Wait(running, "the first blocking task");
        JoinHandle<int> second = rt.SpawnBlocking(() => 2);
        Assert.Equal(1, rt.Metrics.BlockingThreads);
        Assert.Equal(1, rt.Metrics.BlockingQueueDepth);
        Assert.False(second.IsFinished);
        release.Set();
        Assert.Equal(1, Bounded.Join(first));
        Assert.Equal(2, Bounded.Join(second));
        Assert.Equal(0, rt.Metrics.BlockingQueueDepth);
    }

    [Fact]
    public void SpawnBlocking_QueuedThenAborted_NeverRunsAndIsCancelled()
    {
        using var rt = NewRuntime(b => b.MaxBlockingThreads = 1);
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        JoinHandle first = rt.SpawnBlocking(() =>
        {
            running.Set();
            release.Wait(Bounded.Timeout);
        });
        Bounded.Wait(running, "the first blocking task");
        int ran = 0;
        JoinHandle queued = rt.SpawnBlocking(() => { Interlocked.Increment(ref ran); });
        queued.Abort();
        release.Set();
        Bounded.Join(first);
        Assert.True(Bounded.JoinFails(queued).IsCancelled);
        Assert.Equal(0, Volatile.Read(ref ran));
    }

    [Fact]
    public void SpawnBlocking_IdleThread_IsReusedWithinKeepAlive()
    {
        using var rt = NewRuntime(b => b.ThreadKeepAlive = TimeSpan.FromMinutes(5));
        int first = Bounded.Join(rt.SpawnBlocking(() => Environment.CurrentManagedThreadId));
        int second = Bounded.Join(rt.SpawnBlocking(() => Environment.CurrentManagedThreadId));
        Assert.Equal(first, second);
        Assert.Equal(1, rt.Metrics.BlockingThreads);
    }

    [Fact]
    public void SpawnBlocking_IdleThread_ExitsAfterKeepAlive()
    {
        int blockingThread = 0;
        using var stopped = new ManualResetEventSlim();
        using var rt = NewRuntime(b =>
        {
            b.ThreadKeepAlive = TimeSpan.FromMilliseconds(50);
            b.OnThreadStop = () =>
            {
                if (Environment.CurrentManagedThreadId == Volatile.Read(ref blockingThread))
                {
                    stopped.Set();
                }
            };
        });
        Bounded.Join(rt.SpawnBlocking(() => Volatile.Write(ref blockingThread, Environment.CurrentManagedThreadId)));
        Bounded.Wait(stopped, "the idle blocking thread to exit");
        Assert.Equal(0, rt.Metrics.BlockingThreads);
        Assert.Equal(7, Bounded.Join(rt.SpawnBlocking(() => 7))); // a new thread starts on demand
    }

    [Fact]
    public void SpawnBlocking_ManyAtOnce_AllComplete()
    {
        using var rt = NewRuntime(b => b.MaxBlockingThreads = 4);
        long sum = rt.BlockOnBounded(async () =>
        {
            var handles = new List<JoinHandle<int>>();
            for (int i = 0; i < 500; i++)
            {
                int n = i;
                handles.Add(KyotoTask.SpawnBlocking(() => n));
            }

            long total = 0;
            foreach (JoinHandle<int> h in handles)
            {
                total += await h;
            }

            return total;
        });
        Assert.Equal(500L * 499 / 2, sum);
        Assert.True(rt.Metrics.BlockingThreads <= 4);
    }

    [Fact]
    public void SpawnBlocking_AwaitedByTask_ResumesOnRuntime()
    {
        using var rt = NewRuntime();
        (bool onRuntime, TaskId before, TaskId? after) = rt.BlockOnBounded(async () =>
        {
            TaskId id = KyotoTask.Id;
            await KyotoTask.SpawnBlocking(() => Thread.Yield());
            return (ReferenceEquals(RuntimeHandle.TryCurrent, rt.Handle), id, KyotoTask.CurrentId);
        });
        Assert.True(onRuntime);
        Assert.Equal(before, after);
    }

    [Fact]
    public void SpawnBlocking_FlowsAsyncLocal()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<string>();
        string? seen = rt.BlockOnBounded(async () =>
        {
            local.Value = "flowed";
            return await KyotoTask.SpawnBlocking(() => local.Value);
        });
        Assert.Equal("flowed", seen);
    }

    [Fact]
    public void SpawnBlocking_OneshotSentFromBlockingThread_WakesTask()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            _ = KyotoTask.SpawnBlocking(() => tx.TrySend(99));
            return await rx;
        });
        Assert.Equal(99, v);
    }
}
