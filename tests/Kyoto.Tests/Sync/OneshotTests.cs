using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>Oneshot channels: one value, one sender, one receiver; closing and cancellation.</summary>
public abstract class OneshotTests : RuntimeTestBase
{
    public sealed class MultiThread : OneshotTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : OneshotTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void Await_ValueSentBefore_ReturnsIt()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            Assert.True(tx.TrySend(5));
            return await rx;
        });
        Assert.Equal(5, v);
    }

    [Fact]
    public void Await_ValueSentLaterByOtherTask_WakesReceiver()
    {
        using var rt = NewRuntime();
        string v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<string>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                await KyotoTask.Yield();
                tx.TrySend("hi");
            });
            return await rx;
        });
        Assert.Equal("hi", v);
    }

    [Fact]
    public void Await_ValueSentFromForeignThread_WakesReceiverOnRuntime()
    {
        using var rt = NewRuntime();
        (int v, TaskId? before, TaskId? after) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            TaskId? id = KyotoTask.CurrentId;
            var thread = new Thread(() => tx.TrySend(8)) { IsBackground = true };
            thread.Start();
            int got = await rx;
            return (got, id, KyotoTask.CurrentId);
        });
        Assert.Equal(8, v);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Await_SenderDisposedWithoutSending_ThrowsClosedChannelException()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Dispose();
            });
            return await Record.ExceptionAsync(async () => await rx);
        });
        Assert.IsType<ClosedChannelException>(e);
    }

    [Fact]
    public void Dispose_AfterSend_ReceiverStillGetsValue()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            tx.TrySend(4);
            tx.Dispose();
            return await rx;
        });
        Assert.Equal(4, v);
    }

    [Fact]
    public void RecvAsync_TokenCancelledWhileWaiting_ThrowsAndClosesChannel()
    {
        using var rt = NewRuntime();
        (Exception? e, bool closed, bool sent) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            using var cts = new CancellationTokenSource();
            ValueTask<int> pending = rx.RecvAsync(cts.Token);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                cts.Cancel();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await pending);
            return (ex, tx.IsClosed, tx.TrySend(1));
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.True(closed);
        Assert.False(sent);
    }

    [Fact]
    public void RecvAsync_AlreadyCancelledToken_ThrowsAtOnceAndClosesChannel()
    {
        using var rt = NewRuntime();
        (Exception? e, bool sent) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            Exception? ex = await Record.ExceptionAsync(async () => await rx.RecvAsync(new CancellationToken(true)));
            return (ex, tx.TrySend(1));
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.False(sent);
    }

    [Fact]
    public void RecvAsync_ValueArrivesBeforeCancellation_ReturnsValue()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            using var cts = new CancellationTokenSource();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(12);
            });
            int got = await rx.RecvAsync(cts.Token);
            cts.Cancel(); // late: no effect
            return got;
        });
        Assert.Equal(12, v);
    }

    [Fact]
    public void ClosedAsync_ReceiverCloses_Completes()
    {
        using var rt = NewRuntime();
        bool closed = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            Task closedTask = tx.ClosedAsync();
            Assert.False(closedTask.IsCompleted);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                rx.Close();
            });
            await closedTask;
            return tx.IsClosed;
        });
        Assert.True(closed);
    }

    [Fact]
    public void ClosedAsync_ReceiverStopsWaitingByCancellation_Completes()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            Task closedTask = tx.ClosedAsync();
            using var cts = new CancellationTokenSource();
            ValueTask<int> pending = rx.RecvAsync(cts.Token);
            cts.Cancel();
            await Record.ExceptionAsync(async () => await pending);
            await closedTask;
        });
    }

    [Fact]
    public void Await_ReceiverTaskAborted_AwaitThrowsTaskAbortedAndSenderSeesClosed()
    {
        using var rt = NewRuntime();
        (JoinException e, bool closed, bool sent) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                return await rx;
            });
            await readyRx;
            await KyotoTask.Yield();
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (ex, tx.IsClosed, tx.TrySend(1));
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.True(closed);
        Assert.False(sent);
    }

    /// <summary>A ball: a number and the sender on which the other player expects the next ball.</summary>
    private sealed record Ball(int N, OneshotSender<Ball> Back);

    [Fact]
    public void PingPong_ManyRoundTripsBetweenTasks_AllDelivered()
    {
        const int Rounds = 2_000;
        using var rt = NewRuntime();
        (int last, int pongLast) = rt.BlockOnBounded(async () =>
        {
            var (firstTx, firstRx) = Oneshot.Create<Ball>();
            JoinHandle<int> pong = KyotoTask.Spawn(async () =>
            {
                OneshotReceiver<Ball> inbox = firstRx;
                int seen = -1;
                for (int i = 0; i < Rounds; i++)
                {
                    Ball b = await inbox;
                    seen = b.N;
                    var (nextTx, nextRx) = Oneshot.Create<Ball>();
                    inbox = nextRx;
                    Assert.True(b.Back.TrySend(new Ball(b.N + 1, nextTx)));
                }

                return seen;
            });

            OneshotSender<Ball> toPong = firstTx;
            int n = 0;
            for (int i = 0; i < Rounds; i++)
            {
                var (backTx, backRx) = Oneshot.Create<Ball>();
                Assert.True(toPong.TrySend(new Ball(n, backTx)));
                Ball reply = await backRx;
                Assert.Equal(n + 1, reply.N);
                n = reply.N + 1;
                toPong = reply.Back;
            }

            return (n, await pong);
        });
        Assert.Equal(2 * Rounds, last);
        Assert.Equal(2 * Rounds - 2, pongLast);
    }
}

