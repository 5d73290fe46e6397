using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// AsyncRwLock (Tokio's <c>sync_rwlock</c>): shared readers, exclusive writers, FIFO fairness (a queued writer
/// holds back later readers; readers behind a writer enter together), max readers, downgrade, cancellation
/// and abort of queued requests, the guards and the blocking entry points.
/// </summary>
public abstract class RwLockTests : RuntimeTestBase
{
    public sealed class MultiThread : RwLockTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : RwLockTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Spawns a task that awaits <paramref name="pending"/>, logs <paramref name="name"/> once it holds the lock, then releases it.</summary>
    private static JoinHandle EnterLogRelease<TGuard>(ValueTask<TGuard> pending, string name, List<string> log)
        where TGuard : IDisposable
        => KyotoTask.Spawn(async () =>
        {
            TGuard guard = await pending;
            lock (log)
            {
                log.Add(name);
            }

            guard.Dispose();
        });

    [Fact]
    public void Constructor_MaxReadersOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncRwLock<int>(0, maxReaders: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncRwLock<int>(0, maxReaders: AsyncSemaphore.MaxPermits + 1));
        Assert.Equal(AsyncSemaphore.MaxPermits, new AsyncRwLock<int>(0).MaxReaders);
        Assert.Equal(3, new AsyncRwLock<int>(0, maxReaders: 3).MaxReaders);
    }

    [Fact]
    public void ReadAsync_ManyReaders_HoldTogetherAndKeepWritersOut()
    {
        using var rt = NewRuntime();
        (int sum, bool writeWhileRead, bool writeAfter) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(5);
            var guards = new List<ReadGuard<int>>();
            for (int i = 0; i < 10; i++)
            {
                guards.Add(await rw.ReadAsync());
            }

            int s = guards.Sum(g => g.Value);
            bool w1 = rw.TryWrite(out _);
            foreach (ReadGuard<int> g in guards)
            {
                g.Dispose();
            }

            bool w2 = rw.TryWrite(out WriteGuard<int> w);
            w.Dispose();
            return (s, w1, w2);
        });
        Assert.Equal(50, sum);
        Assert.False(writeWhileRead);
        Assert.True(writeAfter);
    }

    [Fact]
    public void WriteAsync_Exclusive_WritesVisibleToLaterReaders()
    {
        using var rt = NewRuntime();
        (bool readWhileWrite, bool writeWhileWrite, int seen) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(1);
            WriteGuard<int> w = await rw.WriteAsync();
            w.Value = 99;
            bool r = rw.TryRead(out _);
            bool ww = rw.TryWrite(out _);
            w.Dispose();
            using ReadGuard<int> g = await rw.ReadAsync();
            return (r, ww, g.Value);
        });
        Assert.False(readWhileWrite);
        Assert.False(writeWhileWrite);
        Assert.Equal(99, seen);
    }

    [Fact]
    public void WriteAsync_QueuedBehindReaders_BlocksLaterReaders()
    {
        using var rt = NewRuntime();
        (bool tryReadWhileWriterWaits, List<string> order) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            var log = new List<string>();
            ReadGuard<int> r0 = await rw.ReadAsync();
            ValueTask<WriteGuard<int>> w = rw.WriteAsync(); // waits for r0
            bool tryRead = rw.TryRead(out ReadGuard<int> sneaked);
            sneaked.Dispose();
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync(); // must wait behind the writer, though only readers hold the lock
            JoinHandle h1 = EnterLogRelease(r1, "r1", log);
            JoinHandle hw = EnterLogRelease(w, "w", log);
            lock (log)
            {
                log.Add("r0-release");
            }

            r0.Dispose();
            await hw;
            await h1;
            return (tryRead, log);
        });
        Assert.False(tryReadWhileWriterWaits);
        Assert.Equal(["r0-release", "w", "r1"], order);
    }

    [Fact]
    public void ReadAsync_ReadersQueuedBehindWriter_EnterTogetherAfterIt()
    {
        using var rt = NewRuntime();
        (int a, int b, int c, bool writeWhileReaders) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            WriteGuard<int> w = await rw.WriteAsync();
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync();
            ValueTask<ReadGuard<int>> r2 = rw.ReadAsync();
            ValueTask<ReadGuard<int>> r3 = rw.ReadAsync();
            w.Value = 7;
            w.Dispose(); // all three readers enter now, together
            ReadGuard<int> g1 = await r1;
            ReadGuard<int> g2 = await r2; // would never complete if it waited for g1
            ReadGuard<int> g3 = await r3;
            bool tw = rw.TryWrite(out _);
            (int, int, int, bool) result = (g1.Value, g2.Value, g3.Value, tw);
            g1.Dispose();
            g2.Dispose();
            g3.Dispose();
            return result;
        });
        Assert.Equal(7, a);
        Assert.Equal(7, b);
        Assert.Equal(7, c);
        Assert.False(writeWhileReaders);
    }

    [Fact]
    public void Fairness_MixedQueue_ServedInArrivalOrder()
    {
        using var rt = NewRuntime();
        List<string> order = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            var log = new List<string>();
            WriteGuard<int> w0 = await rw.WriteAsync();

            // Queue: r1 r2 w1 r3 w2 r4. r1 and r2 enter together after w0; r3 may not overtake w1, nor r4 w2.
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync();
            ValueTask<ReadGuard<int>> r2 = rw.ReadAsync();
            ValueTask<WriteGuard<int>> w1 = rw.WriteAsync();
            ValueTask<ReadGuard<int>> r3 = rw.ReadAsync();
            ValueTask<WriteGuard<int>> w2 = rw.WriteAsync();
            ValueTask<ReadGuard<int>> r4 = rw.ReadAsync();
            JoinHandle[] handles =
            [
                EnterLogRelease(r4, "r4", log),
                EnterLogRelease(w2, "w2", log),
                EnterLogRelease(r3, "r3", log),
                EnterLogRelease(w1, "w1", log),
            ];
            w0.Dispose();
            ReadGuard<int> g1 = await r1;
            ReadGuard<int> g2 = await r2; // both readers in at once
            lock (log)
            {
                log.Add("r1+r2");
            }

            g1.Dispose();
            g2.Dispose();
            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.True(rw.TryWrite(out WriteGuard<int> free));
            free.Dispose();
            return log;
        });
        Assert.Equal(["r1+r2", "w1", "r3", "w2", "r4"], order);
    }

    [Fact]
    public void ReadAsync_MaxReadersHeld_NextReaderWaitsForOneToLeave()
    {
        using var rt = NewRuntime();
        (bool thirdTry, int value, bool writeTry) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(4, maxReaders: 2);
            ReadGuard<int> a = await rw.ReadAsync();
            Assert.True(rw.TryRead(out ReadGuard<int> b));
            bool third = rw.TryRead(out _);
            ValueTask<ReadGuard<int>> c = rw.ReadAsync();
            a.Dispose(); // room for one more reader
            ReadGuard<int> gc = await c;
            int v = gc.Value;
            bool wt = rw.TryWrite(out _);
            gc.Dispose();
            b.Dispose();
            Assert.True(rw.TryWrite(out WriteGuard<int> w)); // a writer takes all MaxReaders permits
            Assert.False(rw.TryRead(out _));
            w.Dispose();
            return (third, v, wt);
        });
        Assert.False(thirdTry);
        Assert.Equal(4, value);
        Assert.False(writeTry);
    }

    [Fact]
    public void ReadAsync_MaxReadersOne_BehavesLikeAMutex()
    {
        const int Tasks = 8;
        const int Rounds = 100;
        using var rt = NewRuntime();
        int overlaps = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0, maxReaders: 1);
            int holders = 0;
            int overlap = 0;
            var handles = new JoinHandle[Tasks];
            for (int t = 0; t < Tasks; t++)
            {
                handles[t] = KyotoTask.Spawn(async () =>
                {
                    for (int r = 0; r < Rounds; r++)
                    {
                        using ReadGuard<int> g = await rw.ReadAsync();
                        if (Interlocked.Increment(ref holders) != 1)
                        {
                            Interlocked.Increment(ref overlap);
                        }

                        await KyotoTask.Yield();
                        Interlocked.Decrement(ref holders);
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return overlap;
        });
        Assert.Equal(0, overlaps);
    }

    [Fact]
    public void Downgrade_LetsWaitingReadersInButNotWriters()
    {
        using var rt = NewRuntime();
        (int seenByDowngraded, int seenByReader, bool tryWrite, bool writerWaited, Exception? spentValue) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            var log = new List<string>();
            WriteGuard<int> w = await rw.WriteAsync();
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync();
            ValueTask<WriteGuard<int>> w2 = rw.WriteAsync();
            JoinHandle hw2 = EnterLogRelease(w2, "w2", log);
            w.Value = 11;
            ReadGuard<int> down = w.Downgrade(); // no writer can slip in between
            Exception? spent = Record.Exception(() => w.Value);
            ReadGuard<int> g1 = await r1;         // the waiting reader enters beside the downgraded guard
            bool tw = rw.TryWrite(out _);
            (int, int) values = (down.Value, g1.Value);
            bool waited;
            lock (log)
            {
                waited = log.Count == 0;
                log.Add("readers-release");
            }

            g1.Dispose();
            down.Dispose();
            await hw2;
            Assert.Equal(["readers-release", "w2"], log);
            return (values.Item1, values.Item2, tw, waited, spent);
        });
        Assert.Equal(11, seenByDowngraded);
        Assert.Equal(11, seenByReader);
        Assert.False(tryWrite);
        Assert.True(writerWaited);
        Assert.IsType<ObjectDisposedException>(spentValue);
    }

    [Fact]
    public void Downgrade_WriterQueuedBeforeReaders_StillHoldsThemBack()
    {
        using var rt = NewRuntime();
        List<string> order = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            var log = new List<string>();
            WriteGuard<int> w = await rw.WriteAsync();
            ValueTask<WriteGuard<int>> w2 = rw.WriteAsync();
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync(); // behind w2: FIFO, even after the downgrade
            JoinHandle h1 = EnterLogRelease(r1, "r1", log);
            JoinHandle hw2 = EnterLogRelease(w2, "w2", log);
            ReadGuard<int> down = w.Downgrade();
            lock (log)
            {
                log.Add("down-release");
            }

            down.Dispose();
            await hw2;
            await h1;
            return log;
        });
        Assert.Equal(["down-release", "w2", "r1"], order);
    }

    [Fact]
    public void Guards_ValueAfterDisposeOrDowngrade_ThrowObjectDisposed()
    {
        var rw = new AsyncRwLock<int>(1);
        Assert.True(rw.TryRead(out ReadGuard<int> r));
        Assert.Equal(1, r.Value);
        r.Dispose();
        Assert.Throws<ObjectDisposedException>(() => r.Value);
        r.Dispose(); // once only

        Assert.True(rw.TryWrite(out WriteGuard<int> w));
        w.Dispose();
        Assert.Throws<ObjectDisposedException>(() => w.Value);
        Assert.Throws<ObjectDisposedException>(() => w.Downgrade());
        w.Dispose();

        Assert.True(rw.TryWrite(out WriteGuard<int> w2));
        ReadGuard<int> down = w2.Downgrade();
        Assert.Throws<ObjectDisposedException>(() => w2.Downgrade());
        w2.Dispose(); // spent: releases nothing
        Assert.False(rw.TryWrite(out _));
        down.Dispose();

        Assert.True(rw.TryWrite(out WriteGuard<int> free)); // every permit came back exactly once
        Assert.False(rw.TryRead(out _));
        free.Dispose();
        ReadGuard<int> never = default;
        Assert.Throws<ObjectDisposedException>(() => never.Value);
    }

    [Fact]
    public void WriteAsync_CancelledWhileQueued_HandsItsGatheredPermitsToLaterReaders()
    {
        using var rt = NewRuntime();
        (Exception? e, int readers) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            ReadGuard<int> r0 = await rw.ReadAsync();
            using var cts = new CancellationTokenSource();
            ValueTask<WriteGuard<int>> w = rw.WriteAsync(cts.Token); // gathers every permit but r0's
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync();
            ValueTask<ReadGuard<int>> r2 = rw.ReadAsync();
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await w);
            ReadGuard<int> g1 = await r1;
            ReadGuard<int> g2 = await r2;
            Assert.True(rw.TryRead(out ReadGuard<int> g3)); // no one waits: newcomers read at once
            g1.Dispose();
            g2.Dispose();
            g3.Dispose();
            r0.Dispose();
            Assert.True(rw.TryWrite(out WriteGuard<int> free)); // and no permit was lost
            free.Dispose();
            return (ex, 3);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(3, readers);
    }

    [Fact]
    public void ReadAndWrite_TokenCancelledBeforeCall_ThrowAndTakeNothing()
    {
        using var rt = NewRuntime();
        (Exception? r, Exception? w, bool free) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            var cancelled = new CancellationToken(canceled: true);
            Exception? re = await Record.ExceptionAsync(async () => await rw.ReadAsync(cancelled));
            Exception? we = await Record.ExceptionAsync(async () => await rw.WriteAsync(cancelled));
            bool f = rw.TryWrite(out WriteGuard<int> g);
            g.Dispose();
            return (re, we, f);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(r);
        Assert.IsAssignableFrom<OperationCanceledException>(w);
        Assert.True(free);
    }

    [Fact]
    public void ReadAndWrite_ManyCancelledWaits_LeaveNoWaiterBehind()
    {
        const int Waits = 10_000;
        using var rt = NewRuntime();
        (int cancelled, bool writeAfter) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0, maxReaders: 4);
            WriteGuard<int> held = await rw.WriteAsync();
            int n = 0;
            for (int i = 0; i < Waits; i++)
            {
                using var cts = new CancellationTokenSource();
                if (i % 2 == 0)
                {
                    ValueTask<ReadGuard<int>> pending = rw.ReadAsync(cts.Token);
                    cts.Cancel();
                    try
                    {
                        using ReadGuard<int> g = await pending;
                    }
                    catch (OperationCanceledException)
                    {
                        n++;
                    }
                }
                else
                {
                    ValueTask<WriteGuard<int>> pending = rw.WriteAsync(cts.Token);
                    cts.Cancel();
                    try
                    {
                        using WriteGuard<int> g = await pending;
                    }
                    catch (OperationCanceledException)
                    {
                        n++;
                    }
                }
            }

            held.Dispose();
            bool w = rw.TryWrite(out WriteGuard<int> again); // all permits are back and nobody is queued
            again.Dispose();
            return (n, w);
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Waits, cancelled);
        Assert.True(writeAfter);
    }

    [Fact]
    public void WriteAsync_TaskAbortedWhileQueued_LaterReadersProceed()
    {
        using var rt = NewRuntime();
        (JoinException e, bool writeAfter) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            ReadGuard<int> r0 = await rw.ReadAsync();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                ValueTask<WriteGuard<int>> pending = rw.WriteAsync();
                readyTx.TrySend(true);
                using WriteGuard<int> g = await pending;
            });
            await readyRx;
            ValueTask<ReadGuard<int>> r1 = rw.ReadAsync(); // behind the writer
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            ReadGuard<int> g1 = await r1;
            g1.Dispose();
            r0.Dispose();
            bool w = rw.TryWrite(out WriteGuard<int> free);
            free.Dispose();
            return (ex, w);
        });
        Assert.True(e.IsCancelled);
        Assert.True(writeAfter);
    }

    [Fact]
    public void WriteAsync_TaskAbortedJustAsLockIsHandedToIt_ReleasesEverything()
    {
        using var rt = NewRuntime();
        (JoinException e, bool writeAfter) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            ReadGuard<int> r0 = await rw.ReadAsync();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                ValueTask<WriteGuard<int>> pending = rw.WriteAsync();
                readyTx.TrySend(true);
                using WriteGuard<int> g = await pending;
            });
            await readyRx;
            r0.Dispose(); // the writer is granted and woken...
            h.Abort();    // ...but aborted before it resumes
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            bool w = rw.TryWrite(out WriteGuard<int> free);
            free.Dispose();
            return (ex, w);
        });
        Assert.True(e.IsCancelled);
        Assert.True(writeAfter);
    }

    [Fact]
    public void BlockingReadAndWrite_OnAWorkerThread_ThrowInvalidOperation()
    {
        using var rt = NewRuntime();
        (Exception? r, Exception? w) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0);
            Exception? re = null;
            Exception? we = null;
            await KyotoTask.Spawn(() =>
            {
                re = Record.Exception(() => rw.BlockingRead());
                we = Record.Exception(() => rw.BlockingWrite());
                return Task.CompletedTask;
            });
            Assert.True(rw.TryWrite(out WriteGuard<int> g)); // nothing was taken
            g.Dispose();
            return (re, we);
        });
        Assert.IsType<InvalidOperationException>(r);
        Assert.IsType<InvalidOperationException>(w);
    }

    [Fact]
    public void BlockingReadAndWrite_FromPlainThread_WaitForTheWriter()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        var rw = new AsyncRwLock<int>(0);
        var (releaseTx, releaseRx) = Oneshot.Create<bool>();
        var (heldTx, heldRx) = Oneshot.Create<bool>();
        JoinHandle writer = rt.Spawn(async () =>
        {
            using WriteGuard<int> g = await rw.WriteAsync();
            g.Value = 8;
            heldTx.TrySend(true);
            await releaseRx;
        });
        Assert.True(Bounded.Result(heldRx.RecvAsync().AsTask(), "the writer to lock"));
        Task<int> reader = Bounded.OnThread(() =>
        {
            ReadGuard<int> g = rw.BlockingRead();
            int v = g.Value;
            g.Dispose();
            WriteGuard<int> w = rw.BlockingWrite();
            w.Value = v + 1;
            v = w.Value;
            w.Dispose();
            return v;
        });
        releaseTx.TrySend(true);
        Bounded.Join(writer);
        Assert.Equal(9, Bounded.Result(reader, "BlockingRead/BlockingWrite on a plain thread"));
        Assert.True(rw.TryWrite(out WriteGuard<int> free));
        free.Dispose();
    }

    [Fact]
    public void ReadersAndWriters_ManyTasks_WritersAlwaysAlone()
    {
        const int Tasks = 12;
        const int Rounds = 150;
        using var rt = NewRuntime();
        (int violations, int value, int writes) = rt.BlockOnBounded(async () =>
        {
            var rw = new AsyncRwLock<int>(0, maxReaders: 5);
            int readers = 0;
            int writers = 0;
            int bad = 0;
            int writeCount = 0;
            var handles = new JoinHandle[Tasks];
            for (int t = 0; t < Tasks; t++)
            {
                int id = t;
                handles[t] = KyotoTask.Spawn(async () =>
                {
                    for (int r = 0; r < Rounds; r++)
                    {
                        if ((id + r) % 4 == 0)
                        {
                            using WriteGuard<int> g = await rw.WriteAsync();
                            if (Interlocked.Increment(ref writers) != 1 || Volatile.Read(ref readers) != 0)
                            {
                                Interlocked.Increment(ref bad);
                            }

                            int v = g.Value;
                            await KyotoTask.Yield();
                            g.Value = v + 1;
                            Interlocked.Increment(ref writeCount);
                            Interlocked.Decrement(ref writers);
                        }
                        else
                        {
                            using ReadGuard<int> g = await rw.ReadAsync();
                            int now = Interlocked.Increment(ref readers);
                            if (now > 5 || Volatile.Read(ref writers) != 0)
                            {
                                Interlocked.Increment(ref bad);
                            }

                            await KyotoTask.Yield();
                            Interlocked.Decrement(ref readers);
                        }
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            using ReadGuard<int> last = await rw.ReadAsync();
            return (bad, last.Value, writeCount);
        });
        Assert.Equal(0, violations);
        Assert.Equal(writes, value);
    }
}
