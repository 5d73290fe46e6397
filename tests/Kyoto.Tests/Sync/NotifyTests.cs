using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// Notify (Tokio's <c>sync_notify</c>): the stored permit of NotifyOne, FIFO wake-ups, NotifyLast, NotifyWaiters,
/// registration at call time, cancellation and abort of a wait (the notification is never lost).
/// </summary>
/// <remarks>
/// A wait joins the queue when <see cref="Notify.NotifiedAsync"/> is called. A test gives each queued wait its
/// own token and cancels every token at the end: a cancellation only fails a wait that is still queued, so the
/// outcomes show exactly which waits had been woken, without racing the woken tasks.
/// </remarks>
public abstract class NotifyTests : RuntimeTestBase
{
    public sealed class MultiThread : NotifyTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : NotifyTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Takes the stored permit if there is one: true if a wait completed at once, false if it had to queue (it is then cancelled).</summary>
    private static async Task<bool> TakeStoredPermitAsync(Notify notify)
    {
        using var cts = new CancellationTokenSource();
        ValueTask pending = notify.NotifiedAsync(cts.Token);
        cts.Cancel();
        try
        {
            await pending;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Queues <paramref name="count"/> waits, each with its own token.</summary>
    private static (ValueTask[] Pending, CancellationTokenSource[] Tokens) QueueWaits(Notify notify, int count)
    {
        var pending = new ValueTask[count];
        var tokens = new CancellationTokenSource[count];
        for (int i = 0; i < count; i++)
        {
            tokens[i] = new CancellationTokenSource();
            pending[i] = notify.NotifiedAsync(tokens[i].Token);
        }

        return (pending, tokens);
    }

    /// <summary>Cancels every wait still queued and returns which waits had been woken.</summary>
    private static async Task<bool[]> WokenAsync(ValueTask[] pending, CancellationTokenSource[] tokens)
    {
        foreach (CancellationTokenSource cts in tokens)
        {
            cts.Cancel();
        }

        var woken = new bool[pending.Length];
        for (int i = 0; i < pending.Length; i++)
        {
            try
            {
                await pending[i];
                woken[i] = true;
            }
            catch (OperationCanceledException)
            {
                woken[i] = false;
            }

            tokens[i].Dispose();
        }

        return woken;
    }

    /// <summary>Spawns a task that waits on <paramref name="notify"/>; returns once its wait is queued.</summary>
    private static async Task<JoinHandle> SpawnWaiterAsync(Notify notify)
    {
        var (readyTx, readyRx) = Oneshot.Create<bool>();
        JoinHandle handle = KyotoTask.Spawn(async () =>
        {
            ValueTask pending = notify.NotifiedAsync();
            readyTx.TrySend(true);
            await pending;
        });
        await readyRx;
        return handle;
    }

    [Fact]
    public void NotifyOne_BeforeAnyWait_StoresOnePermitEvenWhenCalledTwice()
    {
        using var rt = NewRuntime();
        (bool first, bool second, int waiters) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyOne();
            notify.NotifyOne();
            bool a = await TakeStoredPermitAsync(notify);
            bool b = await TakeStoredPermitAsync(notify);
            return (a, b, notify.WaiterCount);
        });
        Assert.True(first);
        Assert.False(second);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void NotifiedAsync_PermitStored_CompletesAtOnceWithoutQueueing()
    {
        using var rt = NewRuntime();
        (bool completed, int waiters) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyOne();
            await KyotoTask.Yield(); // a fresh budget
            ValueTask pending = notify.NotifiedAsync();
            bool done = pending.IsCompleted;
            int n = notify.WaiterCount;
            await pending;
            return (done, n);
        });
        Assert.True(completed);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void NotifyOne_WithWaiters_WakesTheLongestWaitingAndStoresNothing()
    {
        using var rt = NewRuntime();
        (bool[] woken, int countAfterTwo, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (pending, tokens) = QueueWaits(notify, 5);
            Assert.Equal(5, notify.WaiterCount);
            notify.NotifyOne();
            notify.NotifyOne();
            int count = notify.WaiterCount;
            bool[] w = await WokenAsync(pending, tokens);
            return (w, count, await TakeStoredPermitAsync(notify));
        });
        Assert.Equal([true, true, false, false, false], woken);
        Assert.Equal(3, countAfterTwo);
        Assert.False(stored); // the notifications went to waiters, none was kept
    }

    [Fact]
    public void NotifyOne_WaitersInTasks_WokenInArrivalOrder()
    {
        const int Waiters = 10;
        using var rt = NewRuntime();
        List<int> order = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var log = new List<int>();
            var pending = new ValueTask[Waiters];
            for (int i = 0; i < Waiters; i++)
            {
                pending[i] = notify.NotifiedAsync();
            }

            var handles = new JoinHandle[Waiters];
            for (int i = Waiters - 1; i >= 0; i--)
            {
                int id = i;
                ValueTask mine = pending[i];
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    await mine;
                    lock (log)
                    {
                        log.Add(id);
                    }

                    notify.NotifyOne(); // pass it on: only the next queued wait can take it
                });
            }

            notify.NotifyOne();
            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.True(await TakeStoredPermitAsync(notify)); // the last pass-on found nobody: stored
            return log;
        });
        Assert.Equal(Enumerable.Range(0, Waiters), order);
    }

    [Fact]
    public void NotifyLast_WithWaiters_WakesTheMostRecent()
    {
        using var rt = NewRuntime();
        bool[] woken = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (pending, tokens) = QueueWaits(notify, 4);
            notify.NotifyLast();
            return await WokenAsync(pending, tokens);
        });
        Assert.Equal([false, false, false, true], woken);
    }

    [Fact]
    public void NotifyLast_Twice_WakesTheTwoMostRecent()
    {
        using var rt = NewRuntime();
        bool[] woken = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (pending, tokens) = QueueWaits(notify, 4);
            notify.NotifyLast();
            notify.NotifyLast();
            return await WokenAsync(pending, tokens);
        });
        Assert.Equal([false, false, true, true], woken);
    }

    [Fact]
    public void NotifyLast_NoWaiter_StoresOnePermit()
    {
        using var rt = NewRuntime();
        (bool first, bool second) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyLast();
            notify.NotifyOne();
            return (await TakeStoredPermitAsync(notify), await TakeStoredPermitAsync(notify));
        });
        Assert.True(first);
        Assert.False(second);
    }

    [Fact]
    public void NotifyWaiters_WakesEveryCurrentWaiterAndStoresNothing()
    {
        using var rt = NewRuntime();
        (bool[] woken, int waitersAfter, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (pending, tokens) = QueueWaits(notify, 6);
            notify.NotifyWaiters();
            int after = notify.WaiterCount;
            bool[] w = await WokenAsync(pending, tokens);
            return (w, after, await TakeStoredPermitAsync(notify));
        });
        Assert.All(woken, Assert.True);
        Assert.Equal(0, waitersAfter);
        Assert.False(stored);
    }

    [Fact]
    public void NotifyWaiters_NoWaiter_StoresNothing()
    {
        using var rt = NewRuntime();
        bool stored = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyWaiters();
            return await TakeStoredPermitAsync(notify);
        });
        Assert.False(stored);
    }

    [Fact]
    public void NotifyWaiters_WaitRegisteredAfterwards_IsNotWoken()
    {
        using var rt = NewRuntime();
        bool[] woken = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (before, beforeTokens) = QueueWaits(notify, 2);
            notify.NotifyWaiters();
            var (after, afterTokens) = QueueWaits(notify, 2);
            bool[] first = await WokenAsync(before, beforeTokens);
            bool[] second = await WokenAsync(after, afterTokens);
            return first.Concat(second).ToArray();
        });
        Assert.Equal([true, true, false, false], woken);
    }

    [Fact]
    public void NotifiedAsync_NotificationBetweenCallAndAwait_IsNotMissed()
    {
        using var rt = NewRuntime();
        int waiters = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            ValueTask notified = notify.NotifiedAsync(); // registered here...
            notify.NotifyWaiters();                      // ...so this wakes it, though it is not awaited yet
            await notified;
            return notify.WaiterCount;
        });
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void NotifiedAsync_TokenCancelledBeforeCall_ThrowsAndLeavesStoredPermit()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyOne();
            Exception? ex = await Record.ExceptionAsync(async () => await notify.NotifiedAsync(new CancellationToken(canceled: true)));
            return (ex, notify.WaiterCount, await TakeStoredPermitAsync(notify));
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
        Assert.True(stored);
    }

    [Fact]
    public void NotifiedAsync_CancelledWhileWaiting_LeavesQueueSoNextNotifyOneIsStored()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            using var cts = new CancellationTokenSource();
            ValueTask pending = notify.NotifiedAsync(cts.Token);
            Assert.Equal(1, notify.WaiterCount);
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await pending);
            int count = notify.WaiterCount;
            notify.NotifyOne(); // a waiter left behind would swallow this
            return (ex, count, await TakeStoredPermitAsync(notify));
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
        Assert.True(stored);
    }

    [Fact]
    public void NotifiedAsync_CancelledAfterBeingNotified_CompletesNormally()
    {
        using var rt = NewRuntime();
        (Exception? e, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            using var cts = new CancellationTokenSource();
            ValueTask pending = notify.NotifiedAsync(cts.Token);
            notify.NotifyOne();
            cts.Cancel(); // too late: the notification won
            Exception? ex = await Record.ExceptionAsync(async () => await pending);
            return (ex, await TakeStoredPermitAsync(notify));
        });
        Assert.Null(e);
        Assert.False(stored); // consumed exactly once
    }

    [Fact]
    public void NotifiedAsync_ManyCancelledWaits_LeaveNoWaiterBehind()
    {
        const int Waits = 20_000;
        using var rt = NewRuntime();
        (int cancelled, int waiters, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask pending = notify.NotifiedAsync(cts.Token);
                cts.Cancel();
                try
                {
                    await pending;
                }
                catch (OperationCanceledException)
                {
                    n++;
                }
            }

            int count = notify.WaiterCount;
            notify.NotifyOne();
            return (n, count, await TakeStoredPermitAsync(notify));
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.Equal(0, waiters);
        Assert.True(stored);
    }

    [Fact]
    public void NotifiedAsync_TaskAbortedWhileWaiting_LeavesQueue()
    {
        using var rt = NewRuntime();
        (JoinException e, int waiters, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            JoinHandle h = await SpawnWaiterAsync(notify);
            Assert.Equal(1, notify.WaiterCount);
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            int count = notify.WaiterCount;
            notify.NotifyOne();
            return (ex, count, await TakeStoredPermitAsync(notify));
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.Equal(0, waiters);
        Assert.True(stored);
    }

    [Fact]
    public void NotifyOne_WaiterTaskAbortedBeforeResuming_PassesTheNotificationToTheNextWaiter()
    {
        using var rt = NewRuntime();
        (bool[] woken, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            JoinHandle h = await SpawnWaiterAsync(notify); // first in the queue
            var (pending, tokens) = QueueWaits(notify, 2);
            notify.NotifyOne(); // wakes the spawned task...
            h.Abort();          // ...which is aborted before it resumes
            await Record.ExceptionAsync(async () => await h);
            bool[] w = await WokenAsync(pending, tokens);
            return (w, await TakeStoredPermitAsync(notify));
        });
        Assert.Equal([true, false], woken);
        Assert.False(stored);
    }

    [Fact]
    public void NotifyOne_OnlyWaiterTaskAbortedBeforeResuming_StoresTheNotification()
    {
        using var rt = NewRuntime();
        bool stored = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            JoinHandle h = await SpawnWaiterAsync(notify);
            notify.NotifyOne();
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            return await TakeStoredPermitAsync(notify);
        });
        Assert.True(stored);
    }

    [Fact]
    public void NotifyLast_WaiterTaskAbortedBeforeResuming_PassesTheNotificationToTheNextMostRecent()
    {
        // Tokio forwards a dropped notification with the strategy it was sent with (notify_last: the newest waiter).
        using var rt = NewRuntime();
        bool[] woken = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var (pending, tokens) = QueueWaits(notify, 2);
            JoinHandle h = await SpawnWaiterAsync(notify); // the most recent waiter
            notify.NotifyLast();
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            return await WokenAsync(pending, tokens);
        });
        Assert.Equal([false, true], woken);
    }

    [Fact]
    public void NotifyWaiters_WaiterTaskAbortedBeforeResuming_StoresNothing()
    {
        using var rt = NewRuntime();
        bool stored = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            JoinHandle h = await SpawnWaiterAsync(notify);
            notify.NotifyWaiters();
            h.Abort();
            await Record.ExceptionAsync(async () => await h);
            return await TakeStoredPermitAsync(notify);
        });
        Assert.False(stored);
    }

    [Fact]
    public void NotifiedAsync_StoredPermitTakenOutOfBudgetThenAborted_PermitIsNotLost()
    {
        // Out of budget, a wait that finds the permit completes through a waiter after a yield. If the task is
        // aborted before it resumes, the await throws: the task never sees the notification, so it must be kept.
        using var rt = NewRuntime();
        (Exception? awaitError, bool stored) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            notify.NotifyOne();
            var (handleTx, handleRx) = Oneshot.Create<JoinHandle>();
            Exception? error = null;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                JoinHandle self = await handleRx;
                while (KyotoTask.HasBudgetRemaining)
                {
                    await KyotoTask.ConsumeBudget();
                }

                ValueTask pending = notify.NotifiedAsync(); // takes the permit
                self.Abort();
                error = await Record.ExceptionAsync(async () => await pending);
            });
            handleTx.TrySend(h);
            await Record.ExceptionAsync(async () => await h);
            return (error, await TakeStoredPermitAsync(notify));
        });
        Assert.IsType<TaskAbortedException>(awaitError);
        Assert.True(stored, "the stored permit was consumed by an aborted task that never saw it: the notification was lost");
    }

    [Fact]
    public void NotifyOne_FromPlainThread_WakesTheRuntimeWaiter()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        var notify = new Notify();
        var (readyTx, readyRx) = Oneshot.Create<bool>();
        JoinHandle<int> waiter = rt.Spawn(async () =>
        {
            ValueTask pending = notify.NotifiedAsync();
            readyTx.TrySend(true);
            await pending;
            return 1;
        });
        Assert.True(Bounded.Result(readyRx.RecvAsync().AsTask(), "the waiter to queue"));
        Bounded.Run(notify.NotifyOne, "NotifyOne on a plain thread");
        Assert.Equal(1, Bounded.Join(waiter));
        Assert.Equal(0, notify.WaiterCount);
    }

    [Fact]
    public void NotifiedAsync_ConditionLoopWithProducerTask_SeesEveryUpdate()
    {
        const int Updates = 2_000;
        using var rt = NewRuntime();
        int last = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var ack = new Notify();
            int value = 0;
            JoinHandle producer = KyotoTask.Spawn(async () =>
            {
                for (int i = 1; i <= Updates; i++)
                {
                    Volatile.Write(ref value, i);
                    notify.NotifyOne();
                    await ack.NotifiedAsync();
                }
            });
            int seen = 0;
            while (seen < Updates)
            {
                // The usual loop: check, then wait; the stored permit covers a notification between the two.
                while (Volatile.Read(ref value) == seen)
                {
                    await notify.NotifiedAsync();
                }

                seen = Volatile.Read(ref value);
                ack.NotifyOne();
            }

            await producer;
            return seen;
        });
        Assert.Equal(Updates, last);
    }

    [Fact]
    public void NotifiedAsync_PermitStoredEachTimeInATightLoop_StillLetsAnotherTaskRun()
    {
        const int Cap = 1_000_000;
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (int spins, bool flagSet) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            bool flag = false;
            JoinHandle<int> spinner = KyotoTask.Spawn(async () =>
            {
                // Spawned from the spinning task: queued on its own (only) worker, behind it.
                JoinHandle setter = KyotoTask.Spawn(() =>
                {
                    Volatile.Write(ref flag, true);
                    return Task.CompletedTask;
                });
                int n = 0;
                while (!Volatile.Read(ref flag) && n < Cap)
                {
                    notify.NotifyOne();
                    await notify.NotifiedAsync();
                    n++;
                }

                await setter;
                return n;
            });
            int count = await spinner;
            return (count, Volatile.Read(ref flag));
        });
        Assert.True(flagSet);
        Assert.True(spins < Cap, $"the waiting task ran {spins} waits without letting the other task run: the coop budget was not enforced");
    }
}
