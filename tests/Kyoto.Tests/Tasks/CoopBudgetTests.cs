using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>
/// The coop budget: a task that only ever completes Kyoto awaits synchronously must still let others run.
/// Run on one thread of work (a 1-worker multi-thread runtime and the current-thread runtime), where a
/// task that never yields would starve everything else.
/// </summary>
public abstract class CoopBudgetTests : RuntimeTestBase
{
    protected override int WorkerThreads => 1;

    public sealed class MultiThreadOneWorker : CoopBudgetTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : CoopBudgetTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private const long SpinCap = 50_000_000;

    [Fact]
    public void ConsumeBudget_TightLoop_OtherTaskMakesProgress()
    {
        using var rt = NewRuntime();
        (bool flagSeen, long spins) = rt.BlockOnBounded(async () =>
        {
            bool flag = false;
            JoinHandle<long> spinner = KyotoTask.Spawn(async () =>
            {
                long n = 0;
                while (!Volatile.Read(ref flag) && n < SpinCap)
                {
                    await KyotoTask.ConsumeBudget();
                    n++;
                }

                return n;
            });
            JoinHandle setter = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                Volatile.Write(ref flag, true);
            });
            long count = await spinner;
            await setter;
            return (Volatile.Read(ref flag), count);
        });
        Assert.True(flagSeen);
        Assert.True(spins < SpinCap, "the spinning task never let the other task run");
    }

    [Fact]
    public void ConsumeBudget_TightLoopSpawnedFromOutside_RemoteTaskMakesProgress()
    {
        using var rt = NewRuntime();
        using var driver = new BackgroundDriver(rt);
        bool flag = false;
        JoinHandle<long> spinner = rt.Spawn(async () =>
        {
            long n = 0;
            while (!Volatile.Read(ref flag) && n < SpinCap)
            {
                await KyotoTask.ConsumeBudget();
                n++;
            }

            return n;
        });

        // Spawned from outside while the spinner holds the only thread: it sits in the injection queue.
        JoinHandle setter = rt.Spawn(() =>
        {
            Volatile.Write(ref flag, true);
            return Task.CompletedTask;
        });
        Assert.True(Bounded.Join(spinner) < SpinCap, "the spinning task never let the remote task run");
        Bounded.Join(setter);
    }

    [Fact]
    public void HasBudgetRemaining_SpentByConsumeBudget_BecomesFalseWithin128AndRefillsAfterYield()
    {
        using var rt = NewRuntime();
        (bool atStart, int consumed, bool afterSpent, bool afterYield) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool start = KyotoTask.HasBudgetRemaining;
            int n = 0;
            while (KyotoTask.HasBudgetRemaining && n < 10_000)
            {
                await KyotoTask.ConsumeBudget(); // completes synchronously while budget remains
                n++;
            }

            bool spent = KyotoTask.HasBudgetRemaining;
            await KyotoTask.ConsumeBudget(); // no budget: this one yields, and the task gets a fresh budget
            return (start, n, spent, KyotoTask.HasBudgetRemaining);
        });
        Assert.True(atStart);
        Assert.InRange(consumed, 1, 128);
        Assert.False(afterSpent);
        Assert.True(afterYield);
    }

    [Fact]
    public void ConsumeBudget_WhenSpent_LetsQueuedTaskRunBeforeResuming()
    {
        using var rt = NewRuntime();
        bool ranInBetween = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool other = false;
            JoinHandle h = KyotoTask.Spawn(() =>
            {
                other = true;
                return Task.CompletedTask;
            });
            while (KyotoTask.HasBudgetRemaining)
            {
                await KyotoTask.ConsumeBudget();
            }

            bool before = other;
            await KyotoTask.ConsumeBudget();
            await h;
            return !before && other;
        });
        Assert.True(ranInBetween);
    }

    [Fact]
    public void Unconstrained_TightLoop_NeverRunsOutOfBudget()
    {
        using var rt = NewRuntime();
        (bool alwaysHadBudget, bool otherRanDuring, bool constrainedAgain) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool other = false;
            JoinHandle h = KyotoTask.Spawn(() =>
            {
                other = true;
                return Task.CompletedTask;
            });
            bool always = true;
            bool otherDuring = false;
            await KyotoTask.Unconstrained(async () =>
            {
                for (int i = 0; i < 1_000; i++)
                {
                    always &= KyotoTask.HasBudgetRemaining;
                    await KyotoTask.ConsumeBudget();
                }

                otherDuring = other; // never yielded, so on one thread the other task cannot have run
            });

            int n = 0;
            while (KyotoTask.HasBudgetRemaining && n < 10_000)
            {
                await KyotoTask.ConsumeBudget();
                n++;
            }

            await h;
            return (always, otherDuring, !KyotoTask.HasBudgetRemaining || n < 10_000);
        });
        Assert.True(alwaysHadBudget);
        Assert.False(otherRanDuring);
        Assert.True(constrainedAgain);
    }

    [Fact]
    public void UnconstrainedOfT_Nested_ReturnsValueAndRestoresBudgetAfterwards()
    {
        using var rt = NewRuntime();
        (int v, bool hadBudgetInside, int consumedAfter) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool inside = true;
            int value = await KyotoTask.Unconstrained(async () => await KyotoTask.Unconstrained(async () =>
            {
                for (int i = 0; i < 500; i++)
                {
                    inside &= KyotoTask.HasBudgetRemaining;
                    await KyotoTask.ConsumeBudget();
                }

                return 42;
            }));
            await KyotoTask.Yield();
            int n = 0;
            while (KyotoTask.HasBudgetRemaining && n < 10_000)
            {
                await KyotoTask.ConsumeBudget();
                n++;
            }

            return (value, inside, n);
        });
        Assert.Equal(42, v);
        Assert.True(hadBudgetInside);
        Assert.InRange(consumedAfter, 1, 128);
    }

    [Fact]
    public void AwaitFinishedJoinHandle_TightLoop_OtherTaskMakesProgress()
    {
        using var rt = NewRuntime();
        (bool flagSeen, long loops) = rt.BlockOnBounded(async () =>
        {
            bool flag = false;
            JoinHandle<int> done = KyotoTask.Spawn(() => Task.FromResult(1));
            await done;
            JoinHandle<long> spinner = KyotoTask.Spawn(async () =>
            {
                long n = 0;
                while (!Volatile.Read(ref flag) && n < SpinCap)
                {
                    n += await done; // a finished handle completes at once... until the budget is spent
                }

                return n;
            });
            JoinHandle setter = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                Volatile.Write(ref flag, true);
            });
            long count = await spinner;
            await setter;
            return (Volatile.Read(ref flag), count);
        });
        Assert.True(flagSeen);
        Assert.True(loops < SpinCap);
    }

    [Fact]
    public void HasBudgetRemaining_OutsideRuntime_TrueAndConsumeBudgetCompletes()
    {
        Bounded.Run(() =>
        {
            Assert.True(KyotoTask.HasBudgetRemaining);
            for (int i = 0; i < 1_000; i++)
            {
                Assert.True(KyotoTask.ConsumeBudget().GetAwaiter().IsCompleted);
            }
        }, "budget checks on a plain thread");
        Assert.Equal(3, Bounded.Result(KyotoTask.Unconstrained(() => Task.FromResult(3)), "Unconstrained outside a runtime"));
    }

    [Fact]
    public void ConsumeBudget_OnBlockingThread_NeverYields()
    {
        using var rt = NewRuntime();
        bool always = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() =>
        {
            bool ok = true;
            for (int i = 0; i < 1_000; i++)
            {
                ok &= KyotoTask.ConsumeBudget().GetAwaiter().IsCompleted;
            }

            return ok;
        }));
        Assert.True(always);
    }
}
