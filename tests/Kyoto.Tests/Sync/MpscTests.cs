using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;

namespace Kyoto.Tests.Sync;

/// <summary>
/// Mpsc channels (Tokio's <c>sync_mpsc</c>), bounded and unbounded: delivery and order with many producers,
/// closing from either side, reserved permits, cancellation and abort of sends and receives, sender counting,
/// timeouts, the blocking entry points and the coop budget.
/// </summary>
public abstract class MpscTests : RuntimeTestBase
{
    public sealed class MultiThread : MpscTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : MpscTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>The exception awaiting <paramref name="pending"/> throws, or null.</summary>
    private static Task<Exception?> ErrorOf(ValueTask pending) => Record.ExceptionAsync(async () => await pending);

    /// <inheritdoc cref="ErrorOf(ValueTask)"/>
    private static Task<Exception?> ErrorOf<T>(ValueTask<T> pending) => Record.ExceptionAsync(async () => await pending);

    /// <summary>Receives until the channel reports closed.</summary>
    private static async Task<List<int>> DrainAsync(MpscReceiver<int> rx)
    {
        var got = new List<int>();
        while (true)
        {
            try
            {
                got.Add(await rx.RecvAsync());
            }
            catch (ClosedChannelException)
            {
                return got;
            }
        }
    }

    // ---- construction and basics ----

    [Fact]
    public void CreateBounded_CapacityOutOfRange_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Mpsc.CreateBounded<int>(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Mpsc.CreateBounded<int>(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Mpsc.CreateBounded<int>(AsyncSemaphore.MaxPermits + 1));
    }

