using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>SetOnce and OnceEvent: set once, every waiter woken, cancelled waits withdrawn, pooled waiters.</summary>
public abstract class SetOnceTests : RuntimeTestBase
{
    public sealed class MultiThread : SetOnceTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SetOnceTests
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
    public void WaitAsync_SetLater_WakesEveryWaiterWithTheValue()
    {
        const int Waiters = 20;
        using var rt = NewRuntime();
        (string[] values, bool setResult, bool secondSet) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<string>();
            var handles = new JoinHandle<string>[Waiters];
            for (int i = 0; i < Waiters; i++)
            {
                handles[i] = KyotoTask.Spawn(async () => await once.WaitAsync());
            }

            await Until(() => once.WaiterCount == Waiters, "every waiter to park");
            Assert.DoesNotContain(handles, h => h.IsFinished);
            bool first = once.TrySet("v");
            bool second = once.TrySet("w");
            var results = new string[Waiters];
            for (int i = 0; i < Waiters; i++)
            {
                results[i] = await handles[i];
            }

            return (results, first, second);
        });
        Assert.All(values, v => Assert.Equal("v", v));
        Assert.True(setResult);
        Assert.False(secondSet);
    }

    [Fact]
    public void WaitAsync_SetFromForeignThread_WakesWaiterOnRuntime()
    {
        using var rt = NewRuntime();
        (int v, TaskId? before, TaskId? after) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>();
            TaskId? id = KyotoTask.CurrentId;
            ValueTask<int> waiting = once.WaitAsync();
            var thread = new Thread(() => once.Set(8)) { IsBackground = true };
            thread.Start();
            int got = await waiting;
            return (got, id, KyotoTask.CurrentId);
        });
        Assert.Equal(8, v);
        Assert.Equal(before, after);
    }

    [Fact]
    public void WaitAsync_AlreadySet_ReturnsAtOnce()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>(3);
            return await once.WaitAsync();
        });
        Assert.Equal(3, v);
    }

    [Fact]
    public void WaitAsync_Cancelled_LeavesNoWaiterAndLaterSetStillWorks()
    {
        using var rt = NewRuntime();
        (Exception? e, int left, int v) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>();
            using var cts = new CancellationTokenSource();
            ValueTask<int> waiting = once.WaitAsync(cts.Token);
            ValueTask<int> other = once.WaitAsync();
            Assert.Equal(2, once.WaiterCount);
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await waiting);
            int count = once.WaiterCount;
            once.Set(4);
            return (ex, count, await other);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(1, left);
        Assert.Equal(4, v);
    }

    [Fact]
    public void WaitAsync_WaitingTaskAborted_LeavesNoWaiter()
    {
        using var rt = NewRuntime();
        (JoinException e, int left) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>();
            JoinHandle<int> h = KyotoTask.Spawn(async () => await once.WaitAsync());
            await Until(() => once.WaiterCount == 1, "the waiter to park");
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (ex, once.WaiterCount);
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(0, left);
    }

    [Fact]
    public void WaitAsync_ManyCancelledWaits_LeaveNoWaiter()
    {
        using var rt = NewRuntime();
        (int waiters, int cancelled) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>();
            int count = 0;
            for (int round = 0; round < 200; round++)
            {
                using var cts = new CancellationTokenSource();
                var pending = new ValueTask<int>[5];
                for (int i = 0; i < pending.Length; i++)
                {
                    pending[i] = once.WaitAsync(cts.Token);
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

            return (once.WaiterCount, count);
        });
        Assert.Equal(0, waiters);
        Assert.Equal(1000, cancelled);
    }

    [Fact]
    public void OnceEvent_SetLater_WakesEveryWaiter()
    {
        using var rt = NewRuntime();
        (bool first, bool second, int woken) = rt.BlockOnBounded(async () =>
        {
            var evt = new OnceEvent();
            int n = 0;
            var handles = new JoinHandle[5];
            for (int i = 0; i < handles.Length; i++)
            {
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    await evt.WaitAsync();
                    Interlocked.Increment(ref n);
                });
            }

            await Until(() => evt.WaiterCount == handles.Length, "every waiter to park");
            Assert.Equal(0, Volatile.Read(ref n));
            bool a = evt.Set();
            bool b = evt.Set();
            foreach (JoinHandle h in handles)
            {
                await h;
            }

            await evt.WaitAsync(); // already set: at once
            return (a, b, Volatile.Read(ref n));
        });
        Assert.True(first);
        Assert.False(second);
        Assert.Equal(5, woken);
    }

    [Fact]
    public void OnceEvent_WaitCancelled_LeavesNoWaiter()
    {
        using var rt = NewRuntime();
        (Exception? e, int left, bool isSet) = rt.BlockOnBounded(async () =>
        {
            var evt = new OnceEvent();
            using var cts = new CancellationTokenSource();
            ValueTask waiting = evt.WaitAsync(cts.Token);
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await waiting);
            return (ex, evt.WaiterCount, evt.IsSet);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, left);
        Assert.False(isSet);
    }

    [Fact]
    public void WaitAsync_SetValueInTightLoop_YieldsWhenBudgetSpent()
    {
        // A task that only ever awaits an already-set value must still let others run (coop budget).
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (bool flagSeen, long spins) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>(1);
            bool flag = false;
            JoinHandle<long> spinner = KyotoTask.Spawn(async () =>
            {
                long n = 0;
                while (!Volatile.Read(ref flag) && n < 10_000_000)
                {
                    await once.WaitAsync();
                    n++;
                }

                return n;
            });
            JoinHandle setter = KyotoTask.Spawn(() =>
            {
                Volatile.Write(ref flag, true);
                return Task.CompletedTask;
            });
            long count = await spinner;
            await setter;
            return (Volatile.Read(ref flag), count);
        });
        Assert.True(flagSeen);
        Assert.True(spins < 10_000_000, "the spinning task never let the other task run");
    }
}

