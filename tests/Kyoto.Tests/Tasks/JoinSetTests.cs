using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>JoinSet: completion order, cancel safety of JoinNextAsync, aborts, disposal.</summary>
public abstract class JoinSetTests : RuntimeTestBase
{
    public sealed class MultiThread : JoinSetTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : JoinSetTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void JoinNextAsync_EmptySet_ReturnsNull()
    {
        using var rt = NewRuntime();
        bool isNull = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            Assert.Equal(0, set.Count);
            Assert.True(set.IsEmpty);
            Assert.False(set.TryJoinNext(out _));
            return await set.JoinNextAsync() is null;
        });
        Assert.True(isNull);
    }

    [Fact]
    public void JoinNextAsync_ReturnsResultsInCompletionOrder()
    {
        using var rt = NewRuntime();
        int[] order = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var senders = new OneshotSender<int>[3];
            for (int i = 0; i < 3; i++)
            {
                var (tx, rx) = Oneshot.Create<int>();
                senders[i] = tx;
                set.Spawn(async () => await rx);
            }

            var seen = new List<int>();
            foreach (int i in new[] { 2, 0, 1 })
            {
                senders[i].TrySend(i * 10);
                JoinResult<int>? r = await set.JoinNextAsync();
                seen.Add(r!.Value.Value);
            }

            Assert.Null(await set.JoinNextAsync());
            return seen.ToArray();
        });
        Assert.Equal([20, 0, 10], order);
    }

    [Fact]
    public void JoinNextAsync_ResultCarriesTaskIdAndSuccess()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<string>();
            AbortHandle a = set.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return "x";
            });
            JoinResult<string> r = (await set.JoinNextAsync())!.Value;
            Assert.True(r.IsSuccess);
            Assert.Null(r.Exception);
            Assert.Equal("x", r.Value);
            Assert.Equal(a.Id, r.Id);
        });
    }

    [Fact]
    public void JoinNextAsync_FailedTask_ResultHoldsJoinException()
    {
        using var rt = NewRuntime();
        var boom = new FormatException();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            set.Spawn(async () =>
            {
                await KyotoTask.Yield();
                throw boom;
            });
            JoinResult<int> r = (await set.JoinNextAsync())!.Value;
            Assert.False(r.IsSuccess);
            Assert.True(r.Exception!.IsFaulted);
            Assert.Same(boom, r.Exception.InnerException);
            Assert.Same(r.Exception, Assert.Throws<JoinException>(() => r.Value));
        });
    }

    [Fact]
    public void TryJoinNext_FinishedTask_ReturnsItWithoutWaiting()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            await KyotoTask.Yield();
            Assert.False(set.TryJoinNext(out _));
            tx.TrySend(8);

            JoinResult<int>? viaWait = await set.JoinNextAsync();
            Assert.Equal(8, viaWait!.Value.Value);

            set.Spawn(() => Task.FromResult(9));
            JoinResult<int> got = default;
            for (int i = 0; i < 100_000 && !set.TryJoinNext(out got); i++)
            {
                await KyotoTask.Yield(); // lets the task run; TryJoinNext itself never waits
            }

            Assert.Equal(9, got.Value);
            Assert.Equal(0, set.Count);
        });
    }

    [Fact]
    public void Count_TracksRunningAndUnjoinedTasks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            set.Spawn(() => Task.FromResult(1));
            Assert.Equal(2, set.Count);
            Assert.Equal(1, (await set.JoinNextAsync())!.Value.Value);
            Assert.Equal(1, set.Count);
            tx.TrySend(2);
            Assert.Equal(2, (await set.JoinNextAsync())!.Value.Value);
            Assert.Equal(0, set.Count);
            Assert.True(set.IsEmpty);
        });
    }

    [Fact]
    public void JoinNextAsync_CancelledWhileWaiting_LosesNothing()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            using var cts = new CancellationTokenSource();
            ValueTask<JoinResult<int>?> pending = set.JoinNextAsync(cts.Token);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            Assert.Equal(1, set.Count);
            tx.TrySend(77);
            return (await set.JoinNextAsync())!.Value.Value;
        });
        Assert.Equal(77, value);
    }

    [Fact]
    public void JoinNextAsync_AlreadyCancelledToken_ThrowsAndLosesNothing()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await set.JoinNextAsync(new CancellationToken(true)));
            tx.TrySend(3);
            Assert.Equal(3, (await set.JoinNextAsync())!.Value.Value);
        });
    }

    [Fact]
    public void JoinNextAsync_CancelledAfterResultHandedOver_ResultIsKept()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            using var cts = new CancellationTokenSource();
            ValueTask<JoinResult<int>?> pending = set.JoinNextAsync(cts.Token);
            tx.TrySend(4);
            JoinResult<int>? r = await pending;
            cts.Cancel(); // too late to matter
            Assert.Null(await set.JoinNextAsync());
            return r!.Value.Value;
        });
        Assert.Equal(4, value);
    }

    [Fact]
    public void JoinNextAsync_SecondConcurrentCall_ThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            ValueTask<JoinResult<int>?> first = set.JoinNextAsync();
            Assert.Throws<InvalidOperationException>(() => set.JoinNextAsync());
            tx.TrySend(1);
            Assert.Equal(1, (await first)!.Value.Value);
        });
    }

    [Fact]
    public void JoinAllAsync_AllSucceed_ReturnsValuesInCompletionOrder()
    {
        using var rt = NewRuntime();
        List<int> values = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            for (int i = 0; i < 50; i++)
            {
                int n = i;
                set.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    return n;
                });
            }

            return await set.JoinAllAsync();
        });
        Assert.Equal(Enumerable.Range(0, 50), values.Order());
    }

    [Fact]
    public void JoinAllAsync_OneFails_ThrowsItsJoinExceptionAndAbortsTheRest()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        var boom = new FormatException();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var senders = new List<OneshotSender<int>>();
            for (int i = 0; i < 5; i++)
            {
                (_, OneshotSender<int> tx) = await ParkedTask.SpawnIntoAsync(set, () => Interlocked.Increment(ref finallies));
                senders.Add(tx);
            }

            set.Spawn(async () =>
            {
                await KyotoTask.Yield();
                await KyotoTask.Yield();
                throw boom;
            });
            JoinException ex = await Assert.ThrowsAsync<JoinException>(() => set.JoinAllAsync());
            Assert.Equal(0, set.Count);
            return ex;
        });
        Assert.True(e.IsFaulted);
        Assert.Same(boom, e.InnerException);
        Assert.Equal(5, Volatile.Read(ref finallies));
    }

    [Fact]
    public void AbortAll_ParkedTasks_AllJoinAsCancelled()
    {
        using var rt = NewRuntime();
        (int cancelled, int count) = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var senders = new List<OneshotSender<int>>();
            for (int i = 0; i < 10; i++)
            {
                (_, OneshotSender<int> tx) = await ParkedTask.SpawnIntoAsync(set);
                senders.Add(tx);
            }

            set.AbortAll();
            int n = 0;
            while (await set.JoinNextAsync() is { } r)
            {
                if (r.Exception is { IsCancelled: true })
                {
                    n++;
                }
            }

            return (n, set.Count);
        });
        Assert.Equal(10, cancelled);
        Assert.Equal(0, count);
    }

    [Fact]
    public void ShutdownAsync_AbortsAndWaitsForAll()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var senders = new List<OneshotSender<int>>();
            for (int i = 0; i < 10; i++)
            {
                (_, OneshotSender<int> tx) = await ParkedTask.SpawnIntoAsync(set, () => Interlocked.Increment(ref finallies));
                senders.Add(tx);
            }

            await set.ShutdownAsync();
            Assert.Equal(0, set.Count);
            Assert.Null(await set.JoinNextAsync());
        });
        Assert.Equal(10, Volatile.Read(ref finallies));
    }

    [Fact]
    public void Dispose_AbortsRunningTasksAndRefusesNewOnes()
    {
        using var rt = NewRuntime();
        int finallies = 0;
        rt.BlockOnBounded(async () =>
        {
            var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            set.Spawn(async () =>
            {
                try
                {
                    await KyotoTask.Yield();
                    readyTx.TrySend(true);
                    return await rx;
                }
                finally
                {
                    Interlocked.Increment(ref finallies);
                }
            });
            await readyRx;
            await KyotoTask.Yield();
            set.Dispose();
            Assert.Throws<ObjectDisposedException>(() => set.Spawn(() => Task.FromResult(1)));

            // The aborted task still finishes and can be joined.
            JoinResult<int>? r = await set.JoinNextAsync();
            Assert.True(r!.Value.Exception!.IsCancelled);
            GC.KeepAlive(tx);
        });
        Assert.Equal(1, Volatile.Read(ref finallies));
    }

    [Fact]
    public void AbortHandle_FromSpawn_AbortsOnlyThatTask()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            (AbortHandle victim, OneshotSender<int> tx) = await ParkedTask.SpawnIntoAsync(set);
            (_, OneshotSender<int> tx2) = await ParkedTask.SpawnIntoAsync(set);
            victim.Abort();
            JoinResult<int> first = (await set.JoinNextAsync())!.Value;
            Assert.Equal(victim.Id, first.Id);
            Assert.True(first.Exception!.IsCancelled);
            tx2.TrySend(6);
            Assert.Equal(6, (await set.JoinNextAsync())!.Value.Value);
            GC.KeepAlive(tx);
        });
    }

    [Fact]
    public void SpawnOn_FromOutsideRuntime_JoinFromOutside()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        using var set = new JoinSet<int>();
        for (int i = 0; i < 5; i++)
        {
            int n = i;
            set.SpawnOn(rt.Handle, async () =>
            {
                await KyotoTask.Yield();
                return n;
            });
        }

        Assert.Equal(Enumerable.Range(0, 5), Bounded.Result(set.JoinAllAsync(), "JoinAllAsync from outside").Order());
    }

    [Fact]
    public void SpawnBlocking_InSet_JoinsLikeOthers()
    {
        using var rt = NewRuntime();
        List<int> values = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            set.SpawnBlocking(() => 1);
            set.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 2;
            });
            return await set.JoinAllAsync();
        });
        Assert.Equal([1, 2], values.Order());
    }

    [Fact]
    public void Spawn_NullArguments_Throw()
    {
        using var rt = NewRuntime();
        using var set = new JoinSet<int>();
        Assert.Throws<ArgumentNullException>(() => set.SpawnOn(null!, () => Task.FromResult(1)));
        Assert.Throws<ArgumentNullException>(() => set.SpawnOn(rt.Handle, null!));
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public void JoinNextAsync_ThousandTasksWithYields_AllJoinedOnce()
    {
        using var rt = NewRuntime();
        (int count, long sum) = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            for (int i = 0; i < 1_000; i++)
            {
                int n = i;
                set.Spawn(async () =>
                {
                    for (int k = 0; k < n % 4; k++)
                    {
                        await KyotoTask.Yield();
                    }

                    return n;
                });
            }

            int c = 0;
            long s = 0;
            while (await set.JoinNextAsync() is { } r)
            {
                c++;
                s += r.Value;
            }

            return (c, s);
        });
        Assert.Equal(1_000, count);
        Assert.Equal(1_000L * 999 / 2, sum);
    }
}

