using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>OnceCell: one initializer at a time, waiters served in order, failure and cancellation hand the turn on.</summary>
public abstract class OnceCellTests : RuntimeTestBase
{
    public sealed class MultiThread : OnceCellTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : OnceCellTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        long deadline = Environment.TickCount64 + (long)Bounded.Timeout.TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await KyotoTask.Yield();
        }
    }

    [Fact]
    public void GetOrInitAsync_Empty_RunsInitializerOnceAndCachesValue()
    {
        using var rt = NewRuntime();
        (int a, int b, int calls, bool init) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            int n = 0;
            int first = await cell.GetOrInitAsync(async ct =>
            {
                n++;
                await KyotoTask.Yield();
                return 42;
            });
            int second = await cell.GetOrInitAsync(_ =>
            {
                n++;
                return new ValueTask<int>(7);
            });
            return (first, second, n, cell.IsInitialized);
        });
        Assert.Equal(42, a);
        Assert.Equal(42, b);
        Assert.Equal(1, calls);
        Assert.True(init);
    }

    [Fact]
    public void GetOrInitAsync_HundredConcurrentCallers_InitializerRunsOnceAndAllGetTheValue()
    {
        const int Callers = 100;
        using var rt = NewRuntime();
        (int calls, int[] values, int maxWaiters) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (gateTx, gateRx) = Oneshot.Create<bool>();
            int n = 0;
            Func<CancellationToken, ValueTask<int>> init = async ct =>
            {
                Interlocked.Increment(ref n);
                await gateRx;
                return 99;
            };
            var handles = new JoinHandle<int>[Callers];
            for (int i = 0; i < Callers; i++)
            {
                handles[i] = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(init));
            }

            // Everyone but the initializer is queued before the initializer may finish.
            // (The permit holder may be preempted between taking the permit and entering its initializer, so
            // wait for both: the 99 queued and the one initializer started.)
            await Until(() => cell.WaiterCount == Callers - 1 && Volatile.Read(ref n) == 1, "99 callers to wait for the one initializer");
            int waiting = cell.WaiterCount;
            Assert.Equal(1, Volatile.Read(ref n));
            Assert.False(cell.IsInitialized);
            gateTx.TrySend(true);
            var results = new int[Callers];
            for (int i = 0; i < Callers; i++)
            {
                results[i] = await handles[i];
            }

            Assert.Equal(0, cell.WaiterCount);
            return (Volatile.Read(ref n), results, waiting);
        });
        Assert.Equal(1, calls);
        Assert.All(values, v => Assert.Equal(99, v));
        Assert.Equal(Callers - 1, maxWaiters);
    }

    [Fact]
    public void GetOrInitAsync_InitializerFails_CallerGetsExceptionAndNextWaiterRunsItsOwn()
    {
        using var rt = NewRuntime();
        (Exception? firstError, int second, int third, string order) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (failTx, failRx) = Oneshot.Create<bool>();
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            JoinHandle<int> first = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct =>
            {
                log.Enqueue("init1");
                await failRx;
                throw new InvalidOperationException("boom");
            }));
            await Until(() => cell.IsInitializing, "the first initializer to start");
            JoinHandle<int> secondCaller = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct =>
            {
                log.Enqueue("init2");
                await KyotoTask.Yield();
                return 2;
            }));
            await Until(() => cell.WaiterCount == 1, "the second caller to wait");
            JoinHandle<int> thirdCaller = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(ct =>
            {
                log.Enqueue("init3");
                return new ValueTask<int>(3);
            }));
            await Until(() => cell.WaiterCount == 2, "the third caller to wait");
            failTx.TrySend(true);
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await first);
            int v2 = await secondCaller;
            int v3 = await thirdCaller;
            return (ex.InnerException, v2, v3, string.Join(",", log));
        });
        Assert.IsType<InvalidOperationException>(firstError);
        Assert.Equal(2, second);
        Assert.Equal(2, third);
        Assert.Equal("init1,init2", order);
    }

    [Fact]
    public void GetOrInitAsync_InitializerFailsWithNoWaiter_NextCallRetries()
    {
        using var rt = NewRuntime();
        (Exception? e, bool initAfterFailure, int v) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            Exception? ex = await Record.ExceptionAsync(async () => await cell.GetOrInitAsync(_ => throw new TimeoutException()));
            bool init = cell.IsInitialized || cell.IsInitializing;
            int value = await cell.GetOrInitAsync(_ => new ValueTask<int>(5));
            return (ex, init, value);
        });
        Assert.IsType<TimeoutException>(e);
        Assert.False(initAfterFailure);
        Assert.Equal(5, v);
    }

    [Fact]
    public void GetOrInitAsync_InitializerCancelled_NextWaiterRunsItsOwn()
    {
        using var rt = NewRuntime();
        (Exception? e, int v) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            using var cts = new CancellationTokenSource();
            var (neverTx, neverRx) = Oneshot.Create<int>();
            ValueTask<int> first = cell.GetOrInitAsync(async ct => await neverRx.RecvAsync(ct), cts.Token);
            JoinHandle<int> second = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(_ => new ValueTask<int>(8)));
            await Until(() => cell.WaiterCount == 1, "the second caller to wait");
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await first);
            GC.KeepAlive(neverTx);
            return (ex, await second);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(8, v);
    }

    [Fact]
    public void GetOrInitAsync_InitializerTaskAborted_NextWaiterRunsItsOwn()
    {
        using var rt = NewRuntime();
        (JoinException e, int v) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (neverTx, neverRx) = Oneshot.Create<int>();
            JoinHandle<int> first = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct => await neverRx));
            await Until(() => cell.IsInitializing, "the first initializer to start");
            JoinHandle<int> second = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(_ => new ValueTask<int>(6)));
            await Until(() => cell.WaiterCount == 1, "the second caller to wait");
            first.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await first);
            GC.KeepAlive(neverTx);
            return (ex, await second);
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(6, v);
    }

    [Fact]
    public void GetOrInitAsync_WaiterCancelled_LeavesQueueAndInitializerUnaffected()
    {
        using var rt = NewRuntime();
        (Exception? e, int waitersAfter, int v, int calls) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (gateTx, gateRx) = Oneshot.Create<bool>();
            int n = 0;
            JoinHandle<int> initializer = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct =>
            {
                n++;
                await gateRx;
                return 1;
            }));
            await Until(() => cell.IsInitializing, "the initializer to start");
            using var cts = new CancellationTokenSource();
            ValueTask<int> waiting = cell.GetOrInitAsync(_ =>
            {
                n++;
                return new ValueTask<int>(2);
            }, cts.Token);
            Assert.Equal(1, cell.WaiterCount);
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await waiting);
            int after = cell.WaiterCount;
            gateTx.TrySend(true);
            return (ex, after, await initializer, n);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waitersAfter);
        Assert.Equal(1, v);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void GetOrInitAsync_ManyCancelledWaiters_LeaveNoWaiterBehind()
    {
        using var rt = NewRuntime();
        (int waiters, int cancelled) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (gateTx, gateRx) = Oneshot.Create<bool>();
            JoinHandle<int> initializer = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct =>
            {
                await gateRx;
                return 1;
            }));
            await Until(() => cell.IsInitializing, "the initializer to start");
            int count = 0;
            for (int round = 0; round < 100; round++)
            {
                using var cts = new CancellationTokenSource();
                var pending = new ValueTask<int>[10];
                for (int i = 0; i < pending.Length; i++)
                {
                    pending[i] = cell.GetOrInitAsync(_ => new ValueTask<int>(2), cts.Token);
                }

                cts.Cancel();
                foreach (ValueTask<int> p in pending)
                {
                    if (await Record.ExceptionAsync(async () => await p) is OperationCanceledException)
                    {
                        count++;
                    }
                }
            }

            int left = cell.WaiterCount;
            gateTx.TrySend(true);
            Assert.Equal(1, await initializer);
            return (left, count);
        });
        Assert.Equal(0, waiters);
        Assert.Equal(1000, cancelled);
    }

    [Fact]
    public void TrySet_WhileInitializing_FailsAndInitializerValueWins()
    {
        using var rt = NewRuntime();
        (bool set, int v) = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<int>();
            var (gateTx, gateRx) = Oneshot.Create<bool>();
            JoinHandle<int> initializer = KyotoTask.Spawn(async () => await cell.GetOrInitAsync(async ct =>
            {
                await gateRx;
                return 1;
            }));
            await Until(() => cell.IsInitializing, "the initializer to start");
            bool ok = cell.TrySet(5);
            Assert.Throws<InvalidOperationException>(() => cell.Set(5));
            gateTx.TrySend(true);
            await initializer;
            return (ok, cell.Value);
        });
        Assert.False(set);
        Assert.Equal(1, v);
    }

    [Fact]
    public void GetOrInitAsync_StatefulOverload_PassesState()
    {
        using var rt = NewRuntime();
        string v = rt.BlockOnBounded(async () =>
        {
            var cell = new OnceCell<string>();
            return await cell.GetOrInitAsync("abc", static (s, _) => new ValueTask<string>(s.ToUpperInvariant()));
        });
        Assert.Equal("ABC", v);
    }
}

