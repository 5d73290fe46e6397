using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// AsyncSemaphore (Tokio's <c>sync_semaphore</c>): FIFO order, batch requests at the head, cancellation and
/// abort leaving no waiter and losing no permit, close, and the permit types.
/// </summary>
/// <remarks>
/// An acquire joins the queue when it is called, not when it is awaited, so a test that calls
/// <c>AcquireAsync</c> several times in a row knows the queue order. <see cref="AsyncSemaphore.Close"/> fails
/// exactly the waiters still queued, which lets a test read which waiters had been granted without racing them.
/// </remarks>
public abstract class SemaphoreTests : RuntimeTestBase
{
    public sealed class MultiThread : SemaphoreTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SemaphoreTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Awaits <paramref name="pending"/>: its permit count if granted (the permit is disposed), or -1 if it failed because the semaphore closed.</summary>
    private static async Task<int> GrantedCountAsync(ValueTask<SemaphorePermit> pending)
    {
        try
        {
            using SemaphorePermit permit = await pending;
            return permit.Count;
        }
        catch (SemaphoreClosedException)
        {
            return -1;
        }
    }

    /// <summary>Spawns a task that starts <paramref name="start"/> (queueing its waiter) and awaits it; returns once the waiter is queued.</summary>
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
    public void Constructor_NegativeOrAboveMax_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncSemaphore(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncSemaphore(AsyncSemaphore.MaxPermits + 1));
        Assert.Equal(AsyncSemaphore.MaxPermits, new AsyncSemaphore(AsyncSemaphore.MaxPermits).AvailablePermits);
    }

    [Fact]
    public void AcquireAsync_PermitsAvailable_CompletesAtOnceAndDisposeReturnsThem()
    {
        using var rt = NewRuntime();
        (bool completed, int during, int count, int after) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(5);
            await KyotoTask.Yield(); // a fresh budget
            ValueTask<SemaphorePermit> pending = sem.AcquireAsync(3);
            bool done = pending.IsCompleted;
            SemaphorePermit permit = await pending;
            int mid = sem.AvailablePermits;
            int n = permit.Count;
            permit.Dispose();
            return (done, mid, n, sem.AvailablePermits);
        });
        Assert.True(completed);
        Assert.Equal(2, during);
        Assert.Equal(3, count);
        Assert.Equal(5, after);
    }

    [Fact]
    public void AcquireAsync_InvalidCount_ThrowsArgumentOutOfRangeAndTakesNothing()
    {
        var sem = new AsyncSemaphore(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.AcquireAsync(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.AcquireAsync(AsyncSemaphore.MaxPermits + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.AcquireOwnedAsync(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.TryAcquire(-1, out _));
        Assert.Equal(3, sem.AvailablePermits);
    }

    [Fact]
    public void AcquireAsync_ZeroPermits_CompletesAtOnceEvenWithNoneAvailable()
    {
        using var rt = NewRuntime();
        int count = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            using SemaphorePermit p = await sem.AcquireAsync(0);
            return p.Count;
        });
        Assert.Equal(0, count);
    }

    [Fact]
    public void TryAcquire_EnoughOrNot_TakesAllOrNothing()
    {
        var sem = new AsyncSemaphore(3);
        Assert.True(sem.TryAcquire(2, out SemaphorePermit two));
        Assert.Equal(2, two.Count);
        Assert.Equal(1, sem.AvailablePermits);
        Assert.False(sem.TryAcquire(2, out SemaphorePermit none));
        Assert.Equal(0, none.Count);
        Assert.Equal(1, sem.AvailablePermits);
        Assert.True(sem.TryAcquire(out SemaphorePermit one));
        Assert.Equal(0, sem.AvailablePermits);
        Assert.False(sem.TryAcquire(out _));
        one.Dispose();
        two.Dispose();
        Assert.Equal(3, sem.AvailablePermits);
    }

    [Fact]
    public void Permit_DisposedTwiceFromTheSameVariable_ReturnsOnce()
    {
        var sem = new AsyncSemaphore(2);
        Assert.True(sem.TryAcquire(2, out SemaphorePermit p));
        p.Dispose();
        p.Dispose();
        Assert.Equal(2, sem.AvailablePermits);
        Assert.Equal(0, p.Count);
    }

    [Fact]
    public void Permit_Forget_DisposeReturnsNothing()
    {
        var sem = new AsyncSemaphore(4);
        Assert.True(sem.TryAcquire(3, out SemaphorePermit p));
        p.Forget();
        p.Dispose();
        Assert.Equal(1, sem.AvailablePermits);
        Assert.Equal(0, p.Count);
    }

    [Fact]
    public void Permit_Split_MovesPermitsAndBothPartsReturnThem()
    {
        var sem = new AsyncSemaphore(5);
        Assert.True(sem.TryAcquire(5, out SemaphorePermit p));
        SemaphorePermit part = p.Split(2);
        Assert.Equal(3, p.Count);
        Assert.Equal(2, part.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => p.Split(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => p.Split(-1));
        Assert.Equal(3, p.Count);
        part.Dispose();
        Assert.Equal(2, sem.AvailablePermits);
        p.Dispose();
        Assert.Equal(5, sem.AvailablePermits);
    }

    [Fact]
    public void Permit_SplitPartForgotten_OnlyTheRestReturns()
    {
        var sem = new AsyncSemaphore(5);
        Assert.True(sem.TryAcquire(5, out SemaphorePermit p));
        SemaphorePermit part = p.Split(1);
        part.Forget();
        p.Dispose();
        Assert.Equal(4, sem.AvailablePermits);
    }

    [Fact]
    public void OwnedPermit_DisposedTwiceAndFromAnotherTask_ReturnsOnce()
    {
        using var rt = NewRuntime();
        (int count, int afterFirst, int afterSecond) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(3);
            OwnedSemaphorePermit owned = await sem.AcquireOwnedAsync(2);
            int n = owned.Count;
            await KyotoTask.Spawn(() =>
            {
                owned.Dispose();
                return Task.CompletedTask;
            });
            int first = sem.AvailablePermits;
            owned.Dispose();
            return (n, first, sem.AvailablePermits);
        });
        Assert.Equal(2, count);
        Assert.Equal(3, afterFirst);
        Assert.Equal(3, afterSecond);
    }

    [Fact]
    public void OwnedPermit_Forget_DisposeReturnsNothing()
    {
        using var rt = NewRuntime();
        int left = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(3);
            OwnedSemaphorePermit owned = await sem.AcquireOwnedAsync(2);
            owned.Forget();
            owned.Dispose();
            return sem.AvailablePermits;
        });
        Assert.Equal(1, left);
    }

    [Fact]
    public void AddPermits_BeyondMax_ThrowsSemaphoreFullAndChangesNothing()
    {
        var sem = new AsyncSemaphore(AsyncSemaphore.MaxPermits - 1);
        Assert.Throws<SemaphoreFullException>(() => sem.AddPermits(2));
        Assert.Equal(AsyncSemaphore.MaxPermits - 1, sem.AvailablePermits);
        sem.AddPermits(1);
        Assert.Equal(AsyncSemaphore.MaxPermits, sem.AvailablePermits);
        Assert.Throws<SemaphoreFullException>(() => sem.AddPermits(1));
        Assert.Equal(AsyncSemaphore.MaxPermits, sem.AvailablePermits);
    }

    [Fact]
    public void AddPermits_PermitDisposedIntoFullSemaphore_ThrowsSemaphoreFull()
    {
        var sem = new AsyncSemaphore(AsyncSemaphore.MaxPermits);
        Assert.True(sem.TryAcquire(1, out SemaphorePermit p));
        sem.AddPermits(1);
        Assert.Throws<SemaphoreFullException>(() => p.Dispose());
        Assert.Equal(AsyncSemaphore.MaxPermits, sem.AvailablePermits);
    }

    [Fact]
    public void AddPermits_Negative_ThrowsArgumentOutOfRange()
    {
        var sem = new AsyncSemaphore(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.AddPermits(-1));
        sem.AddPermits(0);
        Assert.Equal(1, sem.AvailablePermits);
    }

    [Fact]
    public void ForgetPermits_RemovesUpToWhatIsAvailable()
    {
        var sem = new AsyncSemaphore(5);
        Assert.Equal(3, sem.ForgetPermits(3));
        Assert.Equal(2, sem.AvailablePermits);
        Assert.Equal(2, sem.ForgetPermits(10));
        Assert.Equal(0, sem.AvailablePermits);
        Assert.Equal(0, sem.ForgetPermits(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sem.ForgetPermits(-1));
    }

    [Fact]
    public void AcquireAsync_WaitersQueuedInOrder_GetPermitsInThatOrder()
    {
        const int Waiters = 20;
        using var rt = NewRuntime();
        List<int> order = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            var log = new List<int>();
            var pending = new ValueTask<SemaphorePermit>[Waiters];
            for (int i = 0; i < Waiters; i++)
            {
                pending[i] = sem.AcquireAsync(); // queued now, in this order
            }

            var handles = new JoinHandle[Waiters];
            for (int i = Waiters - 1; i >= 0; i--)
            {
                // Spawned in reverse, so that only the queue (not the spawn order) can produce the expected order.
                int id = i;
                ValueTask<SemaphorePermit> mine = pending[i];
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    using SemaphorePermit p = await mine;
                    lock (log)
                    {
                        log.Add(id);
                    }
                });
            }

            sem.AddPermits(1); // one permit passed from each waiter to the next as it disposes
            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.Equal(1, sem.AvailablePermits);
            return log;
        });
        Assert.Equal(Enumerable.Range(0, Waiters), order);
    }

    [Fact]
    public void AcquireAsync_MixedSizes_ServedStrictlyInQueueOrder()
    {
        using var rt = NewRuntime();
        (int[] outcomes, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            int[] sizes = [3, 1, 2, 5, 1];
            ValueTask<SemaphorePermit>[] pending = sizes.Select(n => sem.AcquireAsync(n)).ToArray();
            sem.AddPermits(4); // 3 and 1 are served; 2 gets nothing yet
            int mid = sem.AvailablePermits;
            sem.AddPermits(1); // 2 takes one of its two
            Assert.Equal(0, mid);
            Assert.Equal(0, sem.AvailablePermits);
            sem.Close(); // fails 2 (handing back its one), 5 and the last 1
            int afterClose = sem.AvailablePermits;
            var results = new int[pending.Length];
            for (int i = 0; i < pending.Length; i++)
            {
                results[i] = await GrantedCountAsync(pending[i]);
            }

            Assert.Equal(1, afterClose);
            return (results, sem.AvailablePermits);
        });
        Assert.Equal([3, 1, -1, -1, -1], outcomes);
        Assert.Equal(5, available); // 1 handed back by the failed waiter + 3 + 1 disposed
    }

    [Fact]
    public void AcquireAsync_LargeRequestAtHead_BlocksSmallerOnesBehindIt()
    {
        using var rt = NewRuntime();
        (int big, int small, int available, bool tryWhileBlocked) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            ValueTask<SemaphorePermit> large = sem.AcquireAsync(3);
            ValueTask<SemaphorePermit> little = sem.AcquireAsync(1);
            sem.AddPermits(2); // enough for the small one, but the large one is ahead: it takes both
            bool tried = sem.TryAcquire(1, out _);
            int avail = sem.AvailablePermits;
            sem.Close();
            Assert.Equal(0, avail);
            return (await GrantedCountAsync(large), await GrantedCountAsync(little), sem.AvailablePermits, tried);
        });
        Assert.False(tryWhileBlocked);
        Assert.Equal(-1, big);
        Assert.Equal(-1, small); // it would have been served had it overtaken the large request
        Assert.Equal(2, available); // the large request's partial grant went back on close
    }

    [Fact]
    public void AcquireAsync_LargeRequestAtHeadCompletes_ThenSmallerOnesFollow()
    {
        using var rt = NewRuntime();
        (int big, int small, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            ValueTask<SemaphorePermit> large = sem.AcquireAsync(3);
            ValueTask<SemaphorePermit> little = sem.AcquireAsync(1);
            sem.AddPermits(2);
            sem.AddPermits(1); // the large request is complete; the small one still waits
            SemaphorePermit bigPermit = await large;
            int n = bigPermit.Count;
            sem.AddPermits(1);
            SemaphorePermit smallPermit = await little;
            int m = smallPermit.Count;
            int avail = sem.AvailablePermits;
            bigPermit.Dispose();
            smallPermit.Dispose();
            Assert.Equal(4, sem.AvailablePermits);
            return (n, m, avail);
        });
        Assert.Equal(3, big);
        Assert.Equal(1, small);
        Assert.Equal(0, available);
    }

    [Fact]
    public void AcquireAsync_ReleasedPermitGoesToWaiterNotToLaterTryAcquire()
    {
        using var rt = NewRuntime();
        (bool stolen, int granted) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(1);
            Assert.True(sem.TryAcquire(out SemaphorePermit held));
            ValueTask<SemaphorePermit> waiting = sem.AcquireAsync();
            held.Dispose(); // handed straight to the waiter
            bool steal = sem.TryAcquire(out SemaphorePermit thief);
            thief.Dispose();
            return (steal, await GrantedCountAsync(waiting));
        });
        Assert.False(stolen);
        Assert.Equal(1, granted);
    }

    [Fact]
    public void AcquireAsync_TokenCancelledBeforeCall_ThrowsAndTakesNothing()
    {
        using var rt = NewRuntime();
        (Exception? withPermits, Exception? without, int available, int empty) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(2);
            var cancelled = new CancellationToken(canceled: true);
            Exception? a = await Record.ExceptionAsync(async () => await sem.AcquireAsync(cancelled));
            Exception? owned = await Record.ExceptionAsync(async () => await sem.AcquireOwnedAsync(1, cancelled));
            Assert.IsAssignableFrom<OperationCanceledException>(owned);
            var zero = new AsyncSemaphore(0);
            Exception? b = await Record.ExceptionAsync(async () => await zero.AcquireAsync(cancelled));
            zero.AddPermits(1); // no waiter was left to absorb it
            return (a, b, sem.AvailablePermits, zero.AvailablePermits);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(withPermits);
        Assert.IsAssignableFrom<OperationCanceledException>(without);
        Assert.Equal(2, available);
        Assert.Equal(1, empty);
    }

    [Fact]
    public void AcquireAsync_CancelledWhileQueued_LeavesQueueAndNextWaiterGetsThePermit()
    {
        using var rt = NewRuntime();
        (Exception? first, int second, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            using var cts = new CancellationTokenSource();
            ValueTask<SemaphorePermit> a = sem.AcquireAsync(cts.Token);
            ValueTask<SemaphorePermit> b = sem.AcquireAsync();
            cts.Cancel();
            Exception? e = await Record.ExceptionAsync(async () => await a);
            sem.AddPermits(1);
            SemaphorePermit got = await b;
            int n = got.Count;
            got.Dispose();
            return (e, n, sem.AvailablePermits);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(first);
        Assert.Equal(1, second);
        Assert.Equal(1, available);
    }

    [Fact]
    public void AcquireAsync_CancelledAfterPartialGrant_HandsItsPermitsToTheWaitersBehind()
    {
        using var rt = NewRuntime();
        (Exception? large, int b, int c, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            using var cts = new CancellationTokenSource();
            ValueTask<SemaphorePermit> big = sem.AcquireAsync(5, cts.Token);
            sem.AddPermits(3); // all three go to the head request
            ValueTask<SemaphorePermit> small1 = sem.AcquireAsync(1);
            ValueTask<SemaphorePermit> small2 = sem.AcquireAsync(1);
            Assert.Equal(0, sem.AvailablePermits);
            cts.Cancel(); // its three permits pass on: one each to the small waiters, one left over
            Exception? e = await Record.ExceptionAsync(async () => await big);
            int avail = sem.AvailablePermits;
            return (e, await GrantedCountAsync(small1), await GrantedCountAsync(small2), avail);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(large);
        Assert.Equal(1, b);
        Assert.Equal(1, c);
        Assert.Equal(1, available);
    }

    [Fact]
    public void AcquireAsync_CancelledLargeHeadWithoutPartialGrant_UnblocksSmallerOnes()
    {
        using var rt = NewRuntime();
        (int small, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(1);
            Assert.True(sem.TryAcquire(out SemaphorePermit held));
            using var cts = new CancellationTokenSource();
            ValueTask<SemaphorePermit> big = sem.AcquireAsync(2, cts.Token);
            ValueTask<SemaphorePermit> little = sem.AcquireAsync(1);
            cts.Cancel();
            await Record.ExceptionAsync(async () => await big);
            held.Dispose(); // the head is gone: the small request is served
            int n = await GrantedCountAsync(little);
            return (n, sem.AvailablePermits);
        });
        Assert.Equal(1, small);
        Assert.Equal(1, available);
    }

    [Fact]
    public void AcquireAsync_CancelledAfterGrant_KeepsThePermit()
    {
        using var rt = NewRuntime();
        (int count, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            using var cts = new CancellationTokenSource();
            ValueTask<SemaphorePermit> a = sem.AcquireAsync(cts.Token);
            sem.AddPermits(1); // granted
            cts.Cancel(); // too late: the grant wins
            using SemaphorePermit p = await a;
            return (p.Count, sem.AvailablePermits);
        });
        Assert.Equal(1, count);
        Assert.Equal(0, available);
    }

    [Fact]
    public void AcquireAsync_ManyCancelledWaits_NoWaiterLeftAndNoPermitLost()
    {
        // The million-wait version is in the stress project; this one keeps the unit suite fast.
        const int Waits = 20_000;
        using var rt = NewRuntime();
        (int cancelled, int availableAfterRelease, int final) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(3);
            Assert.True(sem.TryAcquire(3, out SemaphorePermit all));
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<SemaphorePermit> pending = sem.AcquireAsync(1 + (i % 3), cts.Token);
                cts.Cancel();
                try
                {
                    using SemaphorePermit p = await pending;
                }
                catch (OperationCanceledException)
                {
                    n++;
                }
            }

            all.Dispose(); // a waiter left behind would absorb these
            int avail = sem.AvailablePermits;
            using SemaphorePermit everything = await sem.AcquireAsync(3);
            return (n, avail, sem.AvailablePermits);
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.Equal(3, availableAfterRelease);
        Assert.Equal(0, final);
    }

    [Fact]
    public void AcquireAsync_TaskAbortedWhileQueued_LeavesQueue()
    {
        using var rt = NewRuntime();
        (JoinException e, int available, int next) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            JoinHandle<SemaphorePermit> h = await SpawnWaitingAsync(() => sem.AcquireAsync());
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            ValueTask<SemaphorePermit> later = sem.AcquireAsync();
            sem.AddPermits(2); // the aborted waiter must not take one
            int n = await GrantedCountAsync(later);
            return (ex, sem.AvailablePermits, n);
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.Equal(1, next);
        Assert.Equal(2, available);
    }

    [Fact]
    public void AcquireAsync_TaskAbortedAfterPartialGrant_HandsPermitsBack()
    {
        using var rt = NewRuntime();
        (int before, int after) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(2);
            JoinHandle<SemaphorePermit> h = await SpawnWaitingAsync(() => sem.AcquireAsync(3)); // takes 2, waits for 1
            int mid = sem.AvailablePermits;
            h.Abort();
            await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (mid, sem.AvailablePermits);
        });
        Assert.Equal(0, before);
        Assert.Equal(2, after);
    }

    [Fact]
    public void AcquireAsync_TaskAbortedJustAsPermitsAreHandedToIt_GivesThemBack()
    {
        using var rt = NewRuntime();
        (JoinException e, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            JoinHandle<SemaphorePermit> h = await SpawnWaitingAsync(() => sem.AcquireAsync(2));
            sem.AddPermits(2); // granted: the waiter completes, its task is woken...
            h.Abort();         // ...but aborted before it resumes: the permits must come back
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (ex, sem.AvailablePermits);
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(2, available);
    }

    [Fact]
    public void AcquireAsync_OutOfBudgetAndAbortedBeforeResuming_GivesPermitsBack()
    {
        using var rt = NewRuntime();
        (Exception? awaitError, int available) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(2);
            var (handleTx, handleRx) = Oneshot.Create<JoinHandle>();
            Exception? error = null;
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                JoinHandle self = await handleRx;
                while (KyotoTask.HasBudgetRemaining)
                {
                    await KyotoTask.ConsumeBudget();
                }

                // Acquired at once, but out of budget: handed over through a completed waiter.
                ValueTask<SemaphorePermit> pending = sem.AcquireAsync(2);
                self.Abort(); // aborted before the await ends
                error = await Record.ExceptionAsync(async () =>
                {
                    using SemaphorePermit p = await pending;
                });
            });
            handleTx.TrySend(h);
            await Record.ExceptionAsync(async () => await h);
            return (error, sem.AvailablePermits);
        });
        Assert.IsType<TaskAbortedException>(awaitError);
        Assert.Equal(2, available);
    }

    [Fact]
    public void Close_FailsWaitersAndLaterAcquires_HeldPermitsStayValid()
    {
        using var rt = NewRuntime();
        (int a, int b, Exception? later, bool tryAfter, int availableAfterReturn, bool closed) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(3);
            SemaphorePermit held = await sem.AcquireAsync(2);
            ValueTask<SemaphorePermit> w1 = sem.AcquireAsync(2); // takes the 1 left, waits for 1 more
            ValueTask<SemaphorePermit> w2 = sem.AcquireAsync(1);
            sem.Close();
            int r1 = await GrantedCountAsync(w1);
            int r2 = await GrantedCountAsync(w2);
            Exception? e = await Record.ExceptionAsync(async () => await sem.AcquireAsync());
            bool t = sem.TryAcquire(out _);
            held.Dispose();
            return (r1, r2, e, t, sem.AvailablePermits, sem.IsClosed);
        });
        Assert.Equal(-1, a);
        Assert.Equal(-1, b);
        Assert.IsType<SemaphoreClosedException>(later);
        Assert.False(tryAfter); // closed: even available permits are refused
        Assert.Equal(3, availableAfterReturn); // the partial grant came back on close, the held permits on dispose
        Assert.True(closed);
    }

    [Fact]
    public void Close_Twice_SecondIsHarmless()
    {
        var sem = new AsyncSemaphore(1);
        Assert.False(sem.IsClosed);
        sem.Close();
        sem.Close();
        Assert.True(sem.IsClosed);
        Assert.Equal(1, sem.AvailablePermits);
    }

    [Fact]
    public void Close_OwnedAcquireWaiting_FailsWithSemaphoreClosed()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(0);
            ValueTask<OwnedSemaphorePermit> pending = sem.AcquireOwnedAsync();
            _ = KyotoTask.Spawn(() =>
            {
                sem.Close();
                return Task.CompletedTask;
            });
            return await Record.ExceptionAsync(async () => await pending);
        });
        Assert.IsType<SemaphoreClosedException>(e);
    }

    [Fact]
    public void AcquireAsync_ManyTasksContending_NeverMorePermitsInUseThanExist()
    {
        const int Permits = 3;
        const int Tasks = 16;
        const int Rounds = 200;
        using var rt = NewRuntime();
        (int maxSeen, int available, int total) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(Permits);
            int inUse = 0;
            int max = 0;
            int done = 0;
            var handles = new JoinHandle[Tasks];
            for (int t = 0; t < Tasks; t++)
            {
                int want = 1 + (t % 2);
                handles[t] = KyotoTask.Spawn(async () =>
                {
                    for (int r = 0; r < Rounds; r++)
                    {
                        using SemaphorePermit p = await sem.AcquireAsync(want);
                        int now = Interlocked.Add(ref inUse, want);
                        int seen;
                        while ((seen = Volatile.Read(ref max)) < now && Interlocked.CompareExchange(ref max, now, seen) != seen)
                        {
                        }

                        await KyotoTask.Yield();
                        Interlocked.Add(ref inUse, -want);
                        Interlocked.Increment(ref done);
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return (max, sem.AvailablePermits, done);
        });
        Assert.InRange(maxSeen, 1, Permits);
        Assert.Equal(Permits, available);
        Assert.Equal(Tasks * Rounds, total);
    }

    [Fact]
    public void AcquireAsync_FromPlainThread_WaitsForAReleaseOnTheRuntime()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        var sem = new AsyncSemaphore(0);
        Task<int> waiting = Bounded.OnThread(() =>
        {
            using SemaphorePermit p = sem.AcquireAsync(2).AsTask().GetAwaiter().GetResult();
            return p.Count;
        });
        Bounded.Join(rt.Spawn(() =>
        {
            sem.AddPermits(2);
            return Task.CompletedTask;
        }));
        Assert.Equal(2, Bounded.Result(waiting, "an acquire awaited on a plain thread"));
        Assert.Equal(2, sem.AvailablePermits);
    }

    [Fact]
    public void AcquireAsync_AlwaysAvailableInATightLoop_StillLetsAnotherTaskRun()
    {
        // One thread of work (current-thread, or one worker): the coop budget (128 Kyoto awaits per poll) must
        // make an acquire that could complete at once yield once the budget is spent.
        const int Cap = 1_000_000;
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (int spins, bool flagSet) = rt.BlockOnBounded(async () =>
        {
            var sem = new AsyncSemaphore(1);
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
                    using SemaphorePermit p = await sem.AcquireAsync();
                    n++;
                }

                await setter;
                return n;
            });
            int count = await spinner;
            return (count, Volatile.Read(ref flag));
        });
        Assert.True(flagSet);
        Assert.True(spins < Cap, $"the acquiring task ran {spins} acquires without letting the other task run: the coop budget was not enforced");
    }
}