/// <summary>JoinSet races that need the current-thread runtime's fixed order to be set up exactly.</summary>
public class JoinSetOrderTests
{
    [Fact]
    public void WaitingTaskAbortedAfterTheHandOver_GivesTheResultBack()
    {
        // A waits in JoinNextAsync; the set's task finishes and is handed to A's wait; A is aborted before it
        // resumes. The result must not vanish with A: the next join gets it.
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        (bool aCancelled, bool joinedAfter, int value, int countBefore) = rt.BlockOnBounded(async () =>
        {
            using var set = new JoinSet<int>();
            var (tx, rx) = Oneshot.Create<int>();
            set.Spawn(async () => await rx);
            JoinHandle a = KyotoTask.Spawn(async () => { _ = await set.JoinNextAsync(); });
            await KyotoTask.Yield(); // A runs and waits
            tx.TrySend(42);
            await KyotoTask.Yield(); // the set's task runs, finishes and is handed to A (A is queued behind us)
            a.Abort();
            bool cancelled = false;
            try
            {
                await a;
            }
            catch (JoinException e) when (e.IsCancelled)
            {
                cancelled = true;
            }

            int count = set.Count;
            bool joined = set.TryJoinNext(out JoinResult<int> result);
            return (cancelled, joined, joined ? result.Value : -1, count);
        });
        Assert.True(aCancelled);
        Assert.True(joinedAfter, "the finished task's result was lost with the aborted waiter");
        Assert.Equal(42, value);
        Assert.Equal(1, countBefore);
    }
}