/// <summary>
/// Waiting on a set SetOnce/OnceEvent allocates nothing, including the coop yields every budget's worth of
/// waits (a pooled waiter). Measured on a current-thread runtime.
/// </summary>
public sealed class SetOnceAllocationTests
{
    [Fact]
    public void WaitAsync_SetValueManyTimesOnRuntime_AllocatesNothing()
    {
        const int Rounds = 20_000;
        var once = new SetOnce<string>("x");
        var evt = new OnceEvent();
        evt.Set();
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            for (int i = 0; i < 1_000; i++)
            {
                await once.WaitAsync();
                await evt.WaitAsync();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Rounds; i++)
            {
                await once.WaitAsync();
                await evt.WaitAsync();
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.True(bytes < 16 * 1024, $"{bytes} bytes allocated over {Rounds} rounds");
    }
}

/// <summary>SetOnce behaviour that needs no runtime.</summary>
public class SetOnceWithoutRuntimeTests
{
    [Fact]
    public void TrySet_Twice_SecondFailsAndSetThrows()
    {
        var once = new SetOnce<int>();
        Assert.False(once.IsSet);
        Assert.False(once.TryGetValue(out _));
        Assert.True(once.TrySet(1));
        Assert.True(once.IsSet);
        Assert.False(once.TrySet(2));
        Assert.Throws<InvalidOperationException>(() => once.Set(3));
        Assert.True(once.TryGetValue(out int v));
        Assert.Equal(1, v);
    }

    [Fact]
    public void WaitAsync_AlreadyCancelledToken_CanceledWithoutWaiter()
    {
        var once = new SetOnce<int>();
        ValueTask<int> v = once.WaitAsync(new CancellationToken(true));
        Assert.True(v.IsCanceled);
        Assert.Equal(0, once.WaiterCount);
    }

    [Fact]
    public void WaitAsync_AlreadySetEvenWithCancelledToken_ReturnsValue()
    {
        var once = new SetOnce<int>(2);
        ValueTask<int> v = once.WaitAsync(new CancellationToken(true));
        Assert.True(v.IsCompletedSuccessfully);
        Assert.Equal(2, v.Result);
    }

    [Fact]
    public void WaitAsync_FromThreadPool_WokenBySet()
    {
        var once = new SetOnce<int>();
        Task<int> waiting = Task.Run(async () => await once.WaitAsync());
        Assert.True(SpinWait.SpinUntil(() => once.WaiterCount == 1 || waiting.IsCompleted, Bounded.Timeout));
        once.Set(21);
        Assert.Equal(21, Bounded.Result(waiting, "a SetOnce awaited outside any runtime"));
    }

    [Fact]
    public void WaitAsync_AlreadySet_AllocatesNothing()
    {
        var set = new SetOnce<string>("x");
        var evt = new OnceEvent();
        evt.Set();
        long fewest = SteadyAllocation.FewestBytes(call =>
        {
            _ = set.WaitAsync().Result;
            evt.WaitAsync().GetAwaiter().GetResult();
        });

        Assert.Equal(0, fewest);
    }
}
