using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>Watch channels: one value, many observers; changes, coalescing, WaitFor, modify, closing, cancellation.</summary>
public abstract class WatchTests : RuntimeTestBase
{
    public sealed class MultiThread : WatchTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : WatchTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void ChangedAsync_WaitingThenSentByOtherTask_WakesAndMarksSeen()
    {
        using var rt = NewRuntime();
        (string v, bool changedAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create("a");
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send("b");
            });
            await rx.ChangedAsync();
            return (rx.Borrow(), rx.HasChanged);
        });
        Assert.Equal("b", v);
        Assert.False(changedAfter);
    }

    [Fact]
    public void ChangedAsync_SeveralSendsBeforeWaiting_CoalesceIntoOneChange()
    {
        using var rt = NewRuntime();
        (int v, bool secondPending) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            tx.Send(1);
            tx.Send(2);
            tx.Send(3);
            ValueTask first = rx.ChangedAsync();
            Assert.True(first.IsCompletedSuccessfully);
            await first;
            int value = rx.Borrow();
            using var cts = new CancellationTokenSource();
            ValueTask second = rx.ChangedAsync(cts.Token);
            bool pending = !second.IsCompleted;
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await second);
            return (value, pending);
        });
        Assert.Equal(3, v);
        Assert.True(secondPending, "three sends must count as one change");
    }

    [Fact]
    public void ChangedAsync_ReceiverTasks_EachSeesTheLastValue()
    {
        const int Receivers = 5;
        const int Sends = 200;
        using var rt = NewRuntime();
        int[] last = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            var handles = new List<JoinHandle<int>>();
            for (int r = 0; r < Receivers; r++)
            {
                WatchReceiver<int> mine = r == 0 ? rx : tx.Subscribe();
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    int seen = 0;
                    while (seen != Sends)
                    {
                        await mine.ChangedAsync();
                        int v = mine.Borrow();
                        Assert.True(v >= seen, $"went back from {seen} to {v}");
                        seen = v;
                    }

                    return seen;
                }));
            }

            for (int i = 1; i <= Sends; i++)
            {
                tx.Send(i);
                if (i % 3 == 0)
                {
                    await KyotoTask.Yield();
                }
            }

            var results = new int[Receivers];
            for (int r = 0; r < Receivers; r++)
            {
                results[r] = await handles[r];
            }

            return results;
        });
        Assert.All(last, v => Assert.Equal(Sends, v));
    }

    [Fact]
    public void WaitForAsync_CurrentMatches_ReturnsAtOnce()
    {
        using var rt = NewRuntime();
        (int v, bool sync) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(10);
            ValueTask<int> wait = rx.WaitForAsync(x => x >= 10);
            bool completed = wait.IsCompletedSuccessfully;
            return (await wait, completed);
        });
        Assert.Equal(10, v);
        Assert.True(sync);
    }

    [Fact]
    public void WaitForAsync_LaterValueMatches_WaitsForIt()
    {
        using var rt = NewRuntime();
        (int v, List<int> examined) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            var seen = new List<int>();
            _ = KyotoTask.Spawn(async () =>
            {
                for (int i = 1; i <= 5; i++)
                {
                    await KyotoTask.Yield();
                    tx.Send(i);
                }
            });
            int got = await rx.WaitForAsync(x =>
            {
                seen.Add(x);
                return x >= 3;
            });
            return (got, seen);
        });
        Assert.True(v >= 3);
        Assert.Equal(0, examined[0]);
        Assert.True(examined.SequenceEqual(examined.Order()), "examined values are in order");
    }

    [Fact]
    public void WaitForAsync_ClosedWithoutMatch_ThrowsClosed()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send(1);
                tx.Dispose();
            });
            return await Record.ExceptionAsync(async () => await rx.WaitForAsync(x => x > 100));
        });
        Assert.IsType<ClosedChannelException>(e);
    }

    [Fact]
    public void WaitForAsync_Cancelled_ThrowsAndLeavesNoWaiter()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            using var cts = new CancellationTokenSource();
            ValueTask<int> wait = rx.WaitForAsync(x => x > 0, cts.Token);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                cts.Cancel();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await wait);
            return (ex, rx.Core.ChangeWaiterCount);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void SendModify_WakesWaiterWithModifiedValue()
    {
        using var rt = NewRuntime();
        (int A, int B) v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create((A: 1, B: 2));
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.SendModify((ref (int A, int B) s) => s.B = 20);
            });
            await rx.ChangedAsync();
            return rx.BorrowAndUpdate();
        });
        Assert.Equal((1, 20), v);
    }

    [Fact]
    public void SendIfModified_False_DoesNotWake_True_Wakes()
    {
        using var rt = NewRuntime();
        (bool pendingAfterFalse, int v) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(5);
            ValueTask wait = rx.ChangedAsync();
            Assert.False(tx.SendIfModified((ref int x) => false));
            await KyotoTask.Yield();
            bool pending = !wait.IsCompleted;
            Assert.True(tx.SendIfModified((ref int x) =>
            {
                x = 6;
                return true;
            }));
            await wait;
            return (pending, rx.Borrow());
        });
        Assert.True(pendingAfterFalse);
        Assert.Equal(6, v);
    }

    [Fact]
    public void LastSenderDisposed_WaitingReceiverGetsClosed()
    {
        using var rt = NewRuntime();
        (Exception? e, int last) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(1);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Dispose();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await rx.ChangedAsync());
            return (ex, rx.Borrow());
        });
        Assert.IsType<ClosedChannelException>(e);
        Assert.Equal(1, last);
    }

    [Fact]
    public void ClosedAsync_LastReceiverDisposed_Completes()
    {
        using var rt = NewRuntime();
        (bool pendingBefore, bool closed) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(1);
            WatchReceiver<int> other = rx.Clone();
            ValueTask closedTask = tx.ClosedAsync();
            bool pending = !closedTask.IsCompleted;
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                rx.Dispose();
                await KyotoTask.Yield();
                other.Dispose();
            });
            await closedTask;
            return (pending, tx.IsClosed);
        });
        Assert.True(pendingBefore);
        Assert.True(closed);
    }

    [Fact]
    public void ClosedAsync_Cancelled_LeavesNoWaiterAndCanWaitAgain()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(1);
            using var cts = new CancellationTokenSource();
            ValueTask closed = tx.ClosedAsync(cts.Token);
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await closed);
            int left = rx.Core.ClosedWaiterCount;
            ValueTask again = tx.ClosedAsync();
            rx.Dispose();
            await again;
            return (ex, left);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void ChangedAsync_ManyCancelledWaits_SendStillWakesTheRealWaiter()
    {
        using var rt = NewRuntime();
        (int waitersAfterCancels, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            WatchReceiver<int> other = rx.Clone();
            for (int i = 0; i < 200; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask pending = other.ChangedAsync(cts.Token);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            }

            int left = rx.Core.ChangeWaiterCount;
            JoinHandle<int> real = KyotoTask.Spawn(async () =>
            {
                await rx.ChangedAsync();
                return rx.Borrow();
            });
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send(42);
            });
            int value = await real;
            Assert.True(other.HasChanged, "the change must still be unseen by the receiver whose waits were cancelled");
            return (left, value);
        });
        Assert.Equal(0, waitersAfterCancels);
        Assert.Equal(42, got);
    }

    [Fact]
    public void ChangedAsync_ReceiverTaskAborted_ChangeStaysUnseen()
    {
        using var rt = NewRuntime();
        (JoinException e, int waiters, bool unseen) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                await rx.ChangedAsync();
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            int left = rx.Core.ChangeWaiterCount;
            tx.Send(1);
            return (ex, left, rx.HasChanged);
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(0, waiters);
        Assert.True(unseen);
    }

    [Fact]
    public void ChangedAsync_TaskAbortedAfterWakeBeforeItRuns_ChangeNotLost()
    {
        using var rt = NewRuntime();
        (bool aborted, bool unseenAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                await rx.ChangedAsync();
            });
            await readyRx;
            await KyotoTask.Yield();
            tx.Send(7);
            h.Abort();
            try
            {
                await h;
                return (false, rx.HasChanged);
            }
            catch (JoinException)
            {
                return (true, rx.HasChanged);
            }
        });
        if (aborted)
        {
            Assert.True(unseenAfter, "an aborted wait marked the change seen");
        }

        if (!IsMultiThread)
        {
            Assert.True(aborted, "on one thread the woken task cannot run before the abort");
        }
    }

    [Fact]
    public void ChangedAsync_SecondConcurrentWait_ThrowsInvalidOperation()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            ValueTask first = rx.ChangedAsync();
            Exception? ex = Record.Exception(() => rx.ChangedAsync());
            Assert.IsType<InvalidOperationException>(Record.Exception(() => rx.BorrowAndUpdate()));
            Assert.Equal(0, rx.Borrow()); // reading never conflicts
            tx.Send(1);
            await first;
            return ex;
        });
        Assert.IsType<InvalidOperationException>(e);
    }

    [Fact]
    public void Dispose_WhileChangedWaits_WaitFailsWithObjectDisposed()
    {
        using var rt = NewRuntime();
        (Exception? e, int count) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            ValueTask pending = rx.ChangedAsync();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                rx.Dispose();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await pending);
            return (ex, tx.ReceiverCount);
        });
        Assert.IsType<ObjectDisposedException>(e);
        Assert.Equal(0, count);
    }

    [Fact]
    public void AwaitForeach_YieldsChangesAndEndsWhenClosed()
    {
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Watch.Create(0);
            var (ackTx, ackRx) = Broadcast.Create<bool>(4);
            _ = KyotoTask.Spawn(async () =>
            {
                using (tx)
                {
                    for (int i = 1; i <= 5; i++)
                    {
                        tx.Send(i);
                        await ackRx.RecvAsync(); // one change at a time, so none coalesce
                    }
                }
            });
            var values = new List<int>();
            await foreach (int v in rx)
            {
                values.Add(v);
                ackTx.Send(true);
            }

            return values;
        });
        Assert.Equal([1, 2, 3, 4, 5], got);
    }

    [Fact]
    public void ChangedAsync_AlwaysChanged_YieldsToOtherTasksWhenBudgetIsSpent()
    {
        const int Cap = 1_000_000;
        using var rt = NewRuntime();
        (bool flagSeen, int loops) = rt.BlockOnBounded(async () =>
        {
            bool flag = false;
            var (tx, rx) = Watch.Create(0);
            JoinHandle<int> spinner = KyotoTask.Spawn(async () =>
            {
                int n = 0;
                while (!Volatile.Read(ref flag) && n < Cap)
                {
                    tx.Send(n);
                    await rx.ChangedAsync();
                    n++;
                }

                return n;
            });
            JoinHandle setter = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                Volatile.Write(ref flag, true);
            });
            int count = await spinner;
            await setter;
            return (Volatile.Read(ref flag), count);
        });
        Assert.True(flagSeen);
        Assert.True(loops < Cap, "a receiver whose changes are always ready never let the other task run");
    }
}