/// <summary>OnceCell behaviour that needs no runtime.</summary>
public class OnceCellWithoutRuntimeTests
{
    [Fact]
    public void Value_Empty_ThrowsAndTryGetValueFalse()
    {
        var cell = new OnceCell<string>();
        Assert.False(cell.IsInitialized);
        Assert.False(cell.TryGetValue(out string? v));
        Assert.Null(v);
        Assert.Throws<InvalidOperationException>(() => cell.Value);
    }

    [Fact]
    public void TrySet_Twice_SecondFailsAndSetThrows()
    {
        var cell = new OnceCell<int>();
        Assert.True(cell.TrySet(1));
        Assert.False(cell.TrySet(2));
        Assert.Throws<InvalidOperationException>(() => cell.Set(3));
        Assert.True(cell.TryGetValue(out int v));
        Assert.Equal(1, v);
        Assert.Equal(1, cell.Value);
    }

    [Fact]
    public void Ctor_WithValue_IsInitialized()
    {
        var cell = new OnceCell<int>(4);
        Assert.True(cell.IsInitialized);
        Assert.Equal(4, cell.Value);
    }

    [Fact]
    public void GetOrInitAsync_Set_CompletesSynchronouslyWithoutInitializer()
    {
        var cell = new OnceCell<int>(4);
        ValueTask<int> v = cell.GetOrInitAsync(_ => throw new InvalidOperationException("must not run"));
        Assert.True(v.IsCompletedSuccessfully);
        Assert.Equal(4, v.Result);
    }

