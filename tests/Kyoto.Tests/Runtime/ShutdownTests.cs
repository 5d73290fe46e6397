using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>The shutdown protocol of Scheduler.cs, step by step, for both flavours.</summary>
public abstract class ShutdownTests : RuntimeTestBase
{
    public sealed class MultiThread : ShutdownTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        [Fact]
        public void Shutdown_QueuedTasksNotStarted_CompleteCancelledWithoutRunning()
        {
            using var rt = NewRuntime(b => b.WorkerThreads = 1);
            using var release = new ManualResetEventSlim();
            using var blocking = new ManualResetEventSlim();
            var (keepTx, keepRx) = Oneshot.Create<int>();

            // A task parked on a Kyoto await: shutdown aborts it, and its token releases the busy worker.
            using var armed = new ManualResetEventSlim();
            JoinHandle parked = rt.Spawn(async () =>
            {
                KyotoTask.CancellationToken.Register(release.Set);
                armed.Set();
                await keepRx;
            });
            Bounded.Wait(armed, "the parked task to start");

            // Occupy the only worker synchronously, so the next spawns stay queued.
            JoinHandle busy = rt.Spawn(() =>
            {
                blocking.Set();
                release.Wait(Bounded.Timeout);
                return Task.CompletedTask;
            });
            Bounded.Wait(blocking, "the worker to be occupied");

            int ran = 0;
            JoinHandle[] queued = [.. Enumerable.Range(0, 5).Select(_ => rt.Spawn(() =>
            {
                Interlocked.Increment(ref ran);
                return Task.CompletedTask;
            }))];

            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
            Assert.Equal(0, Volatile.Read(ref ran));
            foreach (JoinHandle h in queued)
            {
                Assert.True(h.IsFinished);
                Assert.True(Bounded.JoinFails(h).IsCancelled);
            }

            Assert.True(Bounded.JoinFails(parked).IsCancelled);
            Bounded.Join(busy);
            GC.KeepAlive(keepTx);
        }