/// <summary>Watch behaviour that needs no runtime: the channel alone.</summary>
public class WatchWithoutRuntimeTests
{
    [Fact]
    public void Create_InitialValueIsSeen()
    {
        var (tx, rx) = Watch.Create("init");
        Assert.Equal("init", rx.Borrow());
        Assert.Equal("init", tx.Borrow());
        Assert.False(rx.HasChanged);
        ValueTask pending = rx.ChangedAsync();
        Assert.False(pending.IsCompleted, "the initial value counts as seen: nothing to report yet");
        tx.Dispose();
        Task t = pending.AsTask();
        Assert.True(Bounded.Finishes(t));
        Assert.IsType<ClosedChannelException>(t.Exception?.InnerException);
    }

    [Fact]
    public void Send_MarksChanged_BorrowAndUpdateMarksSeen()
    {
        var (tx, rx) = Watch.Create(1);
        tx.Send(2);
        Assert.True(rx.HasChanged);
        Assert.Equal(2, rx.Borrow());
        Assert.True(rx.HasChanged, "Borrow does not mark seen");
        Assert.Equal(2, rx.BorrowAndUpdate());
        Assert.False(rx.HasChanged);
    }

    [Fact]
    public void MarkChangedAndUnchanged()
    {
        var (tx, rx) = Watch.Create(1);
        rx.MarkChanged();
        Assert.True(rx.HasChanged);
        Assert.True(rx.ChangedAsync().IsCompletedSuccessfully);
        Assert.False(rx.HasChanged);
        tx.Send(2);
        rx.MarkUnchanged();
        Assert.False(rx.HasChanged);
    }

