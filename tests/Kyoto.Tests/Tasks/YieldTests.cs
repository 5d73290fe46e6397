using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>KyotoTask.Yield: always suspends, resumes on the runtime at the back of the queue.</summary>
public abstract class YieldTests : RuntimeTestBase
{
    public sealed class MultiThread : YieldTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadOneWorker : YieldTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;
    }

    public sealed class CurrentThread : YieldTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

        [Fact]
        public void Yield_TwoTasks_InterleaveInFifoOrder()
        {
            using var rt = NewRuntime();
            string[] log = rt.BlockOnBounded(async () =>
            {
                var entries = new List<string>();
                JoinHandle a = KyotoTask.Spawn(async () =>
                {
                    entries.Add("A1");
                    await KyotoTask.Yield();
                    entries.Add("A2");
                });
                JoinHandle b = KyotoTask.Spawn(async () =>
                {
                    entries.Add("B1");
                    await KyotoTask.Yield();
                    entries.Add("B2");
                });
                await a;
                await b;
                return entries.ToArray();
            });
            Assert.Equal(["A1", "B1", "A2", "B2"], log);
        }
    }

    [Fact]
    public void Yield_Awaiter_IsNeverCompleted()
    {
        Assert.False(KyotoTask.Yield().GetAwaiter().IsCompleted);
    }

    [Fact]
    public void Yield_TwoTasks_EachYieldLetsTheOtherRun()
    {
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        string[] log = rt.BlockOnBounded(async () =>
        {
            var entries = new ConcurrentQueue<string>();
            JoinHandle a = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    entries.Enqueue("A");
                    await KyotoTask.Yield();
                }
            });
            JoinHandle b = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < 3; i++)
                {
                    entries.Enqueue("B");
                    await KyotoTask.Yield();
                }
            });
            await a;
            await b;
            return entries.ToArray();
        });

        // On one thread, a yield puts the task behind the other: they strictly alternate.
        Assert.Equal(6, log.Length);
        for (int i = 1; i < log.Length; i++)
        {
            Assert.NotEqual(log[i - 1], log[i]);
        }
    }

    [Fact]
    public void Yield_ResumesOnRuntimeInSameTask()
    {
        using var rt = NewRuntime();
        (TaskId? before, TaskId? after, bool onRuntime) = rt.BlockOnBounded(async () =>
        {
            TaskId? id = KyotoTask.CurrentId;
            await KyotoTask.Yield();
            return (id, KyotoTask.CurrentId, ReferenceEquals(RuntimeHandle.TryCurrent, rt.Handle));
        });
        Assert.NotNull(before);
        Assert.Equal(before, after);
        Assert.True(onRuntime);
    }

    [Fact]
    public void Yield_ManyTimes_Completes()
    {
        using var rt = NewRuntime();
        int n = rt.BlockOnBounded(async () =>
        {
            int i = 0;
            for (; i < 100_000; i++)
            {
                await KyotoTask.Yield();
            }

            return i;
        });
        Assert.Equal(100_000, n);
    }

    [Fact]
    public void Yield_KeepsAsyncLocal()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<int>();
        int v = rt.BlockOnBounded(async () =>
        {
            local.Value = 17;
            await KyotoTask.Yield();
            await KyotoTask.Yield();
            return local.Value;
        });
        Assert.Equal(17, v);
    }

    [Fact]
    public void Yield_AfterAbort_ThrowsTaskAbortedException()
    {
        using var rt = NewRuntime();
        (int yields, JoinException e) = rt.BlockOnBounded(async () =>
        {
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            int count = 0;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                readyTx.TrySend(true);
                while (true)
                {
                    await KyotoTask.Yield();
                    count++;
                }
            });
            await readyRx;
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (count, ex);
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.True(yields < 10_000_000);
    }

    [Fact]
    public void Yield_OutsideRuntime_ContinuesOnThreadPool()
    {
        Assert.True(Bounded.Result(Task.Run(async () =>
        {
            await KyotoTask.Yield();
            return Thread.CurrentThread.IsThreadPoolThread;
        }), "a yield outside any runtime"));
    }

    [Fact]
    public void Yield_OnBlockingThreadTask_ContinuesOffTheRuntime()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() =>
        {
            // A blocking body can still run async code synchronously-waited; Yield must not deadlock it.
            return Bounded.Result(Task.Run(async () =>
            {
                await KyotoTask.Yield();
                return 2;
            }), "a yield inside Task.Run from a blocking task");
        }));
        Assert.Equal(2, v);
    }
}
