using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// AsyncMutex (Tokio's <c>sync_mutex</c>): mutual exclusion, FIFO hand-off, cancellation and abort of a
/// waiting lock, the guards, and the blocking entry point.
/// </summary>
public abstract class MutexTests : RuntimeTestBase
{
    public sealed class MultiThread : MutexTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : MutexTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Spawns a task that calls <paramref name="start"/> (queueing its waiter) and awaits it; returns once the waiter is queued.</summary>
    private static async Task<JoinHandle<T>> SpawnWaitingAsync<T>(Func<ValueTask<T>> start)
    {
        var (readyTx, readyRx) = Oneshot.Create<bool>();
        JoinHandle<T> handle = KyotoTask.Spawn(async () =>
        {
            ValueTask<T> pending = start();
            readyTx.TrySend(true);
            return await pending;
        });
        await readyRx;
        return handle;
    }

    [Fact]
    public void LockAsync_Uncontended_GuardReachesValueAndDisposeUnlocks()
    {
        using var rt = NewRuntime();
        (bool before, bool during, string value, bool after) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<string>("hello");
            bool b = mutex.IsLocked;
            MutexGuard<string> guard = await mutex.LockAsync();
            bool d = mutex.IsLocked;
            string v = guard.Value;
            guard.Dispose();
            return (b, d, v, mutex.IsLocked);
        });
        Assert.False(before);
        Assert.True(during);
        Assert.Equal("hello", value);
        Assert.False(after);
    }

    [Fact]
    public void Value_IsAReference_WritesThroughItPersist()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(1);
            using (MutexGuard<int> g = await mutex.LockAsync())
            {
                ref int v = ref g.Value;
                v += 10;
            }

            using (OwnedMutexGuard<int> g = await mutex.LockOwnedAsync())
            {
                g.Value *= 2;
            }

            using MutexGuard<int> last = await mutex.LockAsync();
            return last.Value;
        });
        Assert.Equal(22, value);
    }

    [Fact]
    public void LockAsync_WaitersQueuedInOrder_GetTheLockInThatOrder()
    {
        const int Waiters = 20;
        using var rt = NewRuntime();
        List<int> order = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<List<int>>(new List<int>());
            MutexGuard<List<int>> first = await mutex.LockAsync();
            var pending = new ValueTask<MutexGuard<List<int>>>[Waiters];
            for (int i = 0; i < Waiters; i++)
            {
                pending[i] = mutex.LockAsync(); // queued now, in this order
            }

            var handles = new JoinHandle[Waiters];
            for (int i = Waiters - 1; i >= 0; i--)
            {
                // Spawned in reverse, so that only the queue (not the spawn order) can produce the expected order.
                int id = i;
                ValueTask<MutexGuard<List<int>>> mine = pending[i];
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    using MutexGuard<List<int>> g = await mine;
                    g.Value.Add(id);
                });
            }

            first.Dispose();
            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.False(mutex.IsLocked);
            using MutexGuard<List<int>> last = await mutex.LockAsync();
            return last.Value;
        });
        Assert.Equal(Enumerable.Range(0, Waiters), order);
    }

    [Fact]
    public void LockAsync_OwnedAndBorrowedWaitersMixed_KeepOneQueueOrder()
    {
        using var rt = NewRuntime();
        List<string> order = rt.BlockOnBounded(async () =>
        {
            var log = new List<string>();
            var mutex = new AsyncMutex<List<string>>(log);
            OwnedMutexGuard<List<string>> first = await mutex.LockOwnedAsync();
            ValueTask<MutexGuard<List<string>>> a = mutex.LockAsync();
            ValueTask<OwnedMutexGuard<List<string>>> b = mutex.LockOwnedAsync();
            ValueTask<MutexGuard<List<string>>> c = mutex.LockAsync();
            JoinHandle hc = KyotoTask.Spawn(async () =>
            {
                using MutexGuard<List<string>> g = await c;
                g.Value.Add("c");
            });
            JoinHandle hb = KyotoTask.Spawn(async () =>
            {
                using OwnedMutexGuard<List<string>> g = await b;
                Assert.Same(mutex, g.Mutex);
                g.Value.Add("b");
            });
            JoinHandle ha = KyotoTask.Spawn(async () =>
            {
                using MutexGuard<List<string>> g = await a;
                g.Value.Add("a");
            });
            first.Dispose();
            await ha;
            await hb;
            await hc;
            return log;
        });
        Assert.Equal(["a", "b", "c"], order);
    }

    [Fact]
    public void LockAsync_ManyTasksWithAwaitsInside_NeverTwoHolders()
    {
        const int Tasks = 16;
        const int Rounds = 200;
        using var rt = NewRuntime();
        (int counter, int overlaps) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            int holders = 0;
            int overlap = 0;
            var handles = new JoinHandle[Tasks];
            for (int t = 0; t < Tasks; t++)
            {
                handles[t] = KyotoTask.Spawn(async () =>
                {
                    for (int r = 0; r < Rounds; r++)
                    {
                        using MutexGuard<int> g = await mutex.LockAsync();
                        if (Interlocked.Increment(ref holders) != 1)
                        {
                            Interlocked.Increment(ref overlap);
                        }

                        int read = g.Value;
                        await KyotoTask.Yield(); // held across an await
                        g.Value = read + 1;
                        Interlocked.Decrement(ref holders);
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            using MutexGuard<int> final = await mutex.LockAsync();
            return (final.Value, overlap);
        });
        Assert.Equal(0, overlaps);
        Assert.Equal(Tasks * Rounds, counter);
    }

    [Fact]
    public void TryLock_LockedOrJustHandedToAWaiter_ReturnsFalse()
    {
        using var rt = NewRuntime();
        (bool whileHeld, bool afterHandOff, bool whenFree) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            Assert.True(mutex.TryLock(out MutexGuard<int> held));
            bool a = mutex.TryLock(out _);
            ValueTask<MutexGuard<int>> waiting = mutex.LockAsync();
            held.Dispose(); // handed straight to the waiter
            bool b = mutex.TryLock(out _);
            MutexGuard<int> g = await waiting;
            g.Dispose();
            bool c = mutex.TryLock(out MutexGuard<int> free);
            free.Dispose();
            return (a, b, c);
        });
        Assert.False(whileHeld);
        Assert.False(afterHandOff);
        Assert.True(whenFree);
    }

    [Fact]
    public void LockAsync_TokenCancelledBeforeCall_ThrowsAndTakesNothing()
    {
        using var rt = NewRuntime();
        (Exception? free, Exception? owned, Exception? locked, bool lockedAfter) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            var cancelled = new CancellationToken(canceled: true);
            Exception? a = await Record.ExceptionAsync(async () => await mutex.LockAsync(cancelled));
            Exception? b = await Record.ExceptionAsync(async () => await mutex.LockOwnedAsync(cancelled));
            Assert.False(mutex.IsLocked);
            Assert.True(mutex.TryLock(out MutexGuard<int> g));
            Exception? c = await Record.ExceptionAsync(async () => await mutex.LockAsync(cancelled));
            g.Dispose(); // no waiter was left to take it
            return (a, b, c, mutex.IsLocked);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(free);
        Assert.IsAssignableFrom<OperationCanceledException>(owned);
        Assert.IsAssignableFrom<OperationCanceledException>(locked);
        Assert.False(lockedAfter);
    }

    [Fact]
    public void LockAsync_CancelledWhileQueued_NextWaiterGetsTheLock()
    {
        using var rt = NewRuntime();
        (Exception? cancelled, int got, bool lockedAfter) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(7);
            MutexGuard<int> held = await mutex.LockAsync();
            using var cts = new CancellationTokenSource();
            ValueTask<MutexGuard<int>> a = mutex.LockAsync(cts.Token);
            ValueTask<MutexGuard<int>> b = mutex.LockAsync();
            cts.Cancel();
            Exception? e = await Record.ExceptionAsync(async () => await a);
            held.Dispose();
            MutexGuard<int> g = await b;
            int v = g.Value;
            g.Dispose();
            return (e, v, mutex.IsLocked);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(cancelled);
        Assert.Equal(7, got);
        Assert.False(lockedAfter);
    }

    [Fact]
    public void LockAsync_ManyCancelledWaits_LeaveNoWaiterBehind()
    {
        const int Waits = 20_000;
        using var rt = NewRuntime();
        (int cancelled, bool lockedAfter) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            MutexGuard<int> held = await mutex.LockAsync();
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<MutexGuard<int>> pending = mutex.LockAsync(cts.Token);
                cts.Cancel();
                try
                {
                    using MutexGuard<int> g = await pending;
                }
                catch (OperationCanceledException)
                {
                    n++;
                }
            }

            held.Dispose(); // a waiter left behind would be handed the lock
            return (n, mutex.IsLocked);
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.False(lockedAfter);
    }

    [Fact]
    public void LockAsync_TaskAbortedWhileQueued_LeavesQueue()
    {
        using var rt = NewRuntime();
        (JoinException e, bool lockedAfter) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            MutexGuard<int> held = await mutex.LockAsync();
            JoinHandle<MutexGuard<int>> h = await SpawnWaitingAsync(() => mutex.LockAsync());
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            held.Dispose();
            return (ex, mutex.IsLocked);
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.False(lockedAfter);
    }

    [Fact]
    public void LockAsync_TaskAbortedJustAsLockIsHandedToIt_ReleasesTheLock()
    {
        using var rt = NewRuntime();
        (JoinException e, bool lockedAfter, bool relock) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            MutexGuard<int> held = await mutex.LockAsync();
            JoinHandle<OwnedMutexGuard<int>> h = await SpawnWaitingAsync(() => mutex.LockOwnedAsync());
            held.Dispose(); // handed to the waiter, whose task is woken...
            h.Abort();      // ...but aborted before it resumes: the lock must be released
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            bool locked = mutex.IsLocked;
            bool again = mutex.TryLock(out MutexGuard<int> g);
            g.Dispose();
            return (ex, locked, again);
        });
        Assert.True(e.IsCancelled);
        Assert.False(lockedAfter);
        Assert.True(relock);
    }

    [Fact]
    public void Guard_ValueAfterDispose_ThrowsObjectDisposed()
    {
        var mutex = new AsyncMutex<int>(3);
        Assert.True(mutex.TryLock(out MutexGuard<int> g));
        Assert.Equal(3, g.Value);
        g.Dispose();
        Assert.Throws<ObjectDisposedException>(() => g.Value);
        g.Dispose(); // a second dispose of the same variable does nothing
        Assert.False(mutex.IsLocked);
        Assert.True(mutex.TryLock(out MutexGuard<int> again));
        Assert.True(mutex.IsLocked);
        again.Dispose();
        MutexGuard<int> never = default;
        Assert.Throws<ObjectDisposedException>(() => never.Value);
    }

    [Fact]
    public void OwnedGuard_DisposedTwiceAndFromAnotherTask_UnlocksOnce()
    {
        using var rt = NewRuntime();
        (bool secondTryLock, Exception? valueAfter) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            OwnedMutexGuard<int> owned = await mutex.LockOwnedAsync();
            await KyotoTask.Spawn(() =>
            {
                owned.Value = 5;
                owned.Dispose();
                return Task.CompletedTask;
            });
            owned.Dispose(); // must not unlock a second time
            Assert.True(mutex.TryLock(out MutexGuard<int> first));
            bool second = mutex.TryLock(out MutexGuard<int> extra);
            extra.Dispose();
            Assert.Equal(5, first.Value);
            first.Dispose();
            return (second, Record.Exception(() => owned.Value));
        });
        Assert.False(secondTryLock); // a double unlock would have let two holders in
        Assert.IsType<ObjectDisposedException>(valueAfter);
    }

    [Fact]
    public void BlockingLock_OnAWorkerThread_ThrowsInvalidOperation()
    {
        using var rt = NewRuntime();
        (Exception? e, bool locked) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
            Exception? ex = null;
            await KyotoTask.Spawn(() =>
            {
                ex = Record.Exception(() => mutex.BlockingLock());
                return Task.CompletedTask;
            });
            return (ex, mutex.IsLocked);
        });
        Assert.IsType<InvalidOperationException>(e);
        Assert.False(locked);
    }

    [Fact]
    public void BlockingLock_FromPlainThread_WaitsForTheHolderThenLocks()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        var mutex = new AsyncMutex<int>(0);
        var (releaseTx, releaseRx) = Oneshot.Create<bool>();
        var (heldTx, heldRx) = Oneshot.Create<bool>();
        JoinHandle holder = rt.Spawn(async () =>
        {
            using MutexGuard<int> g = await mutex.LockAsync();
            g.Value = 41;
            heldTx.TrySend(true);
            await releaseRx;
        });
        Assert.True(Bounded.Result(heldRx.RecvAsync().AsTask(), "the holder to lock"));
        Task<int> blocked = Bounded.OnThread(() =>
        {
            MutexGuard<int> g = mutex.BlockingLock();
            g.Value++;
            int v = g.Value;
            g.Dispose();
            return v;
        });
        Assert.False(mutex.TryLock(out _));
        releaseTx.TrySend(true);
        Bounded.Join(holder);
        Assert.Equal(42, Bounded.Result(blocked, "BlockingLock on a plain thread"));
        Assert.False(mutex.IsLocked);
    }

    [Fact]
    public void LockAsync_FreeInATightLoop_StillLetsAnotherTaskRun()
    {
        // One thread of work: the coop budget must make a lock that could be taken at once yield when spent.
        const int Cap = 1_000_000;
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (int spins, bool flagSet) = rt.BlockOnBounded(async () =>
        {
            var mutex = new AsyncMutex<int>(0);
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
                    using MutexGuard<int> g = await mutex.LockAsync();
                    n++;
                }

                await setter;
                return n;
            });
            int count = await spinner;
            return (count, Volatile.Read(ref flag));
        });
        Assert.True(flagSet);
        Assert.True(spins < Cap, $"the locking task ran {spins} locks without letting the other task run: the coop budget was not enforced");
    }
}