    [Fact]
    public void Send_NoReceiver_FailsAndStoresNothing()
    {
        var (tx, rx) = Watch.Create(1);
        rx.Dispose();
        Assert.True(tx.IsClosed);
        Assert.False(tx.TrySend(2));
        Assert.Throws<ClosedChannelException>(() => tx.Send(3));
        Assert.Equal(1, tx.Borrow());
        Assert.Equal(1, tx.SendReplace(4));
        Assert.Equal(4, tx.Borrow());
        WatchReceiver<int> again = tx.Subscribe();
        Assert.False(tx.IsClosed);
        Assert.False(again.HasChanged, "a new subscriber has seen the current value");
        Assert.True(tx.TrySend(5));
        Assert.True(again.HasChanged);
    }

    [Fact]
    public void SendReplace_ReturnsPrevious()
    {
        var (tx, rx) = Watch.Create("a");
        Assert.Equal("a", tx.SendReplace("b"));
        Assert.Equal("b", tx.SendReplace("c"));
        Assert.Equal("c", rx.BorrowAndUpdate());
    }

    [Fact]
    public void SendModify_ModifierThrows_NoChangeNotifiedAndExceptionPropagates()
    {
        var (tx, rx) = Watch.Create(1);
        Assert.Throws<FormatException>(() => tx.SendModify((ref int x) =>
        {
            x = 2;
            throw new FormatException();
        }));
        Assert.False(rx.HasChanged);
        Assert.Equal(2, rx.Borrow()); // what it changed stays, as in Tokio
        Assert.Throws<FormatException>(() => tx.SendIfModified((ref int x) => throw new FormatException()));
        Assert.False(rx.HasChanged);

        // The channel still works.
        tx.Send(3);
        Assert.True(rx.HasChanged);
    }