    [Fact]
    public void GetOrInitAsync_NullInitializer_Throws()
    {
        var cell = new OnceCell<int>(4);
        Assert.Throws<ArgumentNullException>(() => cell.GetOrInitAsync(null!));
    }

    [Fact]
    public void GetOrInitAsync_Set_AllocatesNothing()
    {
        var cell = new OnceCell<string>("x");
        Func<CancellationToken, ValueTask<string>> init = static _ => new ValueTask<string>("y");
        Func<int, CancellationToken, ValueTask<string>> stateful = static (_, _) => new ValueTask<string>("y");
        long fewest = SteadyAllocation.FewestBytes(i =>
        {
            _ = cell.GetOrInitAsync(init).Result;
            _ = cell.GetOrInitAsync(i, stateful).Result;
        });

        Assert.Equal(0, fewest);
    }

    [Fact]
    public void GetOrInitAsync_AlreadyCancelledTokenOnEmptyCell_ThrowsWithoutRunning()
    {
        var cell = new OnceCell<int>();
        bool ran = false;
        ValueTask<int> v = cell.GetOrInitAsync(_ =>
        {
            ran = true;
            return new ValueTask<int>(1);
        }, new CancellationToken(true));
        Assert.True(v.IsCanceled);
        Assert.False(ran);
        Assert.False(cell.IsInitializing);
    }
}
