using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>Broadcast channels: every receiver sees every value; lag, subscribe, closing, cancellation, abort.</summary>
public abstract class BroadcastTests : RuntimeTestBase
{
    public sealed class MultiThread : BroadcastTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : BroadcastTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void RecvAsync_ValuesSentBefore_ReceivedInOrder()
    {
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(8);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(1, tx.Send(i));
            }

            var values = new List<int>();
            for (int i = 0; i < 5; i++)
            {
                values.Add(await rx.RecvAsync());
            }

            return values;
        });
        Assert.Equal([0, 1, 2, 3, 4], got);
    }

    [Fact]
    public void RecvAsync_SeveralReceiverTasks_EachGetsEveryValueInOrder()
    {
        const int Values = 300;
        const int Receivers = 4;
        using var rt = NewRuntime();
        List<int>[] got = rt.BlockOnBounded(async () =>
        {
            var (tx, first) = Broadcast.Create<int>(512);
            var receivers = new BroadcastReceiver<int>[Receivers];
            receivers[0] = first;
            for (int r = 1; r < Receivers; r++)
            {
                receivers[r] = tx.Subscribe();
            }

            var handles = new JoinHandle<List<int>>[Receivers];
            for (int r = 0; r < Receivers; r++)
            {
                BroadcastReceiver<int> rx = receivers[r];
                handles[r] = KyotoTask.Spawn(async () =>
                {
                    var values = new List<int>();
                    await foreach (int v in rx)
                    {
                        values.Add(v);
                    }

                    return values;
                });
            }

            for (int i = 0; i < Values; i++)
            {
                Assert.Equal(Receivers, tx.Send(i));
                if (i % 7 == 0)
                {
                    await KyotoTask.Yield();
                }
            }

            tx.Dispose();
            var results = new List<int>[Receivers];
            for (int r = 0; r < Receivers; r++)
            {
                results[r] = await handles[r];
            }

            return results;
        });
        foreach (List<int> values in got)
        {
            Assert.Equal(Enumerable.Range(0, Values), values);
        }
    }

    [Fact]
    public void Send_ManySendersManyReceivers_NoLossNoDuplicatesPerSenderOrderKept()
    {
        const int Senders = 4;
        const int PerSender = 400;
        const int Receivers = 3;
        using var rt = NewRuntime();
        List<int>[] got = rt.BlockOnBounded(async () =>
        {
            // Large enough that nobody lags: senders never wait for receivers.
            var (tx, first) = Broadcast.Create<int>(Senders * PerSender);
            var receivers = new List<BroadcastReceiver<int>> { first };
            for (int r = 1; r < Receivers; r++)
            {
                receivers.Add(tx.Subscribe());
            }

            var readers = receivers.Select(rx => KyotoTask.Spawn(async () =>
            {
                var values = new List<int>();
                while (true)
                {
                    try
                    {
                        values.Add(await rx.RecvAsync());
                    }
                    catch (ClosedChannelException)
                    {
                        return values;
                    }
                }
            })).ToList();

            var writers = new List<JoinHandle>();
            for (int s = 0; s < Senders; s++)
            {
                BroadcastSender<int> mine = tx.Clone();
                int id = s;
                writers.Add(KyotoTask.Spawn(async () =>
                {
                    using (mine)
                    {
                        for (int i = 0; i < PerSender; i++)
                        {
                            mine.Send(id * 1_000_000 + i);
                            if (i % 16 == 0)
                            {
                                await KyotoTask.Yield();
                            }
                        }
                    }
                }));
            }

            tx.Dispose(); // the clones keep the channel open
            foreach (JoinHandle w in writers)
            {
                await w;
            }

            var results = new List<int>[Receivers];
            for (int r = 0; r < Receivers; r++)
            {
                results[r] = await readers[r];
            }

            return results;
        });

        foreach (List<int> values in got)
        {
            Assert.Equal(Senders * PerSender, values.Count);
            Assert.Equal(values.Count, values.Distinct().Count());
            for (int s = 0; s < Senders; s++)
            {
                Assert.Equal(Enumerable.Range(0, PerSender).Select(i => s * 1_000_000 + i), values.Where(v => v / 1_000_000 == s));
            }
        }

        // Every receiver saw the same interleaving: one order for everybody.
        Assert.Equal(got[0], got[1]);
        Assert.Equal(got[0], got[2]);
    }

    [Fact]
    public void RecvAsync_FellBehindCapacity4By10_LagsBy6ThenReceives6To9()
    {
        using var rt = NewRuntime();
        (long skipped, List<int> rest, bool emptyAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            for (int i = 0; i < 10; i++)
            {
                tx.Send(i);
            }

            Assert.Equal(10, rx.Len);
            BroadcastLaggedException lag = await Assert.ThrowsAsync<BroadcastLaggedException>(async () => await rx.RecvAsync());
            Assert.Equal(4, rx.Len);
            var values = new List<int>();
            for (int i = 0; i < 4; i++)
            {
                values.Add(await rx.RecvAsync());
            }

            return (lag.SkippedCount, values, rx.IsEmpty);
        });
        Assert.Equal(6, skipped);
        Assert.Equal([6, 7, 8, 9], rest);
        Assert.True(emptyAfter);
    }

    [Fact]
    public void RecvAsync_LagWhileWaiting_WokenReceiverGetsLagThenOldestRetained()
    {
        using var rt = NewRuntime();
        (long skipped, int next) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(2);
            ValueTask<int> pending = rx.RecvAsync();
            Assert.False(pending.IsCompleted);

            // Woken by the first send, but five more overwrite before it runs (the sender never awaits).
            for (int i = 0; i < 6; i++)
            {
                tx.Send(i);
            }

            var lag = await Assert.ThrowsAsync<BroadcastLaggedException>(async () => await pending);
            return (lag.SkippedCount, await rx.RecvAsync());
        });
        Assert.Equal(4, skipped);
        Assert.Equal(4, next);
    }

    [Fact]
    public void Subscribe_SeesOnlyValuesSentAfterIt()
    {
        using var rt = NewRuntime();
        (int a, int b, int c) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(8);
            tx.Send(1);
            BroadcastReceiver<int> late = tx.Subscribe();
            BroadcastReceiver<int> resubscribed = rx.Resubscribe();
            Assert.True(late.IsEmpty);
            Assert.Equal(BroadcastRecvStatus.Empty, late.TryRecv(out _));
            Assert.Equal(BroadcastRecvStatus.Empty, resubscribed.TryRecv(out _));
            Assert.Equal(3, tx.Send(2));
            return (await late.RecvAsync(), await resubscribed.RecvAsync(), await rx.RecvAsync());
        });
        Assert.Equal(2, a);
        Assert.Equal(2, b);
        Assert.Equal(1, c);
    }

    [Fact]
    public void RecvAsync_WaitingThenSentByOtherTask_WakesReceiver()
    {
        using var rt = NewRuntime();
        string v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<string>(4);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                await KyotoTask.Yield();
                tx.Send("hi");
            });
            return await rx.RecvAsync();
        });
        Assert.Equal("hi", v);
    }

    [Fact]
    public void RecvAsync_SentFromForeignThread_WakesReceiverOnRuntime()
    {
        using var rt = NewRuntime();
        (int v, TaskId? before, TaskId? after) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            TaskId? id = KyotoTask.CurrentId;
            var thread = new Thread(() => tx.Send(8)) { IsBackground = true };
            thread.Start();
            int got = await rx.RecvAsync();
            return (got, id, KyotoTask.CurrentId);
        });
        Assert.Equal(8, v);
        Assert.Equal(before, after);
    }

    [Fact]
    public void LastSenderDisposed_ReceiversDrainThenClosed()
    {
        using var rt = NewRuntime();
        (List<int> drained, Exception? e, bool closed) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(8);
            BroadcastSender<int> clone = tx.Clone();
            tx.Send(1);
            tx.Dispose();
            Assert.False(rx.IsClosed); // the clone keeps it open
            clone.Send(2);
            clone.Dispose();
            var values = new List<int> { await rx.RecvAsync(), await rx.RecvAsync() };
            Exception? ex = await Record.ExceptionAsync(async () => await rx.RecvAsync());
            return (values, ex, rx.IsClosed);
        });
        Assert.Equal([1, 2], drained);
        Assert.IsType<ClosedChannelException>(e);
        Assert.True(closed);
    }

    [Fact]
    public void LastSenderDisposed_WaitingReceiverWokenWithClosed()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(8);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Dispose();
            });
            return await Record.ExceptionAsync(async () => await rx.RecvAsync());
        });
        Assert.IsType<ClosedChannelException>(e);
    }

    [Fact]
    public void RecvAsync_CancelledWhileWaiting_LeavesNoWaiterAndLosesNoValue()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters, int value) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            using var cts = new CancellationTokenSource();
            ValueTask<int> pending = rx.RecvAsync(cts.Token);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                cts.Cancel();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await pending);
            int left = rx.Core.WaiterCount;
            tx.Send(5);
            return (ex, left, await rx.RecvAsync());
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
        Assert.Equal(5, value);
    }

    [Fact]
    public void RecvAsync_ManyCancelledWaits_SendStillWakesTheRealWaiter()
    {
        using var rt = NewRuntime();
        (int waitersAfterCancels, int got, int othersGot) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            BroadcastReceiver<int> other = tx.Subscribe();
            for (int i = 0; i < 200; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<int> pending = other.RecvAsync(cts.Token);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            }

            int left = rx.Core.WaiterCount;
            JoinHandle<int> real = KyotoTask.Spawn(async () => await rx.RecvAsync());
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send(42);
            });
            return (left, await real, await other.RecvAsync());
        });
        Assert.Equal(0, waitersAfterCancels);
        Assert.Equal(42, got);
        Assert.Equal(42, othersGot);
    }

    [Fact]
    public void RecvAsync_AlreadyCancelledToken_ThrowsAndKeepsValue()
    {
        using var rt = NewRuntime();
        (Exception? e, int value) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            tx.Send(3);
            Exception? ex = await Record.ExceptionAsync(async () => await rx.RecvAsync(new CancellationToken(true)));
            return (ex, await rx.RecvAsync());
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(3, value);
    }

    [Fact]
    public void RecvAsync_ValueArrivesBeforeCancellation_ReturnsValue()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            using var cts = new CancellationTokenSource();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send(12);
            });
            int got = await rx.RecvAsync(cts.Token);
            cts.Cancel(); // late: no effect
            return got;
        });
        Assert.Equal(12, v);
    }

    [Fact]
    public void RecvAsync_ReceiverTaskAbortedWhileWaiting_ValueStaysForNextReceive()
    {
        using var rt = NewRuntime();
        (JoinException e, int waiters, int value) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                return await rx.RecvAsync();
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            int left = rx.Core.WaiterCount;
            tx.Send(9);
            return (ex, left, await rx.RecvAsync());
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(0, waiters);
        Assert.Equal(9, value);
    }

    [Fact]
    public void RecvAsync_TaskAbortedAfterWakeBeforeItRuns_ValueNotLost()
    {
        using var rt = NewRuntime();
        (bool aborted, int receivedByTask, int receivedAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                return await rx.RecvAsync();
            });
            await readyRx;
            await KyotoTask.Yield();

            // Wake it and abort it at once: on one thread it has not run yet, so its await throws and the value
            // must stay in the channel; on two it may have taken the value first, which is fine too.
            tx.Send(7);
            h.Abort();
            try
            {
                return (false, await h, -1);
            }
            catch (JoinException)
            {
                Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out int v));
                return (true, -1, v);
            }
        });
        if (aborted)
        {
            Assert.Equal(7, receivedAfter);
        }
        else
        {
            Assert.Equal(7, receivedByTask);
        }

        if (!IsMultiThread)
        {
            Assert.True(aborted, "on one thread the woken task cannot run before the abort");
        }
    }

    [Fact]
    public void RecvAsync_SecondConcurrentReceive_ThrowsInvalidOperation()
    {
        using var rt = NewRuntime();
        (Exception? e, int v) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            ValueTask<int> first = rx.RecvAsync();
            Exception? ex = Record.Exception(() => rx.RecvAsync());
            Assert.IsType<InvalidOperationException>(Record.Exception(() => rx.TryRecv(out _)));
            tx.Send(1);
            return (ex, await first);
        });
        Assert.IsType<InvalidOperationException>(e);
        Assert.Equal(1, v);
    }

    [Fact]
    public void Dispose_WhileReceiveWaits_ReceiveFailsWithObjectDisposed()
    {
        using var rt = NewRuntime();
        (Exception? e, int count) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            ValueTask<int> pending = rx.RecvAsync();
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
    public void AwaitForeach_EndsWhenClosedAfterDraining()
    {
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(16);
            _ = KyotoTask.Spawn(async () =>
            {
                using (tx)
                {
                    for (int i = 0; i < 10; i++)
                    {
                        tx.Send(i);
                        await KyotoTask.Yield();
                    }
                }
            });
            var values = new List<int>();
            await foreach (int v in rx)
            {
                values.Add(v);
            }

            return values;
        });
        Assert.Equal(Enumerable.Range(0, 10), got);
    }

    [Fact]
    public void AwaitForeach_Lag_ThrowsThenEnumeratingAgainContinuesFromOldest()
    {
        using var rt = NewRuntime();
        (long skipped, List<int> rest) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Broadcast.Create<int>(4);
            for (int i = 0; i < 10; i++)
            {
                tx.Send(i);
            }

            tx.Dispose();
            var lag = await Assert.ThrowsAsync<BroadcastLaggedException>(async () =>
            {
                await foreach (int v in rx)
                {
                    Assert.Fail($"got {v} before the lag");
                }
            });
            var values = new List<int>();
            await foreach (int v in rx)
            {
                values.Add(v);
            }

            return (lag.SkippedCount, values);
        });
        Assert.Equal(6, skipped);
        Assert.Equal([6, 7, 8, 9], rest);
    }

    [Fact]
    public void RecvAsync_AlwaysReady_YieldsToOtherTasksWhenBudgetIsSpent()
    {
        const int Cap = 1_000_000;
        using var rt = NewRuntime();
        (bool flagSeen, int loops) = rt.BlockOnBounded(async () =>
        {
            bool flag = false;
            var (tx, rx) = Broadcast.Create<int>(1);
            JoinHandle<int> spinner = KyotoTask.Spawn(async () =>
            {
                int n = 0;
                while (!Volatile.Read(ref flag) && n < Cap)
                {
                    tx.Send(n);
                    await rx.RecvAsync();
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
        Assert.True(loops < Cap, "a receiver whose values are always ready never let the other task run");
    }

    [Fact]
    public void RecvAsync_FromOutsideAnyRuntime_Works()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        ValueTask<int> pending = rx.RecvAsync();
        Assert.False(pending.IsCompleted);
        Task<int> waiting = pending.AsTask();
        tx.Send(21);
        Assert.Equal(21, Bounded.Result(waiting, "a broadcast receive awaited outside any runtime"));
    }
}

/// <summary>Broadcast behaviour that needs no runtime: the channel alone.</summary>
public class BroadcastWithoutRuntimeTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 4)]
    [InlineData(4, 4)]
    [InlineData(5, 8)]
    [InlineData(1000, 1024)]
    public void Create_Capacity_RoundedUpToPowerOfTwo(int requested, int expected)
    {
        var (tx, rx) = Broadcast.Create<int>(requested);
        Assert.Equal(expected, tx.Capacity);
        Assert.Equal(expected, rx.Capacity);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(Broadcast.MaxCapacity + 1)]
    public void Create_CapacityOutOfRange_Throws(int capacity)
        => Assert.Throws<ArgumentOutOfRangeException>(() => Broadcast.Create<int>(capacity));

    [Fact]
    public void TrySend_NoReceiver_ReturnsFalseAndStoresNothing()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        rx.Dispose();
        Assert.Equal(0, tx.ReceiverCount);
        Assert.False(tx.TrySend(1, out int receivers));
        Assert.Equal(0, receivers);
        Assert.Throws<ClosedChannelException>(() => tx.Send(1));

        BroadcastReceiver<int> late = tx.Subscribe();
        Assert.Equal(BroadcastRecvStatus.Empty, late.TryRecv(out _));
        Assert.True(tx.TrySend(2, out receivers));
        Assert.Equal(1, receivers);
        Assert.Equal(BroadcastRecvStatus.Received, late.TryRecv(out int v));
        Assert.Equal(2, v);
    }

    [Fact]
    public void TryRecv_ReportsEmptyReceivedLaggedClosed()
    {
        var (tx, rx) = Broadcast.Create<int>(2);
        Assert.Equal(BroadcastRecvStatus.Empty, rx.TryRecv(out int none));
        Assert.Equal(0, none);
        for (int i = 0; i < 5; i++)
        {
            tx.Send(i);
        }

        Assert.Equal(BroadcastRecvStatus.Lagged, rx.TryRecv(out _, out long skipped));
        Assert.Equal(3, skipped);
        Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out int v));
        Assert.Equal(3, v);
        tx.Dispose();
        Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out v));
        Assert.Equal(4, v);
        Assert.Equal(BroadcastRecvStatus.Closed, rx.TryRecv(out _));
    }

    [Fact]
    public void ReceiverCount_FollowsSubscribeAndDispose()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        Assert.Equal(1, tx.ReceiverCount);
        BroadcastReceiver<int> a = tx.Subscribe();
        BroadcastReceiver<int> b = rx.Resubscribe();
        Assert.Equal(3, tx.ReceiverCount);
        a.Dispose();
        a.Dispose(); // idempotent
        Assert.Equal(2, tx.ReceiverCount);
        Assert.Equal(2, tx.Send(1));
        b.Dispose();
        rx.Dispose();
        Assert.Equal(0, tx.ReceiverCount);
    }

    [Fact]
    public void Slot_ReleasedOnceEveryReceiverReadOrLeft()
    {
        var (tx, a) = Broadcast.Create<object>(4);
        BroadcastReceiver<object> b = tx.Subscribe();
        tx.Send(new object()); // position 0
        tx.Send(new object()); // position 1
        BroadcastCore<object> core = a.Core;
        Assert.True(core.IsRetained(0));

        Assert.Equal(BroadcastRecvStatus.Received, a.TryRecv(out _));
        Assert.True(core.IsRetained(0), "b has not read it yet");
        Assert.Equal(BroadcastRecvStatus.Received, b.TryRecv(out _));
        Assert.False(core.IsRetained(0), "everyone read it: the slot must drop it");

        Assert.True(core.IsRetained(1));
        Assert.Equal(BroadcastRecvStatus.Received, a.TryRecv(out _));
        b.Dispose(); // b never reads position 1: leaving releases its claim
        Assert.False(core.IsRetained(1), "the only receiver left read it: the slot must drop it");
    }

    [Fact]
    public void Slot_ValueReferenceDroppedAfterLastRead()
    {
        var (tx, rx) = Broadcast.Create<object>(4);
        WeakReference weak = SendFresh(tx);
        Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out object? got));
        got = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(weak.IsAlive, "the ring still references a value every receiver has read");
        GC.KeepAlive(got);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference SendFresh(BroadcastSender<object> tx)
    {
        var value = new object();
        tx.Send(value);
        return new WeakReference(value);
    }

    [Fact]
    public void Disposed_ReceiverAndSender_ThrowObjectDisposed()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        BroadcastSender<int> other = tx.Clone();
        rx.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rx.RecvAsync());
        Assert.Throws<ObjectDisposedException>(() => rx.TryRecv(out _));
        Assert.Throws<ObjectDisposedException>(() => rx.Resubscribe());
        Assert.Throws<ObjectDisposedException>(() => rx.GetAsyncEnumerator());
        tx.Dispose();
        tx.Dispose(); // idempotent: counts once
        Assert.Throws<ObjectDisposedException>(() => tx.Send(1));
        Assert.Throws<ObjectDisposedException>(() => tx.TrySend(1, out _));
        Assert.Throws<ObjectDisposedException>(() => tx.Subscribe());
        Assert.Throws<ObjectDisposedException>(() => tx.Clone());

        // The clone is still open.
        BroadcastReceiver<int> r = other.Subscribe();
        Assert.False(r.IsClosed);
        other.Dispose();
        Assert.True(r.IsClosed);
        Assert.True(tx.SameChannel(other));
    }

    [Fact]
    public void Dispose_WithAReceiveParkedOrWokenButNotResumed_LeavesAtOnceAndReleasesItsValues()
    {
        var (tx, rx) = Broadcast.Create<object>(4);
        BroadcastReceiver<object> other = tx.Subscribe();
        ValueTask<object> parked = rx.RecvAsync(); // parked, and never awaited (as if its task was discarded)
        Assert.False(parked.IsCompleted);
        tx.Send(new object());                     // wakes it; it never reads
        ValueTask<object> parkedAgain = other.RecvAsync();
        Assert.True(parkedAgain.IsCompletedSuccessfully);
        ValueTask<object> waiting = other.RecvAsync();
        Assert.False(waiting.IsCompleted);

        other.Dispose(); // its receive is parked in the queue: it leaves at once
        Assert.Equal(1, tx.ReceiverCount);
        Assert.Equal(0, other.Core.WaiterCount);
        Assert.True(other.Core.IsRetained(0), "rx has not read position 0 yet");

        rx.Dispose(); // its receive was woken but never consumed: it leaves at once too
        Assert.Equal(0, tx.ReceiverCount);
        Assert.False(rx.Core.IsRetained(0), "every receiver left: position 0 must be released");
        Task<object> late = parked.AsTask(); // the woken receive reads nothing: the receiver is gone
        Assert.True(Bounded.Finishes(late));
        Assert.IsType<ObjectDisposedException>(late.Exception?.InnerException);
    }

    [Fact]
    public void Resubscribe_AfterClose_ReceiverIsClosedAndEmpty()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        tx.Send(1);
        tx.Dispose();
        BroadcastReceiver<int> again = rx.Resubscribe();
        Assert.True(again.IsClosed);
        Assert.Equal(BroadcastRecvStatus.Closed, again.TryRecv(out _));
        Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out int v));
        Assert.Equal(1, v);
    }

    [Fact]
    public void Len_CountsUnreadIncludingLagged()
    {
        var (tx, rx) = Broadcast.Create<int>(2);
        Assert.True(rx.IsEmpty);
        tx.Send(1);
        Assert.Equal(1, rx.Len);
        tx.Send(2);
        tx.Send(3);
        Assert.Equal(3, rx.Len);
        Assert.False(rx.IsEmpty);
    }

    [Fact]
    public void RecvAsync_StructValues_AllReceived()
    {
        var (tx, rx) = Broadcast.Create<(long A, long B, string C)>(8);
        tx.Send((1, 2, "x"));
        Assert.Equal(BroadcastRecvStatus.Received, rx.TryRecv(out var v));
        Assert.Equal((1L, 2L, "x"), v);
    }

    [Fact]
    public void RecvAsync_BoolValues_WorkThroughTheWaiter()
    {
        // The waiter is itself a bool-valued source: a Broadcast<bool> must still return the sent value.
        var (tx, rx) = Broadcast.Create<bool>(4);
        ValueTask<bool> pending = rx.RecvAsync();
        Assert.False(pending.IsCompleted);
        Task<bool> waiting = pending.AsTask();
        tx.Send(false);
        Assert.False(Bounded.Result(waiting, "a bool broadcast receive"));
    }
}