        [Fact]
        public void Shutdown_TaskFinishingFirstPollAfterRegistryClosed_StillCompletesCancelled()
        {
            using var rt = NewRuntime(b => b.WorkerThreads = 2);
            using var gate = new ManualResetEventSlim();
            using var inFirstPoll = new ManualResetEventSlim();
            using var armed = new ManualResetEventSlim();
            var (keepTx, keepRx) = Oneshot.Create<int>();
            var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // Shutdown's abort sweep cancels this task's token, which opens the gate...
            JoinHandle trigger = rt.Spawn(async () =>
            {
                KyotoTask.CancellationToken.Register(gate.Set);
                armed.Set();
                await keepRx;
            });
            Bounded.Wait(armed, "the trigger task to park");

            // ...so this task's first poll ends after the registry closed, parked on a foreign task.
            JoinHandle late = rt.Spawn(async () =>
            {
                inFirstPoll.Set();
                gate.Wait(Bounded.Timeout);
                await never.Task;
            });
            Bounded.Wait(inFirstPoll, "the late task's first poll");

            rt.ShutdownBounded(TimeSpan.FromSeconds(2));
            Assert.True(trigger.IsFinished);
            Assert.True(late.IsFinished, "a task whose first poll ended after the registry closed was never completed: its joiners hang");
            GC.KeepAlive(keepTx);
        }
    }

    public sealed class CurrentThread : ShutdownTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

        [Fact]
        public void Shutdown_TasksSpawnedButNeverDriven_CompleteCancelledWithoutRunning()
        {
            using var rt = NewRuntime();
            int ran = 0;
            JoinHandle[] queued = [.. Enumerable.Range(0, 5).Select(_ => rt.Spawn(() =>
            {
                Interlocked.Increment(ref ran);
                return Task.CompletedTask;
            }))];
            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
            Assert.Equal(0, Volatile.Read(ref ran));
            Assert.All(queued, h => Assert.True(Bounded.JoinFails(h).IsCancelled));
        }

        [Fact]
        public void Shutdown_WhileBlockOnRuns_AbortsRootAndBlockOnThrows()
        {
            using var rt = NewRuntime();
            var (tx, rx) = Oneshot.Create<int>();
            using var running = new ManualResetEventSlim();
            bool finallyRan = false;
            Task root = Bounded.OnThread(() => rt.BlockOn(async () =>
            {
                try
                {
                    running.Set();
                    await rx;
                }
                finally
                {
                    finallyRan = true;
                }
            }));
            Bounded.Wait(running, "the root task");
            Assert.True(rt.ShutdownBounded(Bounded.Timeout));
            Assert.True(Bounded.Finishes(root));
            Assert.ThrowsAny<OperationCanceledException>(() => root.GetAwaiter().GetResult());
            Assert.True(finallyRan);
            GC.KeepAlive(tx);
        }
    }

    /// <summary>
    /// Spawns <paramref name="count"/> tasks that park on a oneshot nobody sends, one at a time, and returns
    /// once all are parked (see <see cref="ParkedTask"/> for why the ready signal proves it).
    /// </summary>
    private static JoinHandle<int>[] SpawnParked(Kyoto.Runtime rt, int count, Action onFinally, List<OneshotSender<int>> keepAlive)
    {
        return rt.BlockOnBounded(async () =>
        {
            var handles = new JoinHandle<int>[count];
            for (int i = 0; i < count; i++)
            {
                (handles[i], OneshotSender<int> tx) = await ParkedTask.SpawnAsync(onFinally);
                keepAlive.Add(tx);
            }

            return handles;
        });
    }

    [Fact]
    public void Shutdown_TasksParkedOnKyotoAwaits_AbortedFinallyRunsAndReturnsTrue()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        var senders = new List<OneshotSender<int>>();
        JoinHandle<int>[] handles = SpawnParked(rt, 20, () => Interlocked.Increment(ref finallies), senders);

        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.Equal(20, Volatile.Read(ref finallies));
        foreach (JoinHandle<int> h in handles)
        {
            Assert.True(h.IsFinished);
            JoinException e = Bounded.JoinFails(h);
            Assert.True(e.IsCancelled);
            Assert.IsType<TaskAbortedException>(e.InnerException);
        }

        Assert.True(rt.IsShutdown);
        Assert.Equal(0, rt.Metrics.AliveTasks);
    }

    [Fact]
    public void Shutdown_TaskToken_IsCancelled()
    {
        using var rt = NewRuntime();
        var (tx, rx) = Oneshot.Create<int>();
        CancellationToken token = rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<CancellationToken>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                startedTx.TrySend(KyotoTask.CancellationToken);
                await rx;
            });
            return await startedRx;
        });
        Assert.False(token.IsCancellationRequested);
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.True(token.IsCancellationRequested);
        GC.KeepAlive(tx);
    }

    [Fact]
    public void Shutdown_TaskStuckOnForeignTask_CompletesCancelledAfterTimeoutAndReturnsFalse()
    {
        using var rt = NewRuntime();
        var never = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool finallyRan = false;
        JoinHandle stuck = rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                try
                {
                    await KyotoTask.Yield();
                    startedTx.TrySend(true);
                    await never.Task;
                    await KyotoTask.Yield();
                }
                finally
                {
                    finallyRan = true;
                }
            });
            await startedRx;
            await KyotoTask.Yield();
            return h;
        });

        Assert.False(rt.ShutdownBounded(TimeSpan.FromMilliseconds(300)));
        Assert.True(stuck.IsFinished);
        JoinException e = Bounded.JoinFails(stuck);
        Assert.True(e.IsCancelled);

        // The foreign task completing later resumes nothing on the stopped runtime, and throws nowhere.
        never.SetResult(1);
        Assert.False(finallyRan);
    }

    [Fact]
    public void Shutdown_TaskIgnoringAbortWithForeignAwaits_CompletesCancelledAfterTimeoutAndReturnsFalse()
    {
        using var rt = NewRuntime();
        bool stop = false;
        JoinHandle stubborn = rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                startedTx.TrySend(true);
                while (!Volatile.Read(ref stop))
                {
                    await Task.Yield(); // a BCL await: abort cannot interrupt it
                }
            });
            await startedRx;
            return h;
        });

        // Shutdown must give up on the task after its timeout, even though the task always has work. The
        // loop is released only if Shutdown does not return (a hang): letting the abandoned task finish
        // while a worker may still run it would hit the Debug.Fail of the skipped test below.
        Task<bool> shutdown = Bounded.OnThread(() => rt.Shutdown(TimeSpan.FromMilliseconds(300)));
        bool returned = Bounded.Finishes(shutdown, TimeSpan.FromSeconds(10));
        if (!returned)
        {
            Volatile.Write(ref stop, true);
            Bounded.Wait(shutdown, "Shutdown once the task was released");
        }

        Assert.True(returned, "Shutdown(300 ms) did not return while a task kept yielding through foreign awaits");
        Assert.False(shutdown.Result);
        Assert.True(Bounded.JoinFails(stubborn).IsCancelled);
    }

    [Fact]
    public void Shutdown_TimedOutTaskFinishesOnWorkerAfterShutdownReturned_DoesNotCrash()
    {
        using var rt = NewRuntime();
        using var blocking = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();

        // The current-thread flavour runs tasks only while someone drives it: keep a driver going.
        using var driver = new BackgroundDriver(rt);
        JoinHandle h = rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<bool>();
            JoinHandle t = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                startedTx.TrySend(true);
                await Task.Yield(); // resumes through the task's SynchronizationContext, outside Kyoto's abort
                blocking.Set();
                release.Wait(Bounded.Timeout); // still running on a worker when shutdown gives up
            });
            await startedRx;
            return t;
        });
        Bounded.Wait(blocking, "the task to block its worker");
        Assert.False(rt.ShutdownBounded(TimeSpan.FromMilliseconds(300)));
        Assert.True(h.IsFinished); // completed as abandoned while its code still runs
        release.Set(); // the task's code now finishes on the worker: must not assert or crash
        Assert.True(Bounded.JoinFails(h).IsCancelled);
    }

    [Fact]
    public void Shutdown_InfiniteTimeout_WaitsForUnwindingAndReturnsTrue()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        var senders = new List<OneshotSender<int>>();
        SpawnParked(rt, 5, () => Interlocked.Increment(ref finallies), senders);
        Assert.True(Bounded.Run(() => rt.Shutdown(Timeout.InfiniteTimeSpan), "Shutdown(Infinite)"));
        Assert.Equal(5, Volatile.Read(ref finallies));
    }

    [Fact]
    public void Shutdown_Twice_SecondCallReturnsSameResult()
    {
        using var rt = NewRuntime();
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        rt.Dispose();
        rt.Dispose();
    }

    [Fact]
    public void Shutdown_ConcurrentCallers_AllReturnTrue()
    {
        using var rt = NewRuntime();
        var senders = new List<OneshotSender<int>>();
        SpawnParked(rt, 5, () => { }, senders);
        Task<bool>[] callers = [.. Enumerable.Range(0, 4).Select(_ => Bounded.OnThread(() => rt.Shutdown(Bounded.Timeout)))];
        Assert.All(callers, c => Assert.True(Bounded.Result(c, "a concurrent Shutdown")));
    }

    [Fact]
    public void Spawn_AfterShutdown_ThrowsRuntimeShutdownException()
    {
        using var rt = NewRuntime();
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.True(rt.IsShutdown);
        Assert.Throws<RuntimeShutdownException>(() => rt.Spawn(() => Task.CompletedTask));
        Assert.Throws<RuntimeShutdownException>(() => rt.Spawn(() => Task.FromResult(1)));
        Assert.Throws<RuntimeShutdownException>(() => rt.Handle.Spawn(() => Task.CompletedTask));
        Assert.Throws<RuntimeShutdownException>(() => rt.Handle.SpawnValueTask(() => ValueTask.CompletedTask));
        Assert.Throws<RuntimeShutdownException>(() => rt.Handle.UnsafeSpawn(() => Task.CompletedTask));
        Assert.Throws<RuntimeShutdownException>(() => rt.SpawnBlocking(() => { }));
        Assert.Throws<RuntimeShutdownException>(() => rt.SpawnBlocking(() => 1));
        using (rt.Enter())
        {
            Assert.Throws<RuntimeShutdownException>(() => KyotoTask.Spawn(() => Task.CompletedTask));
        }

        var set = new JoinSet<int>();
        Assert.Throws<RuntimeShutdownException>(() => set.SpawnOn(rt.Handle, () => Task.FromResult(1)));
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public void BlockOn_AfterShutdown_ThrowsRuntimeShutdownException()
    {
        using var rt = NewRuntime();
        rt.Dispose();
        Assert.Throws<RuntimeShutdownException>(() => rt.BlockOnBounded(() => Task.FromResult(1)));
    }

    [Fact]
    public void Spawn_FromTaskDuringShutdown_ThrowsRuntimeShutdownException()
    {
        using var rt = NewRuntime();
        var (tx, rx) = Oneshot.Create<int>();
        Exception? seen = null;
        using var done = new ManualResetEventSlim();
        rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                try
                {
                    await KyotoTask.Yield();
                    startedTx.TrySend(true);
                    await rx;
                }
                catch (TaskAbortedException)
                {
                    seen = Record.Exception(() => KyotoTask.Spawn(() => Task.CompletedTask));
                    done.Set();
                    throw;
                }
            });
            await startedRx;
        });
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Bounded.Wait(done, "the aborted task to try a spawn");
        Assert.IsType<RuntimeShutdownException>(seen);
        GC.KeepAlive(tx);
    }

    [Fact]
    public void Shutdown_FromWorker_ThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        (Exception? shutdown, Exception? dispose) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return (Record.Exception(() => rt.Shutdown(TimeSpan.FromSeconds(1))), Record.Exception(rt.Dispose));
        });
        Assert.IsType<InvalidOperationException>(shutdown);
        Assert.IsType<InvalidOperationException>(dispose);
        Assert.False(rt.IsShutdown);
    }

    [Fact]
    public void ShutdownBackground_FromTask_ShutsDownAndAbortsTheCaller()
    {
        using var rt = NewRuntime();
        Exception? e = Record.Exception(() => rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            rt.ShutdownBackground();
            for (int i = 0; i < 100_000_000; i++)
            {
                await KyotoTask.Yield(); // throws once the shutdown it started aborts this task
            }
        }));
        Assert.IsType<TaskAbortedException>(e);
        Assert.True(rt.IsShutdown);
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
    }

    [Fact]
    public void DisposeAsync_FromTask_StartsShutdownWithoutWaiting()
    {
        using var rt = NewRuntime();
        Exception? e = Record.Exception(() => rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            ValueTask disposing = rt.DisposeAsync();
            Assert.True(disposing.IsCompleted);
            for (int i = 0; i < 100_000_000; i++)
            {
                await KyotoTask.Yield();
            }
        }));
        Assert.IsType<TaskAbortedException>(e);
        Assert.True(rt.IsShutdown);
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
    }

    [Fact]
    public void DisposeAsync_FromOutside_CompletesAfterShutdown()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        var senders = new List<OneshotSender<int>>();
        SpawnParked(rt, 3, () => Interlocked.Increment(ref finallies), senders);
        Bounded.Wait(rt.DisposeAsync().AsTask(), "DisposeAsync");
        Assert.True(rt.IsShutdown);
        Assert.Equal(3, Volatile.Read(ref finallies));
    }

    [Fact]
    public void ShutdownBackground_FromOutside_ReturnsAtOnceAndRuntimeStops()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        var senders = new List<OneshotSender<int>>();
        JoinHandle<int>[] handles = SpawnParked(rt, 3, () => Interlocked.Increment(ref finallies), senders);
        rt.ShutdownBackground();
        foreach (JoinHandle<int> h in handles)
        {
            Assert.True(Bounded.JoinFails(h).IsCancelled);
        }

        Assert.True(rt.IsShutdown);
        Assert.Equal(3, Volatile.Read(ref finallies));
    }

    [Fact]
    public void Shutdown_BlockingTaskRunningPastTimeout_ReturnsFalseAndQueuedBlockingTaskCancelled()
    {
        using var rt = NewRuntime(b => b.MaxBlockingThreads = 1);
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        int queuedRan = 0;
        JoinHandle<int> first = rt.SpawnBlocking(() =>
        {
            running.Set();
            release.Wait(Bounded.Timeout);
            return 1;
        });
        Bounded.Wait(running, "the first blocking task");
        JoinHandle<int> queued = rt.SpawnBlocking(() => Interlocked.Increment(ref queuedRan));
        Assert.Equal(1, rt.Metrics.BlockingQueueDepth);
        try
        {
            Assert.False(rt.ShutdownBounded(TimeSpan.FromMilliseconds(300)));
            Assert.True(queued.IsFinished);
            Assert.True(Bounded.JoinFails(queued).IsCancelled);
            Assert.Equal(0, Volatile.Read(ref queuedRan));
            Assert.False(first.IsFinished);
        }
        finally
        {
            release.Set();
        }

        // A running blocking task cannot be stopped: it runs to its end and keeps its result.
        Assert.Equal(1, Bounded.Join(first));
    }

    [Fact]
    public void Shutdown_BlockingTaskFinishingWithinTimeout_ReturnsTrue()
    {
        using var rt = NewRuntime();
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        var (tx, rx) = Oneshot.Create<int>();

        // A parked task whose abort releases the blocking task once shutdown has begun.
        rt.BlockOnBounded(async () =>
        {
            var (armedTx, armedRx) = Oneshot.Create<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                KyotoTask.CancellationToken.Register(release.Set);
                armedTx.TrySend(true);
                await rx;
            });
            await armedRx;
        });
        JoinHandle<int> blocking = rt.SpawnBlocking(() =>
        {
            running.Set();
            release.Wait(Bounded.Timeout);
            return 3;
        });
        Bounded.Wait(running, "the blocking task");
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.True(blocking.IsFinished);
        Assert.Equal(3, Bounded.Join(blocking));
        GC.KeepAlive(tx);
    }

    [Fact]
    public void Shutdown_AbortedTaskUnwindingThroughKyotoAwaitsInFinally_IsWaitedFor()
    {
        using var rt = NewRuntime();
        var (tx, rx) = Oneshot.Create<int>();
        int cleanupSteps = 0;
        rt.BlockOnBounded(async () =>
        {
            var (startedTx, startedRx) = Oneshot.Create<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                try
                {
                    await KyotoTask.Yield();
                    startedTx.TrySend(true);
                    await rx;
                }
                finally
                {
                    // Cleanup that awaits foreign work still runs while shutdown waits.
                    for (int i = 0; i < 3; i++)
                    {
                        await Task.Yield();
                        cleanupSteps++;
                    }
                }
            });
            await startedRx;
        });
        Assert.True(rt.ShutdownBounded(Bounded.Timeout));
        Assert.Equal(3, cleanupSteps);
        GC.KeepAlive(tx);
    }
}