    [Fact]
    public void SendModify_WritingFromInsideTheModifier_ThrowsInvalidOperation()
    {
        var (tx, rx) = Watch.Create(1);
        int seenInside = 0;
        Assert.Throws<InvalidOperationException>(() => tx.SendModify((ref int x) =>
        {
            x = 5;
            seenInside = rx.Borrow(); // reading is fine
            tx.Send(9);
        }));
        Assert.Equal(5, seenInside);
        Assert.Equal(5, rx.Borrow());
        Assert.False(rx.HasChanged);
    }

    [Fact]
    public void ChangedAsync_AfterClose_UnseenValueFirstThenClosed()
    {
        var (tx, rx) = Watch.Create(1);
        tx.Send(2);
        tx.Dispose();
        Assert.True(rx.IsClosed);
        Assert.Throws<ClosedChannelException>(() => rx.HasChanged);
        Assert.True(rx.ChangedAsync().IsCompletedSuccessfully);
        Assert.Equal(2, rx.Borrow());
        ValueTask second = rx.ChangedAsync();
        Assert.IsType<ClosedChannelException>(Record.Exception(() => second.GetAwaiter().GetResult()));
    }

    [Fact]
    public void Clone_KeepsSeenVersion_SubscribeSeesCurrent()
    {
        var (tx, rx) = Watch.Create(1);
        tx.Send(2);
        WatchReceiver<int> clone = rx.Clone();
        WatchReceiver<int> subscribed = tx.Subscribe();
        Assert.True(clone.HasChanged);
        Assert.False(subscribed.HasChanged);
        rx.BorrowAndUpdate();
        Assert.True(clone.HasChanged, "clones track what they have seen separately");
        Assert.Equal(3, tx.ReceiverCount);
    }

    [Fact]
    public void ClosedAsync_NoReceiver_CompletesAtOnce()
    {
        var (tx, rx) = Watch.Create(1);
        rx.Dispose();
        Assert.True(tx.ClosedAsync().IsCompletedSuccessfully);
    }

    [Fact]
    public void ClosedAsync_SenderDisposedWhileWaiting_FailsWithObjectDisposed()
    {
        var (tx, rx) = Watch.Create(1);
        WatchSender<int> keep = tx.Clone();
        ValueTask closed = tx.ClosedAsync();
        Assert.False(closed.IsCompleted);
        Assert.Throws<InvalidOperationException>(() => tx.ClosedAsync());
        tx.Dispose();
        Task t = closed.AsTask();
        Assert.True(Bounded.Finishes(t));
        Assert.IsType<ObjectDisposedException>(t.Exception?.InnerException);
        Assert.False(rx.IsClosed, "the clone keeps the channel open");
        keep.Dispose();
        Assert.True(rx.IsClosed);
    }