/// <summary>
/// Warm broadcast sends and receives allocate nothing, also when the receiver parks every time (DESIGN.md). Measured
/// on a current-thread runtime, where every task runs on the test thread, so the thread's allocation counter sees
/// all of the workload and nothing else (as <c>AllocationTests</c>).
/// </summary>
public sealed class BroadcastAllocationTests
{
    private const int Warmup = 2_000;
    private const int Rounds = 20_000;

    // Far below one allocation per round (20,000 rounds of the smallest object would be 480,000 bytes), with room
    // for a one-off JIT tier-up or lazy initialization.
    private const long Budget = 16 * 1024;

    [Fact]
    public void PingPongWithParkedReceivers_AllocatesNothing()
    {
        var (tx, rx) = Broadcast.Create<int>(4);
        var (backTx, backRx) = Broadcast.Create<int>(4);
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

            async Task Play(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    tx.Send(i);
                    if (await backRx.RecvAsync() != i)
                    {
                        throw new InvalidOperationException($"round {i}: wrong value");
                    }
                }
            }

            await Play(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Play(Rounds);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            tx.Dispose();
            await echo;
            return used;
        });
        Assert.True(bytes < Budget, $"broadcast ping-pong: {bytes} bytes over {Rounds} rounds ({(double)bytes / Rounds:F1} B per round)");
    }

    [Fact]
    public void FanOutToManyReceivers_AllocatesNothing()
    {
        const int Receivers = 16;
        var (tx, first) = Broadcast.Create<int>(64);
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            var (doneTx, doneRx) = Broadcast.Create<int>(Receivers * 2);
            var readers = new List<JoinHandle>();
            for (int r = 0; r < Receivers; r++)
            {
                BroadcastReceiver<int> rx = r == 0 ? first : tx.Subscribe();
                readers.Add(KyotoTask.Spawn(async () =>
                {
                    try
                    {
                        while (true)
                        {
                            int v = await rx.RecvAsync();
                            doneTx.Send(v);
                        }
                    }
                    catch (ClosedChannelException)
                    {
                    }
                }));
            }

            async Task Play(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    tx.Send(i);
                    for (int r = 0; r < Receivers; r++)
                    {
                        if (await doneRx.RecvAsync() != i)
                        {
                            throw new InvalidOperationException($"round {i}: wrong value");
                        }
                    }
                }
            }

            await Play(Warmup / Receivers);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Play(Rounds / Receivers);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            tx.Dispose();
            foreach (JoinHandle h in readers)
            {
                await h;
            }

            return used;
        });
        Assert.True(bytes < Budget, $"broadcast fan-out: {bytes} bytes over {Rounds} deliveries");
    }
}
