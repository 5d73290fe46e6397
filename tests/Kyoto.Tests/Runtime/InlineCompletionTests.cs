using Kyoto.Scheduling;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// <c>KyotoValueTaskSource.TryCompleteInline</c>, which a socket's retry work item uses: on a worker of the
/// awaiting task's runtime it runs the continuation before returning (one queue hop from the event, not two);
/// anywhere else, or before anyone awaits, it falls back to the ordinary completion.
/// </summary>
public abstract class InlineCompletionTests : RuntimeTestBase
{
    public sealed class CurrentThread : InlineCompletionTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    public sealed class MultiThreadOneWorker : InlineCompletionTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 1;
    }

    /// <summary>A work item that completes a source inline and records whether the awaiter had run by then.</summary>
    private sealed class CompleteInline(KyotoValueTaskSource<int> source, int value, Func<bool> resumed) : IWorkItem
    {
        internal bool ResumedBeforeReturn;
        internal bool Completed;

        public void Execute(RuntimeContext ctx)
        {
            Completed = source.TryCompleteInline(value, null, ctx);
            ResumedBeforeReturn = resumed();
        }

        public void Discard()
        {
        }
    }

    [Fact]
    public void TryCompleteInline_OnAWorker_RunsTheRegisteredContinuationBeforeReturning()
    {
        using var rt = NewRuntime();
        (bool completed, bool resumedInline, int received, bool sameThread) = rt.BlockOnBounded(async () =>
        {
            var source = new KyotoValueTaskSource<int>();
            source.Reset();
            var (parkedTx, parkedRx) = Oneshot.Create<bool>();
            bool resumed = false;
            int itemThread = -1;
            int resumedThread = -2;
            JoinHandle<int> waiter = KyotoTask.Spawn(async () =>
            {
                // One thread runs this task's poll to the await below before anything else runs.
                parkedTx.TrySend(true);
                int v = await source.AsValueTask();
                resumed = true;
                resumedThread = Environment.CurrentManagedThreadId;
                return v;
            });
            await parkedRx;
            var item = new CompleteInline(source, 42, () =>
            {
                itemThread = Environment.CurrentManagedThreadId;
                return resumed;
            });
            rt.Scheduler.Schedule(item, isYield: false);
            int value = await waiter;
            return (item.Completed, item.ResumedBeforeReturn, value, itemThread == resumedThread);
        });
        Assert.True(completed);
        Assert.True(resumedInline);
        Assert.Equal(42, received);
        Assert.True(sameThread);
    }

    [Fact]
    public void TryCompleteInline_BeforeAnyAwait_TheLaterAwaitCompletesAtOnce()
    {
        using var rt = NewRuntime();
        (bool completed, bool completedAtAwait, int value, bool second) = rt.BlockOnBounded(async () =>
        {
            var source = new KyotoValueTaskSource<int>();
            source.Reset();
            var item = new CompleteInline(source, 7, () => false);
            rt.Scheduler.Schedule(item, isYield: false);
            while (!source.IsCompleted)
            {
                await KyotoTask.Yield();
            }

            ValueTask<int> pending = source.AsValueTask();
            bool atOnce = pending.IsCompleted;
            int v = await pending;
            return (item.Completed, atOnce, v, source.TryCompleteInline(8, null, RuntimeContextForTest()));
        });
        Assert.True(completed);
        Assert.True(completedAtAwait);
        Assert.Equal(7, value);
        Assert.False(second); // a completed source refuses a second completion
    }

    [Fact]
    public void TryCompleteInline_OffTheRuntime_QueuesTheContinuationOnItsRuntime()
    {
        // Completed from a thread that is no worker: the continuation must not run there (inline) but on the
        // awaiting task's runtime.
        using var rt = NewRuntime();
        (int value, bool onRuntime) = rt.BlockOnBounded(async () =>
        {
            var source = new KyotoValueTaskSource<int>();
            source.Reset();
            var (parkedTx, parkedRx) = Oneshot.Create<bool>();
            bool resumedOnWorker = false;
            JoinHandle<int> waiter = KyotoTask.Spawn(async () =>
            {
                parkedTx.TrySend(true);
                int v = await source.AsValueTask();
                resumedOnWorker = rt.Scheduler.IsOnWorkerThread;
                return v;
            });
            await parkedRx;
            var thread = new Thread(() => source.TryCompleteInline(5, null, RuntimeContext.Current));
            thread.Start();
            int result = await waiter;
            thread.Join();
            return (result, resumedOnWorker);
        });
        Assert.Equal(5, value);
        Assert.True(onRuntime);
    }

    private static RuntimeContext RuntimeContextForTest() => RuntimeContext.Current;
}