/// <summary>Oneshot behaviour that needs no runtime (the channel alone, or awaited from the thread pool).</summary>
public class OneshotWithoutRuntimeTests
{
    [Fact]
    public void Value_IsReceivedOnce_ThenTheChannelReadsClosed()
    {
        var (tx, rx) = Oneshot.Create<object>();
        var value = new object();
        Assert.True(tx.TrySend(value));
        Assert.True(rx.TryRecv(out object? got));
        Assert.Same(value, got);

        // The one value is not handed out again: a second receive finds the channel closed, however it asks.
        Assert.Throws<ClosedChannelException>(() => rx.TryRecv(out _));
        Assert.Throws<ClosedChannelException>(() => rx.RecvAsync().GetAwaiter().GetResult());
        Assert.Throws<ClosedChannelException>(() => rx.GetAwaiter().GetResult());
    }

    [Fact]
    public void Value_AwaitedOnce_ThenTryRecvReadsClosed()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Assert.True(tx.TrySend(7));
        Assert.Equal(7, rx.RecvAsync().GetAwaiter().GetResult());
        Assert.Throws<ClosedChannelException>(() => rx.TryRecv(out _));
    }

    [Fact]
    public void TrySend_Twice_SecondThrowsInvalidOperationException()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Assert.True(tx.TrySend(1));
        Assert.Throws<InvalidOperationException>(() => tx.TrySend(2));
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(1, v);
    }

    [Fact]
    public void TrySend_AfterDispose_ThrowsInvalidOperationException()
    {
        var (tx, _) = Oneshot.Create<int>();
        tx.Dispose();
        Assert.Throws<InvalidOperationException>(() => tx.TrySend(1));
    }

    [Fact]
    public void TrySend_AfterReceiverClosed_ReturnsFalse()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Assert.False(tx.IsClosed);
        rx.Close();
        Assert.True(tx.IsClosed);
        Assert.False(tx.TrySend(1));
    }

    [Fact]
    public void TrySend_AfterReceiverDisposed_ReturnsFalse()
    {
        var (tx, rx) = Oneshot.Create<int>();
        rx.Dispose();
        Assert.False(tx.TrySend(1));
    }

    [Fact]
    public void TryRecv_BeforeAndAfterSend_FalseThenTheValue()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Assert.False(rx.TryRecv(out int none));
        Assert.Equal(0, none);
        tx.TrySend(3);
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(3, v);
    }

    [Fact]
    public void TryRecv_SenderDisposed_ThrowsClosedChannelException()
    {
        var (tx, rx) = Oneshot.Create<int>();
        tx.Dispose();
        Assert.Throws<ClosedChannelException>(() => rx.TryRecv(out _));
    }

    [Fact]
    public void ClosedAsync_ReceiverAlreadyClosed_CompletesAtOnce()
    {
        var (tx, rx) = Oneshot.Create<int>();
        rx.Close();
        Assert.True(tx.ClosedAsync().IsCompleted);
    }

    [Fact]
    public void ClosedAsync_CalledTwiceWhileOpen_BothCompleteOnClose()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Task first = tx.ClosedAsync();
        Task second = tx.ClosedAsync();
        rx.Close();
        Assert.True(Bounded.Finishes(first));
        Assert.True(Bounded.Finishes(second));
    }

    [Fact]
    public void Await_FromOutsideRuntime_Works()
    {
        var (tx, rx) = Oneshot.Create<int>();
        Task<int> waiting = Task.Run(async () => await rx);
        tx.TrySend(21);
        Assert.Equal(21, Bounded.Result(waiting, "a oneshot awaited outside any runtime"));
    }

    [Fact]
    public void Await_TwoWaitersAtOnce_SecondRegistrationThrowsAndFirstStillResumes()
    {
        var (tx, rx) = Oneshot.Create<int>();
        using var firstResumed = new ManualResetEventSlim();
        bool secondResumed = false;

        // Registered on a plain thread (no SynchronizationContext), as from a thread-pool continuation.
        Bounded.Run(() =>
        {
            rx.GetAwaiter().UnsafeOnCompleted(firstResumed.Set);
            Assert.Throws<InvalidOperationException>(() => rx.GetAwaiter().UnsafeOnCompleted(() => secondResumed = true));
        }, "registering two waiters");
        tx.TrySend(1);
        Assert.True(firstResumed.Wait(TimeSpan.FromSeconds(10)), "the first waiter lost its continuation when the second was refused");
        Assert.False(secondResumed);
    }
}
