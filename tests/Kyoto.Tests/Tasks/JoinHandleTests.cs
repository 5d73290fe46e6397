using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>JoinHandle and JoinHandle&lt;T&gt;: results, failures, ids, repeated and concurrent awaits.</summary>
public abstract class JoinHandleTests : RuntimeTestBase
{
    public sealed class MultiThread : JoinHandleTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : JoinHandleTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    public sealed class MultiThreadOneWorker : JoinHandleTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;
    }

    [Fact]
    public void Await_TaskReturnsValue_GetsValue()
    {
        using var rt = NewRuntime();
        Assert.Equal("v", rt.BlockOnBounded(async () => await KyotoTask.Spawn(async () =>
        {
            await KyotoTask.Yield();
            return "v";
        })));
    }

    [Fact]
    public void Await_TaskThrows_JoinExceptionIsFaultedWithOriginalInner()
    {
        using var rt = NewRuntime();
        var boom = new FormatException("boom");
        (JoinException e, TaskId id) = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = KyotoTask.Spawn<int>(async () =>
            {
                await KyotoTask.Yield();
                throw boom;
            });
            return (await Assert.ThrowsAsync<JoinException>(async () => await h), h.Id);
        });
        Assert.True(e.IsFaulted);
        Assert.False(e.IsCancelled);
        Assert.Same(boom, e.InnerException);
        Assert.Equal(id, e.TaskId);
        Assert.Contains("boom", e.Message);
    }

    [Fact]
    public void Await_TaskThrowsSynchronously_JoinExceptionIsFaulted()
    {
        using var rt = NewRuntime();
        var boom = new FormatException();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            JoinHandle h = KyotoTask.Spawn(() => throw boom);
            return await Assert.ThrowsAsync<JoinException>(async () => await h);
        });
        Assert.True(e.IsFaulted);
        Assert.Same(boom, e.InnerException);
    }

    [Fact]
    public void Await_TaskThrowsOperationCanceled_JoinExceptionIsCancelled()
    {
        using var rt = NewRuntime();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                throw new OperationCanceledException();
            });
            return await Assert.ThrowsAsync<JoinException>(async () => await h);
        });
        Assert.True(e.IsCancelled);
        Assert.False(e.IsFaulted);
    }

    [Fact]
    public void Await_AfterCompletion_WorksRepeatedly()
    {
        using var rt = NewRuntime();
        int[] values = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 3;
            });
            var list = new List<int>();
            for (int i = 0; i < 5; i++)
            {
                list.Add(await h);
            }

            return list.ToArray();
        });
        Assert.Equal([3, 3, 3, 3, 3], values);
    }

    [Fact]
    public void Await_FailedTaskRepeatedly_ThrowsEachTime()
    {
        using var rt = NewRuntime();
        int throws = rt.BlockOnBounded(async () =>
        {
            JoinHandle h = KyotoTask.Spawn(() => throw new FormatException());
            int n = 0;
            for (int i = 0; i < 3; i++)
            {
                try
                {
                    await h;
                }
                catch (JoinException e) when (e.InnerException is FormatException)
                {
                    n++;
                }
            }

            return n;
        });
        Assert.Equal(3, throws);
    }

    [Fact]
    public void Await_FromOutsideRuntime_Works()
    {
        using var rt = NewRuntime();
        JoinHandle<int> h = rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            return 6;
        });
        if (!IsMultiThread)
        {
            rt.BlockOnBounded(async () => await h);
        }

        Assert.Equal(6, Bounded.Result(h.AsTask(), "AsTask from outside"));
        Assert.Equal(6, Bounded.Result(h.AsTask(), "AsTask again"));
    }

    [Fact]
    public void AsTask_InsideRuntime_InteropsWithBclCombinators()
    {
        using var rt = NewRuntime();
        int[] all = rt.BlockOnBounded(async () =>
        {
            Task<int>[] tasks = [.. Enumerable.Range(0, 5).Select(i => KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return i;
            }).AsTask())];
            return await Task.WhenAll(tasks);
        });
        Assert.Equal([0, 1, 2, 3, 4], all);
    }

    [Fact]
    public void AsTask_FailedTask_ThrowsJoinException()
    {
        using var rt = NewRuntime();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            JoinHandle h = KyotoTask.Spawn(() => throw new FormatException());
            return await Assert.ThrowsAsync<JoinException>(() => h.AsTask());
        });
        Assert.True(e.IsFaulted);
    }

    [Fact]
    public void IsFinished_ChangesWhenTaskCompletes()
    {
        using var rt = NewRuntime();
        (bool before, bool after) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            JoinHandle<int> h = KyotoTask.Spawn(async () => await rx);
            await KyotoTask.Yield();
            bool b = h.IsFinished;
            tx.TrySend(1);
            await h;
            return (b, h.IsFinished);
        });
        Assert.False(before);
        Assert.True(after);
    }

    [Fact]
    public void Id_MatchesCurrentIdInsideTaskAndIsUnique()
    {
        using var rt = NewRuntime();
        (TaskId outer, TaskId inner, TaskId other) = rt.BlockOnBounded(async () =>
        {
            JoinHandle<TaskId> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return KyotoTask.Id;
            });
            JoinHandle<TaskId?> h2 = KyotoTask.Spawn(() => Task.FromResult(KyotoTask.CurrentId));
            TaskId seen = await h;
            Assert.Equal(h2.Id, await h2);
            return (h.Id, seen, h2.Id);
        });
        Assert.Equal(outer, inner);
        Assert.NotEqual(outer, other);
        Assert.True(outer.Value >= 1);
        Assert.Equal(outer.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), outer.ToString());
    }

    [Fact]
    public void Id_OutsideTask_CurrentIdNullAndIdThrows()
    {
        Bounded.Run(() =>
        {
            Assert.Null(KyotoTask.CurrentId);
            Assert.Throws<InvalidOperationException>(() => KyotoTask.Id);
            Assert.Equal(CancellationToken.None, KyotoTask.CancellationToken);
            Assert.False(KyotoTask.IsAbortRequested);
        }, "checks on a plain thread");
    }

    [Fact]
    public void Id_InsideBlockOnRoot_IsSetAndStableAcrossAwaits()
    {
        using var rt = NewRuntime();
        (TaskId? a, TaskId? b) = rt.BlockOnBounded(async () =>
        {
            TaskId? first = KyotoTask.CurrentId;
            await KyotoTask.Yield();
            await Task.Yield();
            return (first, KyotoTask.CurrentId);
        });
        Assert.NotNull(a);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Equality_SameTask_EqualHandles()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = KyotoTask.Spawn(() => Task.FromResult(1));
            JoinHandle<int> copy = h;
            JoinHandle<int> other = KyotoTask.Spawn(() => Task.FromResult(2));
            Assert.True(h == copy);
            Assert.True(h.Equals((object)copy));
            Assert.Equal(h.GetHashCode(), copy.GetHashCode());
            Assert.True(h != other);
            Assert.True(h.AbortHandle == copy.AbortHandle);
            Assert.Equal(h.Id, h.AbortHandle.Id);
            JoinHandle v1 = KyotoTask.Spawn(() => Task.CompletedTask);
            JoinHandle v2 = v1;
            Assert.True(v1 == v2);
            Assert.False(v1 != v2);
            await h;
            await other;
            await v1;
        });
    }

    [Fact]
    public void Default_Handles_ThrowInvalidOperationException()
    {
        JoinHandle h = default;
        JoinHandle<int> t = default;
        AbortHandle a = default;
        Assert.Throws<InvalidOperationException>(() => h.Id);
        Assert.Throws<InvalidOperationException>(() => h.IsFinished);
        Assert.Throws<InvalidOperationException>(() => h.Abort());
        Assert.Throws<InvalidOperationException>(() => h.GetAwaiter());
        Assert.Throws<InvalidOperationException>(() => t.Id);
        Assert.Throws<InvalidOperationException>(() => t.GetAwaiter());
        Assert.Throws<InvalidOperationException>(() => a.Abort());
        Assert.Throws<InvalidOperationException>(() => a.IsFinished);
        Assert.True(h == default(JoinHandle));
        Assert.Equal(0, a.GetHashCode());
    }

    [Fact]
    public void Await_TwoWaitersAtOnce_SecondResumesAtOnceAndThrowsFirstStillResumes()
    {
        using var rt = NewRuntime();
        var (tx, rx) = Oneshot.Create<int>();
        JoinHandle<int> h = rt.Spawn(async () => await rx);
        using var firstResumed = new ManualResetEventSlim();
        using var secondResumed = new ManualResetEventSlim();

        // Register the waiters directly on the awaiter. The second registration must not throw (an exception
        // from OnCompleted inside an `async` method is rethrown on the thread pool and crashes the process):
        // its continuation runs at once and GetResult throws InvalidOperationException instead.
        Bounded.Run(() =>
        {
            h.GetAwaiter().UnsafeOnCompleted(firstResumed.Set);
            h.GetAwaiter().UnsafeOnCompleted(secondResumed.Set);
        }, "registering two waiters on a plain thread");

        Bounded.Wait(secondResumed, "the refused second waiter to be resumed");
        Assert.False(firstResumed.IsSet);
        Assert.Throws<InvalidOperationException>(() => h.GetAwaiter().GetResult());

        tx.TrySend(5);
        if (!IsMultiThread)
        {
            rt.BlockOnBounded(async () => await KyotoTask.Yield());
        }

        Assert.True(firstResumed.Wait(TimeSpan.FromSeconds(10)), "the first waiter lost its continuation when the second was refused");
        Assert.Equal(5, Bounded.Join(h));
    }

    [Fact]
    public void Await_TwoWaitersAtOnceInTasks_SecondAwaitThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        var (tx, rx) = Oneshot.Create<int>();
        Exception? second = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = KyotoTask.Spawn(async () => await rx);

            // The first waiter registers deterministically (directly on the awaiter), then this task awaits too.
            var firstResumed = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            h.GetAwaiter().UnsafeOnCompleted(() => firstResumed.SetResult(h.GetAwaiter().GetResult()));
            Exception? e = await Record.ExceptionAsync(async () => await h);
            tx.TrySend(1);
            Assert.Equal(1, await firstResumed.Task);
            return e;
        });
        Assert.IsType<InvalidOperationException>(second);
    }

    [Fact]
    public void Await_CompletedHandleFromTwoTasksWithBudgetSpent_BothResume()
    {
        using var rt = NewRuntime(b => b.WorkerThreads = 1);
        (int a, int b) = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> done = KyotoTask.Spawn(() => Task.FromResult(7));
            await done;

            // Each waiter spends its budget, so awaiting the finished handle yields through the task object
            // instead of completing at once. Both do it in the same round.
            JoinHandle<int> w1 = KyotoTask.Spawn(() => SpendBudgetThenAwait(done));
            JoinHandle<int> w2 = KyotoTask.Spawn(() => SpendBudgetThenAwait(done));
            JoinHandle<(int, int)> both = KyotoTask.Spawn(async () => (await w1, await w2));
            return await both;
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(7, a);
        Assert.Equal(7, b);

        static async Task<int> SpendBudgetThenAwait(JoinHandle<int> h)
        {
            await KyotoTask.Yield();
            while (KyotoTask.HasBudgetRemaining)
            {
                await KyotoTask.ConsumeBudget();
            }

            return await h;
        }
    }

    [Fact]
    public void Await_CompletedHandleWithBudgetSpent_YieldsAndStillReturnsValue()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> done = KyotoTask.Spawn(() => Task.FromResult(4));
            await done;
            int sum = 0;
            for (int i = 0; i < 1_000; i++)
            {
                sum += await done; // past the budget these yield; each still returns the value
            }

            return sum;
        });
        Assert.Equal(4_000, v);
    }

    [Fact]
    public void Await_WaiterAbortedWhileJoining_TaskKeepsRunningAndCanBeAwaitedAgain()
    {
        using var rt = NewRuntime();
        (bool waiterCancelled, int value) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            JoinHandle<int> target = KyotoTask.Spawn(async () => await rx);
            var (parkedTx, parkedRx) = Oneshot.Create<bool>();
            JoinHandle<int> waiter = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                parkedTx.TrySend(true);
                return await target;
            });
            await parkedRx;
            await KyotoTask.Yield();
            waiter.Abort();
            JoinException e = await Assert.ThrowsAsync<JoinException>(async () => await waiter);
            Assert.False(target.IsFinished);
            tx.TrySend(10);
            return (e.IsCancelled, await target);
        });
        Assert.True(waiterCancelled);
        Assert.Equal(10, value);
    }

    [Fact]
    public void AbortHandle_CopiedToOtherThread_AbortsTask()
    {
        using var rt = NewRuntime();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            (JoinHandle<int> h, OneshotSender<int> tx) = await ParkedTask.SpawnAsync();
            AbortHandle abort = h.AbortHandle;
            Assert.False(abort.IsFinished);
            await Task.Run(abort.Abort);
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            Assert.True(abort.IsFinished);
            GC.KeepAlive(tx);
            return ex;
        });
        Assert.True(e.IsCancelled);
    }
}