    [Fact]
    public void Capacities_ReflectRoomAndLimit()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(3);
        Assert.Equal(3, tx.MaxCapacity);
        Assert.Equal(3, rx.MaxCapacity);
        Assert.Equal(3, tx.Capacity);
        Assert.True(tx.TrySend(1));
        Assert.True(tx.TrySend(2));
        Assert.Equal(1, tx.Capacity);
        Assert.Equal(2, rx.Count);
        Assert.False(rx.IsEmpty);
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(1, v);
        Assert.Equal(2, tx.Capacity);
        Assert.Equal(1, rx.Count);
        var (_, urx) = Mpsc.CreateUnbounded<int>();
        Assert.Equal(int.MaxValue, urx.MaxCapacity);
        Assert.True(urx.IsEmpty);
    }

    [Fact]
    public void SendAsyncThenRecvAsync_OneProducer_ValuesInOrder()
    {
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            JoinHandle producer = KyotoTask.Spawn(async () =>
            {
                using (tx)
                {
                    for (int i = 0; i < 100; i++)
                    {
                        await tx.SendAsync(i);
                    }
                }
            });
            List<int> all = await DrainAsync(rx);
            await producer;
            return all;
        });
        Assert.Equal(Enumerable.Range(0, 100), got);
    }

    [Fact]
    public void TrySend_Full_ReturnsFalseUntilAValueIsReceived()
    {
        var (tx, rx) = Mpsc.CreateBounded<string>(2);
        Assert.True(tx.TrySend("a"));
        Assert.True(tx.TrySend("b"));
        Assert.False(tx.TrySend("c"));
        Assert.Equal(0, tx.Capacity);
        Assert.True(rx.TryRecv(out string? first));
        Assert.Equal("a", first);
        Assert.True(tx.TrySend("c"));
        Assert.True(rx.TryRecv(out string? second));
        Assert.True(rx.TryRecv(out string? third));
        Assert.Equal(["b", "c"], new[] { second, third });
        Assert.False(rx.TryRecv(out _));
    }

    [Fact]
    public void SendAsync_Full_WaitsUntilTheReceiverTakesAValue()
    {
        using var rt = NewRuntime();
        (bool sentEarly, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(1);
            bool sent = false;
            ValueTask second = tx.SendAsync(2); // waits for room
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await second;
                Volatile.Write(ref sent, true);
            });
            bool early = Volatile.Read(ref sent);
            var all = new List<int> { await rx.RecvAsync(), await rx.RecvAsync() };
            await h;
            return (early, all);
        });
        Assert.False(sentEarly);
        Assert.Equal([1, 2], got);
    }

    [Fact]
    public void RecvAsync_Empty_WaitsForAValueFromAnotherTask()
    {
        using var rt = NewRuntime();
        string got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<string>();
            ValueTask<string> pending = rx.RecvAsync();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.Send("late");
            });
            return await pending;
        });
        Assert.Equal("late", got);
    }

    // ---- many producers ----

    public enum Receive
    {
        RecvAsync,
        RecvManyAsync,
        AwaitForeach,
        TryRecvThenRecv,
    }

    [Theory]
    [InlineData(0, Receive.RecvAsync)]
    [InlineData(0, Receive.RecvManyAsync)]
    [InlineData(0, Receive.AwaitForeach)]
    [InlineData(1, Receive.RecvAsync)]
    [InlineData(1, Receive.RecvManyAsync)]
    [InlineData(1, Receive.AwaitForeach)]
    [InlineData(2, Receive.RecvAsync)]
    [InlineData(2, Receive.TryRecvThenRecv)]
    [InlineData(16, Receive.RecvAsync)]
    [InlineData(16, Receive.RecvManyAsync)]
    [InlineData(16, Receive.AwaitForeach)]
    [InlineData(2048, Receive.RecvAsync)]
    [InlineData(2048, Receive.RecvManyAsync)]
    public void ManyProducers_EveryValueOnceAndInEachProducersOrder(int capacity, Receive how)
    {
        // capacity 0 = unbounded. Values are producer * Stride + sequence number.
        const int Producers = 6;
        const int PerProducer = 500;
        const int Stride = 1_000_000;
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            MpscReceiver<int> rx;
            var handles = new JoinHandle[Producers];
            if (capacity == 0)
            {
                var (tx, urx) = Mpsc.CreateUnbounded<int>();
                rx = urx;
                for (int p = 0; p < Producers; p++)
                {
                    MpscUnboundedSender<int> mine = tx.Clone();
                    int id = p;
                    handles[p] = KyotoTask.Spawn(async () =>
                    {
                        using (mine)
                        {
                            for (int i = 0; i < PerProducer; i++)
                            {
                                mine.Send(id * Stride + i);
                                if (i % 7 == 0)
                                {
                                    await KyotoTask.Yield();
                                }
                            }
                        }
                    });
                }

                tx.Dispose();
            }
            else
            {
                var (tx, brx) = Mpsc.CreateBounded<int>(capacity);
                rx = brx;
                for (int p = 0; p < Producers; p++)
                {
                    MpscSender<int> mine = tx.Clone();
                    int id = p;
                    handles[p] = KyotoTask.Spawn(async () =>
                    {
                        using (mine)
                        {
                            for (int i = 0; i < PerProducer; i++)
                            {
                                await mine.SendAsync(id * Stride + i);
                            }
                        }
                    });
                }

                tx.Dispose();
            }

            var all = new List<int>();
            switch (how)
            {
                case Receive.RecvAsync:
                    all = await DrainAsync(rx);
                    break;
                case Receive.RecvManyAsync:
                    var buffer = new int[5];
                    int n;
                    while ((n = await rx.RecvManyAsync(buffer)) > 0)
                    {
                        Assert.InRange(n, 1, buffer.Length);
                        all.AddRange(buffer.Take(n));
                    }

                    break;
                case Receive.AwaitForeach:
                    await foreach (int v in rx)
                    {
                        all.Add(v);
                    }

                    break;
                default:
                    while (true)
                    {
                        if (rx.TryRecv(out int v))
                        {
                            all.Add(v);
                            continue;
                        }

                        try
                        {
                            all.Add(await rx.RecvAsync());
                        }
                        catch (ClosedChannelException)
                        {
                            break;
                        }
                    }

                    break;
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return all;
        }, TimeSpan.FromSeconds(60));

        Assert.Equal(Producers * PerProducer, got.Count);
        var next = new int[Producers];
        foreach (int v in got)
        {
            int producer = v / Stride;
            int seq = v % Stride;
            Assert.True(seq == next[producer], $"producer {producer}: expected {next[producer]}, got {seq} (lost, duplicated or reordered)");
            next[producer]++;
        }

        Assert.All(next, n => Assert.Equal(PerProducer, n));
    }

    // ---- closing ----

    [Fact]
    public void Send_ReceiverClosed_FailsWithTheUnsentValue()
    {
        using var rt = NewRuntime();
        (Exception? send, bool trySend, bool closed, bool closedTask) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<string>(4);
            Task closedAsync = tx.ClosedAsync();
            Assert.False(closedAsync.IsCompleted);
            rx.Close();
            Exception? e = await ErrorOf(tx.SendAsync("lost"));
            await closedAsync;
            return (e, tx.TrySend("also lost"), tx.IsClosed, closedAsync.IsCompletedSuccessfully);
        });
        ClosedChannelException ce = Assert.IsType<ClosedChannelException>(send);
        Assert.Equal("lost", ce.UnsentValue);
        Assert.False(trySend);
        Assert.True(closed);
        Assert.True(closedTask);
    }

    [Fact]
    public void Send_ReceiverDisposed_FailsWithTheUnsentValue()
    {
        using var rt = NewRuntime();
        (Exception? send, bool trySend, Exception? recv) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            Assert.True(tx.TrySend(1)); // dropped with the receiver
            rx.Dispose();
            rx.Dispose(); // twice is harmless
            Exception? e = await ErrorOf(tx.SendAsync(2));
            await tx.ClosedAsync();
            Exception? r = Record.Exception(() => rx.RecvAsync());
            return (e, tx.TrySend(3), r);
        });
        Assert.Equal(2, Assert.IsType<ClosedChannelException>(send).UnsentValue);
        Assert.False(trySend);
        Assert.IsType<ObjectDisposedException>(recv);
    }

    [Fact]
    public void UnboundedSend_ReceiverClosed_TrySendFalseAndSendThrowsWithTheValue()
    {
        var (tx, rx) = Mpsc.CreateUnbounded<int>();
        Task closedAsync = tx.ClosedAsync();
        rx.Close();
        Assert.True(tx.IsClosed);
        Assert.False(tx.TrySend(1));
        ClosedChannelException e = Assert.Throws<ClosedChannelException>(() => tx.Send(7));
        Assert.Equal(7, e.UnsentValue);
        Assert.True(Bounded.Finishes(closedAsync));
    }

    [Fact]
    public void RecvAsync_AllSendersDisposed_DrainsThenThrowsClosed()
    {
        using var rt = NewRuntime();
        (List<int> got, Exception? again, bool closed) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(8);
            MpscSender<int> tx2 = tx.Clone();
            await tx.SendAsync(1);
            await tx2.SendAsync(2);
            tx.Dispose();
            await tx2.SendAsync(3);
            tx2.Dispose();
            List<int> all = await DrainAsync(rx);
            return (all, await ErrorOf(rx.RecvAsync()), rx.IsClosed);
        });
        Assert.Equal([1, 2, 3], got);
        Assert.IsType<ClosedChannelException>(again);
        Assert.True(closed);
    }

    [Fact]
    public void RecvAsync_WaitingWhenLastSenderIsDisposed_ThrowsClosed()
    {
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            ValueTask<int> pending = rx.RecvAsync();
            _ = KyotoTask.Spawn(() =>
            {
                tx.Dispose();
                return Task.CompletedTask;
            });
            return await ErrorOf(pending);
        });
        Assert.IsType<ClosedChannelException>(e);
    }

    [Fact]
    public void AwaitForeach_EndsWhenTheLastSenderIsDisposed()
    {
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            _ = KyotoTask.Spawn(async () =>
            {
                using (tx)
                {
                    for (int i = 0; i < 10; i++)
                    {
                        await tx.SendAsync(i);
                    }
                }
            });
            var all = new List<int>();
            await foreach (int v in rx)
            {
                all.Add(v);
            }

            return all;
        });
        Assert.Equal(Enumerable.Range(0, 10), got);
    }

    [Fact]
    public void Close_BufferedValuesStillDrainThenClosed()
    {
        using var rt = NewRuntime();
        (List<int> got, bool trySendAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            await tx.SendAsync(1);
            await tx.SendAsync(2);
            rx.Close();
            bool t = tx.TrySend(3);
            List<int> all = await DrainAsync(rx);
            GC.KeepAlive(tx);
            return (all, t);
        });
        Assert.Equal([1, 2], got);
        Assert.False(trySendAfter);
    }

    [Fact]
    public void SendAsync_WaitingForRoomWhenReceiverCloses_FailsAndBufferedValueStillDrains()
    {
        using var rt = NewRuntime();
        (Exception? first, Exception? second, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            ValueTask a = tx.SendAsync(1);
            ValueTask b = tx.SendAsync(2);
            rx.Close();
            Exception? ea = await ErrorOf(a);
            Exception? eb = await ErrorOf(b);
            return (ea, eb, await DrainAsync(rx));
        });
        Assert.IsType<ClosedChannelException>(first);
        Assert.IsType<ClosedChannelException>(second);
        Assert.Equal([0], got);
    }

    [Fact]
    public void SendAsync_WaitingForRoomWhenReceiverCloses_ExceptionCarriesTheUnsentValue()
    {
        // As for a send that finds the channel closed at once: the caller must get its value back.
        using var rt = NewRuntime();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<string>(1);
            await tx.SendAsync("first");
            ValueTask waiting = tx.SendAsync("keep me");
            rx.Close();
            return await ErrorOf(waiting);
        });
        ClosedChannelException ce = Assert.IsType<ClosedChannelException>(e);
        Assert.Equal("keep me", ce.UnsentValue);
    }

    // ---- sender counting ----

    [Fact]
    public void CloneAndDispose_ChannelClosesOnlyWhenTheLastSenderIsDisposed()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(4);
        MpscSender<int> tx2 = tx.Clone();
        MpscSender<int> tx3 = tx2.Clone();
        tx.Dispose();
        tx.Dispose(); // counts once
        tx.Dispose();
        Assert.False(rx.IsClosed);
        tx2.Dispose();
        Assert.False(rx.IsClosed);
        Assert.True(tx3.TrySend(5));
        tx3.Dispose();
        Assert.True(rx.IsClosed);
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(5, v);
        Assert.False(rx.TryRecv(out _));
        Assert.Throws<ObjectDisposedException>(() => tx.Clone());
        Assert.Throws<ObjectDisposedException>(() => tx.TrySend(1));
        Assert.Throws<ObjectDisposedException>(() => tx.SendAsync(1));
        Assert.Throws<ObjectDisposedException>(() => tx.ReserveAsync());
        Assert.Throws<ObjectDisposedException>(() => tx.TryReserve(out _));
    }

    [Fact]
    public void UnboundedCloneAndDispose_ChannelClosesOnlyWhenTheLastSenderIsDisposed()
    {
        var (tx, rx) = Mpsc.CreateUnbounded<int>();
        MpscUnboundedSender<int> tx2 = tx.Clone();
        tx.Dispose();
        tx.Dispose();
        Assert.False(rx.IsClosed);
        Assert.True(tx2.TrySend(1));
        tx2.Dispose();
        Assert.True(rx.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => tx.Clone());
        Assert.Throws<ObjectDisposedException>(() => tx2.Send(2));
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(1, v);
    }

    // ---- reserved permits ----

    [Fact]
    public void ReserveAsync_ThenSend_DeliversWithoutWaiting()
    {
        using var rt = NewRuntime();
        (int roomDuring, int got, int roomAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            MpscPermit<int> permit = await tx.ReserveAsync();
            int during = tx.Capacity;
            permit.Send(42);
            int v = await rx.RecvAsync();
            return (during, v, tx.Capacity);
        });
        Assert.Equal(1, roomDuring);
        Assert.Equal(42, got);
        Assert.Equal(2, roomAfter);
    }

    [Fact]
    public void Permit_DisposedUnused_GivesTheRoomBack()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(1);
        Assert.True(tx.TryReserve(out MpscPermit<int> permit));
        Assert.False(tx.TrySend(1));
        Assert.False(tx.TryReserve(out _));
        permit.Dispose();
        permit.Dispose(); // once only
        Assert.Equal(1, tx.Capacity);
        Assert.True(tx.TrySend(2));
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(2, v);
    }

    [Fact]
    public void Permit_UsedTwiceOrDefault_ThrowsInvalidOperation()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(2);
        Assert.True(tx.TryReserve(out MpscPermit<int> permit));
        permit.Send(1);
        Assert.Throws<InvalidOperationException>(() => permit.Send(2));
        MpscPermit<int> none = default;
        Assert.Throws<InvalidOperationException>(() => none.Send(3));
        none.Dispose();
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(1, v);
        Assert.False(rx.TryRecv(out _));
        Assert.Equal(2, tx.Capacity);
    }

    [Fact]
    public void Permit_ReservedBeforeReceiverClose_StillSendsAndIsReceived()
    {
        using var rt = NewRuntime();
        (List<int> got, bool tryReserveAfter, Exception? reserveAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            await tx.SendAsync(1);
            MpscPermit<int> permit = await tx.ReserveAsync();
            rx.Close();
            bool t = tx.TryReserve(out _);
            Exception? e = await ErrorOf(tx.ReserveAsync());
            permit.Send(2);
            return (await DrainAsync(rx), t, e);
        });
        Assert.Equal([1, 2], got);
        Assert.False(tryReserveAfter);
        Assert.IsType<ClosedChannelException>(reserveAfter);
    }

    [Fact]
    public void Permit_OutstandingAfterLastSenderDisposed_ReceiverWaitsForIt()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        (int got, Exception? then) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            MpscPermit<int> permit = await tx.ReserveAsync();
            tx.Dispose(); // closed, but a reserved value may still come
            JoinHandle late = KyotoTask.Spawn(async () =>
            {
                await KyotoTime.Sleep(TimeSpan.FromSeconds(1)); // paused clock: fires only once every task is idle
                permit.Send(42);
            });
            int v = await rx.RecvAsync();
            Exception? e = await ErrorOf(rx.RecvAsync());
            await late;
            return (v, e);
        });
        Assert.Equal(42, got);
        Assert.IsType<ClosedChannelException>(then);
    }

    [Fact]
    public void Permit_OutstandingWhenChannelClosesUnderAWaitingReceiver_ReceiverWaitsForIt()
    {
        // The receiver is already parked when the close wakes it: it must park again while a permit is
        // outstanding, not report "closed" and then receive the permit's value afterwards.
        using var rt = NewRuntime(b => b.StartPaused = true);
        (Exception? first, int? afterwards) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            MpscPermit<int> permit = await tx.ReserveAsync();
            ValueTask<int> pending = rx.RecvAsync(); // parks: empty and open
            tx.Dispose();                            // closes the channel and wakes the parked receiver
            JoinHandle late = KyotoTask.Spawn(async () =>
            {
                await KyotoTime.Sleep(TimeSpan.FromSeconds(1)); // paused clock: fires only once every task is idle
                permit.Send(42);
            });
            Exception? e = null;
            int? value = null;
            try
            {
                value = await pending;
            }
            catch (ClosedChannelException ex)
            {
                e = ex;
                await late;
                value = rx.TryRecv(out int v) ? v : null; // the value the receiver was told would never come
            }

            await late;
            return (e, value);
        });
        Assert.Null(first);
        Assert.Equal(42, afterwards);
    }

    [Fact]
    public void Permit_OutstandingAndThenDisposed_ReceiverSeesClosed()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        Exception? e = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(4);
            MpscPermit<int> permit = await tx.ReserveAsync();
            tx.Dispose();
            JoinHandle late = KyotoTask.Spawn(async () =>
            {
                await KyotoTime.Sleep(TimeSpan.FromSeconds(1));
                permit.Dispose();
            });
            Exception? ex = await ErrorOf(rx.RecvAsync());
            await late;
            return ex;
        });
        Assert.IsType<ClosedChannelException>(e);
    }

    [Fact]
    public void Permit_ReceiverDisposed_SendIsDroppedSilently()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(2);
        Assert.True(tx.TryReserve(out MpscPermit<int> permit));
        rx.Dispose();
        permit.Send(1); // documented: dropped, no exception
        Assert.True(tx.IsClosed);
        Assert.False(tx.TrySend(2));
    }

    [Fact]
    public void ReserveAsync_WaitersForRoom_ServedInArrivalOrderAheadOfLaterSends()
    {
        using var rt = NewRuntime();
        (Exception? r2, Exception? s3, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            Assert.True(tx.TrySend(0));
            ValueTask<MpscPermit<int>> first = tx.ReserveAsync();
            ValueTask<MpscPermit<int>> second = tx.ReserveAsync();
            ValueTask third = tx.SendAsync(3);
            Assert.True(rx.TryRecv(out int zero)); // one slot of room: it goes to the first reservation
            Assert.Equal(0, zero);
            MpscPermit<int> p1 = await first;
            rx.Close(); // fails whoever still waits for room
            Exception? e2 = await ErrorOf(second);
            Exception? e3 = await ErrorOf(third);
            p1.Send(1);
            return (e2, e3, await DrainAsync(rx));
        });
        Assert.IsType<ClosedChannelException>(r2);
        Assert.IsType<ClosedChannelException>(s3);
        Assert.Equal([1], got);
    }

    [Fact]
    public void SendAsync_WaitersForRoom_ServedInArrivalOrder()
    {
        const int Senders = 10;
        using var rt = NewRuntime();
        List<int> got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            Assert.True(tx.TrySend(-1));
            var pending = new ValueTask[Senders];
            for (int i = 0; i < Senders; i++)
            {
                pending[i] = tx.SendAsync(i); // queued for room in this order
            }

            // Each send pushes its value as its awaiting task resumes; spawned in reverse so that only the
            // queue order (one slot of room at a time) can produce the expected order.
            var handles = new JoinHandle[Senders];
            for (int i = Senders - 1; i >= 0; i--)
            {
                ValueTask mine = pending[i];
                handles[i] = KyotoTask.Spawn(async () => await mine);
            }

            var all = new List<int>();
            for (int i = 0; i <= Senders; i++)
            {
                all.Add(await rx.RecvAsync());
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return all;
        });
        Assert.Equal(Enumerable.Range(-1, Senders + 1), got);
    }

    // ---- cancellation ----

    [Fact]
    public void SendAsync_TokenCancelledBeforeCall_ThrowsAndSendsNothing()
    {
        using var rt = NewRuntime();
        (Exception? e, Exception? reserve, int room, bool anything) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            var cancelled = new CancellationToken(canceled: true);
            Exception? ex = await ErrorOf(tx.SendAsync(1, cancelled));
            Exception? rex = await ErrorOf(tx.ReserveAsync(cancelled));
            return (ex, rex, tx.Capacity, rx.TryRecv(out _));
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.IsAssignableFrom<OperationCanceledException>(reserve);
        Assert.Equal(2, room);
        Assert.False(anything);
    }

    [Fact]
    public void SendAsync_CancelledWhileWaitingForRoom_ValueNotSentAndRoomGoesToTheNextSender()
    {
        using var rt = NewRuntime();
        (Exception? e, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            using var cts = new CancellationTokenSource();
            ValueTask cancelled = tx.SendAsync(1, cts.Token);
            ValueTask kept = tx.SendAsync(2);
            cts.Cancel();
            Exception? ex = await ErrorOf(cancelled);
            JoinHandle keeper = KyotoTask.Spawn(async () => await kept); // a send pushes its value as it resumes
            var all = new List<int> { await rx.RecvAsync(), await rx.RecvAsync() };
            await keeper;
            tx.Dispose();
            all.AddRange(await DrainAsync(rx));
            return (ex, all);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal([0, 2], got);
    }

    [Fact]
    public void SendAndReserve_ManyCancelledWaitsForRoom_LeaveNoWaiterBehind()
    {
        const int Waits = 20_000;
        using var rt = NewRuntime();
        (int cancelled, int room, bool sendAfter) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            await tx.SendAsync(-1);
            await tx.SendAsync(-2);
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                if (i % 2 == 0)
                {
                    ValueTask pending = tx.SendAsync(i, cts.Token);
                    cts.Cancel();
                    if (await ErrorOf(pending) is OperationCanceledException)
                    {
                        n++;
                    }
                }
                else
                {
                    ValueTask<MpscPermit<int>> pending = tx.ReserveAsync(cts.Token);
                    cts.Cancel();
                    if (await ErrorOf(pending) is OperationCanceledException)
                    {
                        n++;
                    }
                }
            }

            Assert.Equal(-1, await rx.RecvAsync());
            Assert.Equal(-2, await rx.RecvAsync());
            int r = tx.Capacity; // a waiter left behind would have taken room
            bool s = tx.TrySend(7);
            Assert.Equal(7, await rx.RecvAsync());
            return (n, r, s);
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.Equal(2, room);
        Assert.True(sendAfter);
    }

    [Fact]
    public void RecvAsync_TokenCancelledBeforeCall_ThrowsAndTheValueStays()
    {
        using var rt = NewRuntime();
        (Exception? e, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            tx.Send(9);
            Exception? ex = await ErrorOf(rx.RecvAsync(new CancellationToken(canceled: true)));
            return (ex, await rx.RecvAsync());
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(9, got);
    }

    [Fact]
    public void RecvAsync_CancelledWhileWaiting_TakesNothingAndNextReceiveGetsTheValue()
    {
        using var rt = NewRuntime();
        (Exception? e, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            using var cts = new CancellationTokenSource();
            ValueTask<int> pending = rx.RecvAsync(cts.Token);
            cts.Cancel();
            Exception? ex = await ErrorOf(pending);
            await tx.SendAsync(5);
            return (ex, await rx.RecvAsync());
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(5, got);
    }

    [Fact]
    public void RecvAsync_ManyCancelledWaits_ReceiverStillWorks()
    {
        const int Waits = 20_000;
        using var rt = NewRuntime();
        (int cancelled, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<int> pending = rx.RecvAsync(cts.Token);
                cts.Cancel();
                if (await ErrorOf(pending) is OperationCanceledException)
                {
                    n++;
                }
            }

            ValueTask<int> real = rx.RecvAsync();
            _ = KyotoTask.Spawn(async () => await tx.SendAsync(77));
            return (n, await real);
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.Equal(77, got);
    }

    [Fact]
    public void AwaitForeach_CancelledWhileWaiting_ThrowsAndTakesNothing()
    {
        using var rt = NewRuntime();
        (Exception? e, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            using var cts = new CancellationTokenSource();
            tx.Send(1);
            var seen = new List<int>();
            Exception? ex = await Record.ExceptionAsync(async () =>
            {
                await foreach (int v in rx.WithCancellation(cts.Token))
                {
                    seen.Add(v);
                    cts.Cancel(); // the next MoveNextAsync is cancelled
                }
            });
            Assert.Equal([1], seen);
            tx.Send(2);
            return (ex, await rx.RecvAsync());
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(2, got);
    }

    // ---- abort ----

    [Fact]
    public void SendAsync_TaskAbortedWhileWaitingForRoom_ValueNotSentAndRoomNotLost()
    {
        using var rt = NewRuntime();
        (JoinException e, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                ValueTask pending = tx.SendAsync(1);
                readyTx.TrySend(true);
                await pending;
            });
            await readyRx;
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            Assert.Equal(0, await rx.RecvAsync());
            Assert.True(tx.TrySend(2)); // the room was not taken by the aborted sender
            tx.Dispose();
            return (ex, await DrainAsync(rx));
        });
        Assert.True(e.IsCancelled);
        Assert.Equal([2], got);
    }

    [Fact]
    public void SendAsync_TaskAbortedJustAsRoomIsHandedToIt_RoomComesBack()
    {
        using var rt = NewRuntime();
        (JoinException e, int room, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                ValueTask pending = tx.SendAsync(1);
                readyTx.TrySend(true);
                await pending;
            });
            await readyRx;
            Assert.True(rx.TryRecv(out int zero)); // hands the room to the waiting sender...
            Assert.Equal(0, zero);
            h.Abort();                             // ...whose task is aborted before it resumes
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            int r = tx.Capacity;
            tx.Dispose();
            return (ex, r, await DrainAsync(rx));
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(1, room);
        Assert.Empty(got); // an aborted send sends nothing
    }

    [Fact]
    public void RecvAsync_TaskAbortedWhileWaiting_LaterValueStaysForTheNextReceive()
    {
        using var rt = NewRuntime();
        (JoinException e, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                ValueTask<int> pending = rx.RecvAsync();
                readyTx.TrySend(true);
                return await pending;
            });
            await readyRx;
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            tx.Send(3);
            return (ex, await rx.RecvAsync());
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(3, got);
    }

    [Fact]
    public void RecvAsync_TaskAbortedJustAsAValueArrives_ValueStaysForTheNextReceive()
    {
        using var rt = NewRuntime();
        int got = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                ValueTask<int> pending = rx.RecvAsync();
                readyTx.TrySend(true);
                return await pending;
            });
            await readyRx;
            tx.Send(4); // wakes the receiver...
            h.Abort();  // ...which is aborted before it resumes
            await Record.ExceptionAsync(async () => await h);
            return await rx.RecvAsync();
        });
        Assert.Equal(4, got);
    }

    // ---- single consumer ----

    [Fact]
    public void RecvAsync_WhileAnotherReceiveIsPending_ThrowsInvalidOperation()
    {
        using var rt = NewRuntime();
        (Exception? recv, Exception? many, Exception? tryRecv, int got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            ValueTask<int> first = rx.RecvAsync();
            Exception? a = Record.Exception(() => rx.RecvAsync());
            Exception? b = Record.Exception(() => rx.RecvManyAsync(new int[4]));
            Exception? c = Record.Exception(() => rx.TryRecv(out _));
            tx.Send(8);
            return (a, b, c, await first);
        });
        Assert.IsType<InvalidOperationException>(recv);
        Assert.IsType<InvalidOperationException>(many);
        Assert.IsType<InvalidOperationException>(tryRecv);
        Assert.Equal(8, got);
    }

    [Fact]
    public void RecvManyAsync_TakesUpToTheBufferLengthAndWaitsWhenEmpty()
    {
        using var rt = NewRuntime();
        (int first, int[] firstValues, int second, int empty, int waited, int closed) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(16);
            for (int i = 0; i < 5; i++)
            {
                await tx.SendAsync(i);
            }

            var buffer = new int[3];
            int a = await rx.RecvManyAsync(buffer);
            int[] values = buffer.Take(a).ToArray();
            int b = await rx.RecvManyAsync(buffer);
            int c = await rx.RecvManyAsync(Memory<int>.Empty);
            ValueTask<int> pending = rx.RecvManyAsync(buffer);
            _ = KyotoTask.Spawn(async () =>
            {
                await tx.SendAsync(10);
                tx.Dispose();
            });
            int d = await pending;
            Assert.Equal(10, buffer[0]);
            int e = await rx.RecvManyAsync(buffer);
            return (a, values, b, c, d, e);
        });
        Assert.Equal(3, first);
        Assert.Equal([0, 1, 2], firstValues);
        Assert.Equal(2, second);
        Assert.Equal(0, empty);
        Assert.Equal(1, waited);
        Assert.Equal(0, closed);
    }

    [Fact]
    public void TryRecv_EmptyOpenOrClosed_ReturnsFalse()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(2);
        Assert.False(rx.TryRecv(out _));
        Assert.False(rx.IsClosed);
        tx.TrySend(1);
        tx.Dispose();
        Assert.True(rx.TryRecv(out int v));
        Assert.Equal(1, v);
        Assert.False(rx.TryRecv(out _));
        Assert.True(rx.IsClosed);
    }

    // ---- timeouts ----

    [Fact]
    public void SendAsyncWithTimeout_NoRoomInTime_ThrowsElapsedAndLeavesNoWaiter()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        (Exception? e, TimeSpan waited, bool sendAfter, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            Instant start = Instant.Now;
            Exception? ex = await ErrorOf(tx.SendAsync(1, TimeSpan.FromSeconds(3)));
            TimeSpan w = Instant.Now - start;
            Assert.Equal(0, await rx.RecvAsync());
            bool s = tx.TrySend(2); // the timed-out sender must not have kept a place in the queue
            tx.Dispose();
            return (ex, w, s, await DrainAsync(rx));
        });
        ElapsedException elapsed = Assert.IsType<ElapsedException>(e);
        Assert.Equal(TimeSpan.FromSeconds(3), elapsed.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(3), waited);
        Assert.True(sendAfter);
        Assert.Equal([2], got);
    }

    [Fact]
    public void SendAsyncWithTimeout_RoomBeforeTheDeadline_Sends()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        (TimeSpan waited, List<int> got) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            await tx.SendAsync(0);
            var received = new List<int>();
            JoinHandle consumer = KyotoTask.Spawn(async () =>
            {
                await KyotoTime.Sleep(TimeSpan.FromSeconds(2));
                received.Add(await rx.RecvAsync());
                received.Add(await rx.RecvAsync());
            });
            Instant start = Instant.Now;
            await tx.SendAsync(1, TimeSpan.FromSeconds(5));
            TimeSpan w = Instant.Now - start;
            await consumer;
            return (w, received);
        });
        Assert.Equal(TimeSpan.FromSeconds(2), waited);
        Assert.Equal([0, 1], got);
    }

    [Fact]
    public void SendAsyncWithTimeout_RoomOrClosed_CompletesOrFailsAtOnce()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        (TimeSpan waited, Exception? closed) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(1);
            Instant start = Instant.Now;
            await tx.SendAsync(1, TimeSpan.FromSeconds(5));
            TimeSpan w = Instant.Now - start;
            rx.Close();
            Exception? e = await ErrorOf(tx.SendAsync(2, TimeSpan.FromSeconds(5)));
            return (w, e);
        });
        Assert.Equal(TimeSpan.Zero, waited);
        Assert.Equal(2, Assert.IsType<ClosedChannelException>(closed).UnsentValue);
    }

    // ---- blocking entry points ----

    [Fact]
    public void BlockingSendAndRecv_OnAWorkerThread_ThrowInvalidOperation()
    {
        using var rt = NewRuntime();
        (Exception? send, Exception? recv, int count) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(2);
            Exception? s = null;
            Exception? r = null;
            await KyotoTask.Spawn(() =>
            {
                s = Record.Exception(() => tx.BlockingSend(1));
                r = Record.Exception(() => rx.BlockingRecv());
                return Task.CompletedTask;
            });
            return (s, r, rx.Count);
        });
        Assert.IsType<InvalidOperationException>(send);
        Assert.IsType<InvalidOperationException>(recv);
        Assert.Equal(0, count);
    }

    [Fact]
    public void BlockingSendAndRecv_FromPlainThreads_DeliverEverythingThenClosed()
    {
        const int Values = 2_000;
        var (tx, rx) = Mpsc.CreateBounded<int>(4);
        Task producer = Bounded.OnThread(() =>
        {
            using (tx)
            {
                for (int i = 0; i < Values; i++)
                {
                    tx.BlockingSend(i);
                }
            }
        });
        (List<int> got, Exception? end) = Bounded.Run(() =>
        {
            var all = new List<int>();
            for (int i = 0; i < Values; i++)
            {
                all.Add(rx.BlockingRecv());
            }

            return (all, Record.Exception(() => rx.BlockingRecv()));
        }, "the blocking receiver");
        Bounded.Wait(producer, "the blocking sender");
        Assert.Equal(Enumerable.Range(0, Values), got);
        Assert.IsType<ClosedChannelException>(end);
    }

    [Fact]
    public void BlockingRecv_FromPlainThread_WakesOnSendFromTheRuntime()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        var (tx, rx) = Mpsc.CreateUnbounded<int>();
        Task<int> receiver = Bounded.OnThread(rx.BlockingRecv);
        Bounded.Join(rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            tx.Send(31);
        }));
        Assert.Equal(31, Bounded.Result(receiver, "BlockingRecv on a plain thread"));
    }

    // ---- coop budget ----

    [Fact]
    public void RecvAsync_ThousandReadyValues_StillLetsAnotherTaskRunBeforeFinishing()
    {
        const int Values = 1_000;
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (int seenAt, int received) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            for (int i = 0; i < Values; i++)
            {
                tx.Send(i);
            }

            bool flag = false;
            JoinHandle<(int, int)> receiver = KyotoTask.Spawn(async () =>
            {
                // Spawned from the receiving task: queued on its own (only) worker, behind it.
                JoinHandle setter = KyotoTask.Spawn(() =>
                {
                    Volatile.Write(ref flag, true);
                    return Task.CompletedTask;
                });
                int firstSeen = -1;
                int n = 0;
                for (int i = 0; i < Values; i++)
                {
                    Assert.Equal(i, await rx.RecvAsync());
                    n++;
                    if (firstSeen < 0 && Volatile.Read(ref flag))
                    {
                        firstSeen = i;
                    }
                }

                await setter;
                return (firstSeen, n);
            });
            return await receiver;
        });
        Assert.Equal(Values, received);
        Assert.InRange(seenAt, 0, Values - 1); // -1: the other task never ran while 1000 values were received
    }

    [Fact]
    public void SendAsync_RoomForAThousand_StillLetsAnotherTaskRunBeforeFinishing()
    {
        const int Values = 1_000;
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        int seenAt = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(Values);
            bool flag = false;
            JoinHandle<int> sender = KyotoTask.Spawn(async () =>
            {
                JoinHandle setter = KyotoTask.Spawn(() =>
                {
                    Volatile.Write(ref flag, true);
                    return Task.CompletedTask;
                });
                int firstSeen = -1;
                for (int i = 0; i < Values; i++)
                {
                    await tx.SendAsync(i);
                    if (firstSeen < 0 && Volatile.Read(ref flag))
                    {
                        firstSeen = i;
                    }
                }

                await setter;
                return firstSeen;
            });
            int seen = await sender;
            Assert.Equal(Values, rx.Count);
            return seen;
        });
        Assert.InRange(seenAt, 0, Values - 1);
    }
}

/// <summary>Mpsc behaviour that needs no runtime.</summary>
public class MpscWithoutRuntimeTests
{
    [Fact]
    public void LargeBoundedChannel_RoomOfAReceivedValue_IsUsableAtOnce()
    {
        // A channel of capacity 1024 or more returns room to senders in batches of 32 received values. A sender that
        // finds no room must still get the room of values already received: the channel is not full.
        var (tx, rx) = Mpsc.CreateBounded<int>(1024);
        for (int i = 0; i < 1024; i++)
        {
            Assert.True(tx.TrySend(i));
        }

        Assert.False(tx.TrySend(-1)); // full
        Assert.True(rx.TryRecv(out int first));
        Assert.Equal(0, first);
        Assert.True(tx.TrySend(1024)); // the room of the value just received

        Assert.True(rx.TryRecv(out _));
        ValueTask send = tx.SendAsync(1025);
        Assert.True(send.IsCompleted, "a waiting send must get the room the receiver holds back");
        send.GetAwaiter().GetResult(); // the value goes in as the sender resumes
        Assert.Equal(1024, rx.Count);
    }
}
