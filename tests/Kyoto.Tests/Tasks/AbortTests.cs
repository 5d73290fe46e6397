using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>Cooperative abort: where it lands, what runs, what the joiner sees, and that it sticks.</summary>
public abstract class AbortTests : RuntimeTestBase
{
    public sealed class MultiThread : AbortTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : AbortTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    public sealed class MultiThreadOneWorker : AbortTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;
    }

    /// <summary>Spawns a task parked on a oneshot nobody sends, and waits until it is parked.</summary>
    private static async Task<(JoinHandle Handle, OneshotSender<int> Keep)> SpawnParked(Func<Task> onAbort)
    {
        var (tx, rx) = Oneshot.Create<int>();
        var (readyTx, readyRx) = Oneshot.Create<bool>();
        JoinHandle h = KyotoTask.Spawn(async () =>
        {
            await KyotoTask.Yield();
            readyTx.TrySend(true);
            try
            {
                await rx;
            }
            finally
            {
                await onAbort();
            }
        });
        await readyRx;
        await KyotoTask.Yield();
        return (h, tx);
    }

    [Fact]
    public void Abort_TaskParkedOnKyotoAwait_FinallyRunsAndJoinIsCancelled()
    {
        using var rt = NewRuntime();
        bool finallyRan = false;
        JoinException e = rt.BlockOnBounded(async () =>
        {
            var (h, keep) = await SpawnParked(() =>
            {
                finallyRan = true;
                return Task.CompletedTask;
            });
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            GC.KeepAlive(keep);
            return ex;
        });
        Assert.True(finallyRan);
        Assert.True(e.IsCancelled);
        Assert.False(e.IsFaulted);
        Assert.IsType<TaskAbortedException>(e.InnerException);
    }

    [Fact]
    public void Abort_TaskCatchesAbortOnce_NextYieldThrowsAgain()
    {
        using var rt = NewRuntime();
        (int caught, bool yieldThrew, JoinException join) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            int c = 0;
            bool threw = false;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                try
                {
                    await rx;
                }
                catch (TaskAbortedException)
                {
                    c++; // swallow it...
                }

                try
                {
                    await KyotoTask.Yield(); // ...but the abort sticks
                }
                catch (TaskAbortedException)
                {
                    threw = true;
                    throw;
                }
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            GC.KeepAlive(tx);
            return (c, threw, ex);
        });
        Assert.Equal(1, caught);
        Assert.True(yieldThrew);
        Assert.True(join.IsCancelled);
    }

    [Fact]
    public void Abort_Sticky_EveryKindOfKyotoAwaitThrowsAfterwards()
    {
        using var rt = NewRuntime();
        string[] threw = rt.BlockOnBounded(async () =>
        {
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            var (tx, rx) = Oneshot.Create<int>();
            var seen = new List<string>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                await Record.ExceptionAsync(async () => await rx); // the abort lands here
                if (await Record.ExceptionAsync(async () => await KyotoTask.Yield()) is TaskAbortedException)
                {
                    seen.Add("yield");
                }

                if (await Record.ExceptionAsync(async () => await KyotoTask.ConsumeBudget()) is TaskAbortedException)
                {
                    seen.Add("budget");
                }

                JoinHandle<int> finished = KyotoTask.Spawn(() => Task.FromResult(1));
                if (await Record.ExceptionAsync(async () => await finished) is TaskAbortedException)
                {
                    seen.Add("join");
                }

                var (tx2, rx2) = Oneshot.Create<int>();
                tx2.TrySend(2);
                if (await Record.ExceptionAsync(async () => await rx2) is TaskAbortedException)
                {
                    seen.Add("oneshot-ready");
                }
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            await h;
            GC.KeepAlive(tx);
            return seen.ToArray();
        });
        Assert.Equal(["yield", "budget", "join", "oneshot-ready"], threw);
    }

    [Fact]
    public void Abort_TaskRunningThenParksOnKyotoAwait_IsWokenAndCancelled()
    {
        var rt = NewRuntime();
        var driver = new BackgroundDriver(rt);
        try
        {
            using var running = new ManualResetEventSlim();
            using var gate = new ManualResetEventSlim();
            bool finallyRan = false;
            var (tx, rx) = Oneshot.Create<int>();

            // The task is aborted while it runs (not parked), then parks on a Kyoto await: the sticky abort
            // must wake that await, or the task hangs forever.
            JoinHandle h = rt.Spawn(async () =>
            {
                await KyotoTask.Yield();
                running.Set();
                gate.Wait(Bounded.Timeout);
                try
                {
                    await rx;
                }
                finally
                {
                    finallyRan = true;
                }
            });
            Bounded.Wait(running, "the task to run");
            h.Abort();
            gate.Set();
            Task joined = h.AsTask();
            Assert.True(Bounded.Finishes(joined, TimeSpan.FromSeconds(10)), "a task aborted while running, then parked on a oneshot, was never woken");
            Assert.True(finallyRan);
            JoinException e = Assert.Throws<JoinException>(() => joined.GetAwaiter().GetResult());
            Assert.True(e.IsCancelled);
            GC.KeepAlive(tx);
        }
        finally
        {
            rt.ShutdownBounded(TimeSpan.FromSeconds(1)); // short: with the bug the task never unwinds
            driver.Dispose();
            rt.Dispose();
        }
    }

    [Fact]
    public void Abort_Token_IsCancelledWhenAbortedAndCancelledAtOnceIfReadAfterwards()
    {
        using var rt = NewRuntime();
        (bool before, bool after, bool lateTokenCancelled, bool flag) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var (tokenTx, tokenRx) = Oneshot.Create<CancellationToken>();
            bool late = false;
            bool isAborted = false;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tokenTx.TrySend(KyotoTask.CancellationToken);
                try
                {
                    await rx;
                }
                finally
                {
                    isAborted = KyotoTask.IsAbortRequested;
                    late = KyotoTask.CancellationToken.IsCancellationRequested;
                }
            });
            CancellationToken token = await tokenRx;
            bool b = token.IsCancellationRequested;
            h.Abort();
            bool a = token.IsCancellationRequested;
            await Record.ExceptionAsync(async () => await h);
            GC.KeepAlive(tx);
            return (b, a, late, isAborted);
        });
        Assert.False(before);
        Assert.True(after);
        Assert.True(lateTokenCancelled);
        Assert.True(flag);
    }

    [Fact]
    public void Abort_TokenFirstReadAfterAbort_IsAlreadyCancelled()
    {
        using var rt = NewRuntime();
        bool cancelled = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            bool seen = false;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                try
                {
                    await rx;
                }
                finally
                {
                    seen = KyotoTask.CancellationToken.IsCancellationRequested; // created lazily, after the abort
                }
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            GC.KeepAlive(tx);
            return seen;
        });
        Assert.True(cancelled);
    }

    [Fact]
    public void Abort_BeforeTaskStarts_BodyNeverRuns()
    {
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (bool ran, JoinException e) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool bodyRan = false;

            // Spawned from this task: it cannot start before this task awaits (one worker / one thread).
            JoinHandle h = KyotoTask.Spawn(() =>
            {
                bodyRan = true;
                return Task.CompletedTask;
            });
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (bodyRan, ex);
        });
        Assert.False(ran);
        Assert.True(e.IsCancelled);
    }

    [Fact]
    public void Abort_FinishedTask_HasNoEffect()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 12;
            });
            await h;
            h.Abort();
            h.AbortHandle.Abort();
            Assert.True(h.IsFinished);
            return await h;
        });
        Assert.Equal(12, v);
    }

    [Fact]
    public void Abort_CalledManyTimesFromManyThreads_IsIdempotent()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        JoinException e = rt.BlockOnBounded(async () =>
        {
            var (h, keep) = await SpawnParked(() =>
            {
                Interlocked.Increment(ref finallies);
                return Task.CompletedTask;
            });
            AbortHandle a = h.AbortHandle;
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                for (int i = 0; i < 100; i++)
                {
                    a.Abort();
                }
            })));
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            GC.KeepAlive(keep);
            return ex;
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(1, finallies);
    }

    [Fact]
    public void Abort_FinallyAwaitsKyotoAwaitable_ThatAwaitThrowsToo()
    {
        using var rt = NewRuntime();
        Exception? inFinally = null;
        rt.BlockOnBounded(async () =>
        {
            var (h, keep) = await SpawnParked(async () =>
            {
                inFinally = await Record.ExceptionAsync(async () => await KyotoTask.Yield());
            });
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            GC.KeepAlive(keep);
        });
        Assert.IsType<TaskAbortedException>(inFinally);
    }

    [Fact]
    public void Abort_FinallyAwaitsForeignTask_CleanupCompletes()
    {
        using var rt = NewRuntime();
        int cleanup = 0;
        rt.BlockOnBounded(async () =>
        {
            var (h, keep) = await SpawnParked(async () =>
            {
                await Task.Run(() => Interlocked.Increment(ref cleanup)); // foreign awaits are not interrupted
                await Task.Yield();
                Interlocked.Increment(ref cleanup);
            });
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            GC.KeepAlive(keep);
        });
        Assert.Equal(2, cleanup);
    }

    [Fact]
    public void Abort_TaskParkedOnForeignTask_ResumesWhenItCompletesThenNextKyotoAwaitThrows()
    {
        using var rt = NewRuntime();
        var foreign = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        (int got, bool tokenCancelled, JoinException e) = rt.BlockOnBounded(async () =>
        {
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            int value = 0;
            bool cancelled = false;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                value = await foreign.Task; // abort cannot interrupt a foreign await...
                cancelled = KyotoTask.CancellationToken.IsCancellationRequested;
                await KyotoTask.Yield(); // ...but the next Kyoto await throws
                value = -1;
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            Assert.False(h.IsFinished);
            foreign.SetResult(5);
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (value, cancelled, ex);
        });
        Assert.Equal(5, got);
        Assert.True(tokenCancelled);
        Assert.True(e.IsCancelled);
    }

    [Fact]
    public void Abort_TaskWaitingOnForeignTaskWithItsToken_StopsAtOnce()
    {
        using var rt = NewRuntime();
        var never = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        JoinException e = rt.BlockOnBounded(async () =>
        {
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                await never.Task.WaitAsync(KyotoTask.CancellationToken);
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            return await Assert.ThrowsAsync<JoinException>(async () => await h);
        });
        Assert.True(e.IsCancelled);
        Assert.IsAssignableFrom<OperationCanceledException>(e.InnerException);
    }

    [Fact]
    public void Abort_SynchronousLoopPollingIsAbortRequested_SeesTheFlagAndEndsNormally()
    {
        using var rt = NewRuntime();
        using var running = new ManualResetEventSlim();
        using var driver = new BackgroundDriver(rt);
        JoinHandle<bool> h = rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            running.Set();
            long deadline = Environment.TickCount64 + (long)Bounded.Timeout.TotalMilliseconds;
            while (!KyotoTask.IsAbortRequested && Environment.TickCount64 < deadline)
            {
            }

            return KyotoTask.IsAbortRequested;
        });
        Bounded.Wait(running, "the loop to start");
        h.Abort();

        // The loop ends by itself and the task returns normally: abort is cooperative.
        Assert.True(Bounded.Join(h));
    }

    [Fact]
    public void Abort_WhileAwaitingJoinSetNext_WaiterThrowsAndSetKeepsResult()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle waiter = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                await set.JoinNextAsync();
            });
            await readyRx;
            await KyotoTask.Yield();
            waiter.Abort();
            Assert.True((await Assert.ThrowsAsync<JoinException>(async () => await waiter)).IsCancelled);
            tx.TrySend(31);
            JoinResult<int>? next = await set.JoinNextAsync();
            return next!.Value.Value;
        });
        Assert.Equal(31, value);
    }
    [Fact]
    public void Abort_WaitOnTheTasksOwnToken_EndsCancelledAndLeavesNoWaiter()
    {
        // The task's own token is not registered on the wait (KyotoValueTaskSource invariant 5): the abort alone
        // must end the wait and take the waiter out, so a permit added later is not swallowed by a ghost.
        using var rt = NewRuntime();
        (Exception? inside, bool joinCancelled, bool acquiredAfter) = rt.BlockOnBounded(async () =>
        {
            var semaphore = new AsyncSemaphore(0);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            Exception? seen = null;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                try
                {
                    using SemaphorePermit permit = await semaphore.AcquireAsync(KyotoTask.CancellationToken);
                }
                catch (Exception e)
                {
                    seen = e;
                    throw;
                }
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            JoinException? join = await Record.ExceptionAsync(async () => await h) as JoinException;
            semaphore.AddPermits(1);
            bool acquired = semaphore.TryAcquire(out SemaphorePermit after);
            after.Dispose();
            return (seen, join?.IsCancelled == true, acquired);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(inside);
        Assert.True(joinCancelled);
        Assert.True(acquiredAfter);
    }

    [Fact]
    public void Abort_WaitOnAnotherTasksToken_AwaitedElsewhere_IsCancelledByThatTasksAbort()
    {
        // A wait started in task A with A's own token but awaited by task B: A's abort does not reach B's await
        // through A's parked-on waiter, so the await must register the token after all.
        using var rt = NewRuntime();
        (bool cancelled, bool tokenMatches, bool acquiredAfter) = rt.BlockOnBounded(async () =>
        {
            var semaphore = new AsyncSemaphore(0);
            var (waitTx, waitRx) = Oneshot.Create<(ValueTask<SemaphorePermit> Wait, CancellationToken Token)>();
            var (neverTx, neverRx) = Oneshot.Create<int>();
            JoinHandle a = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                waitTx.TrySend((semaphore.AcquireAsync(KyotoTask.CancellationToken), KyotoTask.CancellationToken));
                await neverRx;
            });
            (ValueTask<SemaphorePermit> wait, CancellationToken aToken) = await waitRx;
            var (awaitingTx, awaitingRx) = Oneshot.Create<bool>();
            JoinHandle<Exception?> b = KyotoTask.Spawn<Exception?>(async () =>
            {
                try
                {
                    ValueTask<SemaphorePermit> pending = wait;
                    awaitingTx.TrySend(true); // the await below registers before A's abort can be seen by it, or after: both must end it
                    using SemaphorePermit permit = await pending;
                    return null;
                }
                catch (OperationCanceledException e)
                {
                    return e;
                }
            });
            await awaitingRx;
            a.Abort();
            await Record.ExceptionAsync(async () => await a);
            Exception? error = await b;
            semaphore.AddPermits(1);
            bool acquired = semaphore.TryAcquire(out SemaphorePermit after);
            after.Dispose();
            GC.KeepAlive(neverTx);
            return (error is OperationCanceledException, (error as OperationCanceledException)?.CancellationToken == aToken, acquired);
        });
        Assert.True(cancelled);
        Assert.True(tokenMatches);
        Assert.True(acquiredAfter);
    }
}