    [Fact]
    public void Disposed_ReceiverAndSender_ThrowObjectDisposed()
    {
        var (tx, rx) = Watch.Create(1);
        WatchSender<int> other = tx.Clone();
        rx.Dispose();
        rx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rx.Borrow());
        Assert.Throws<ObjectDisposedException>(() => rx.BorrowAndUpdate());
        Assert.Throws<ObjectDisposedException>(() => rx.ChangedAsync());
        Assert.Throws<ObjectDisposedException>(() => rx.WaitForAsync(_ => true));
        Assert.Throws<ObjectDisposedException>(() => rx.HasChanged);
        Assert.Throws<ObjectDisposedException>(() => rx.Clone());
        tx.Dispose();
        tx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tx.Send(1));
        Assert.Throws<ObjectDisposedException>(() => tx.SendReplace(1));
        Assert.Throws<ObjectDisposedException>(() => tx.SendModify((ref int x) => x++));
        Assert.Throws<ObjectDisposedException>(() => tx.Subscribe());
        Assert.Throws<ObjectDisposedException>(() => tx.ClosedAsync());
        WatchReceiver<int> r = other.Subscribe();
        Assert.False(r.IsClosed);
        other.Dispose();
        Assert.True(r.IsClosed);
    }

    [Fact]
    public void WaitForAsync_NullPredicate_Throws()
    {
        var (_, rx) = Watch.Create(1);
        Assert.Throws<ArgumentNullException>(() => rx.WaitForAsync(null!));
    }

    [Fact]
    public void ChangedAsync_FromOutsideAnyRuntime_Works()
    {
        var (tx, rx) = Watch.Create(0);
        ValueTask pending = rx.ChangedAsync();
        Assert.False(pending.IsCompleted);
        Task t = pending.AsTask();
        tx.Send(1);
        Bounded.Wait(t, "a watch change awaited outside any runtime");
        Assert.Equal(1, rx.Borrow());
    }
}

/// <summary>
/// Warm watch sends and change waits allocate nothing, also when the receiver parks every time (DESIGN.md).
/// Measured on a current-thread runtime, as <c>AllocationTests</c>.
/// </summary>
public sealed class WatchAllocationTests
{
    private const int Warmup = 2_000;
    private const int Rounds = 20_000;
    private const long Budget = 16 * 1024;

    [Fact]
    public void PingPongWithParkedReceivers_AllocatesNothing()
    {
        var (tx, rx) = Watch.Create(0);
        var (backTx, backRx) = Watch.Create(0);
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                await foreach (int v in rx)
                {
                    backTx.Send(v);
                }
            });

            async Task Play(int from, int n)
            {
                for (int i = from; i < from + n; i++)
                {
                    tx.Send(i);
                    await backRx.ChangedAsync();
                    if (backRx.BorrowAndUpdate() != i)
                    {
                        throw new InvalidOperationException($"round {i}: wrong value");
                    }
                }
            }

            await Play(1, Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Play(Warmup + 1, Rounds);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            tx.Dispose();
            await echo;
            return used;
        });
        Assert.True(bytes < Budget, $"watch ping-pong: {bytes} bytes over {Rounds} rounds ({(double)bytes / Rounds:F1} B per round)");
    }

    [Fact]
    public void ModifyAndWaitFor_Warm_AllocatesNothing()
    {
        var (tx, rx) = Watch.Create(0);
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        WatchModifier<int> increment = static (ref int x) => x++;
        Func<int, bool> positive = static x => x > 0;
        long bytes = rt.BlockOnBounded(async () =>
        {
            async Task Play(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    tx.SendModify(increment);
                    await rx.ChangedAsync();
                    if (await rx.WaitForAsync(positive) <= 0)
                    {
                        throw new InvalidOperationException($"round {i}: wrong value");
                    }
                }
            }

            await Play(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Play(Rounds);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.True(bytes < Budget, $"watch modify + ready WaitFor: {bytes} bytes over {Rounds} rounds");
    }
}
