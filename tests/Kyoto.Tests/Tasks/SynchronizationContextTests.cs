using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>
/// The runtime's SynchronizationContext: foreign (BCL) awaits come back to the runtime and to the same
/// task, and the ExecutionContext (AsyncLocal) flows into spawned tasks.
/// </summary>
public abstract class SynchronizationContextTests : RuntimeTestBase
{
    // One thread of work, so "parked" is observable through the park hook.
    protected override int WorkerThreads => 1;

    public sealed class MultiThreadOneWorker : SynchronizationContextTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SynchronizationContextTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    public sealed class MultiThreadTwoWorkers : SynchronizationContextTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 2;
    }

    private sealed record Where(int ThreadId, string? ThreadName, TaskId? TaskId, RuntimeHandle? Runtime, SynchronizationContext? Context);

    private static Where Here() => new(Environment.CurrentManagedThreadId, Thread.CurrentThread.Name, KyotoTask.CurrentId, RuntimeHandle.TryCurrent, SynchronizationContext.Current);

    [Fact]
    public void AwaitForeignTask_CompletedFromOtherThreadWhileParked_ResumesOnRuntimeInSameTask()
    {
        string name = "sc-test-" + Guid.NewGuid().ToString("N")[..8];
        bool armed = false;
        using var parked = new ManualResetEventSlim();
        using var rt = NewRuntime(b =>
        {
            b.ThreadName = name;
            b.OnThreadPark = () =>
            {
                if (Volatile.Read(ref armed))
                {
                    parked.Set();
                }
            };
        });
        var foreign = new TaskCompletionSource<int>(); // completes inline on the completing thread unless posted
        int completerThread = 0;
        Task completer = Bounded.OnThread(() =>
        {
            Bounded.Wait(parked, "the runtime to park on the foreign await");
            completerThread = Environment.CurrentManagedThreadId;
            foreign.SetResult(3);
        });

        (Where before, Where after, int value, int driverThread) = Bounded.Run(() =>
        {
            int driver = Environment.CurrentManagedThreadId;
            return rt.BlockOn(async () =>
            {
                await KyotoTask.Yield();
                Where b = Here();
                Volatile.Write(ref armed, IsMultiThread ? WorkerThreads == 1 : true);
                if (!Volatile.Read(ref armed))
                {
                    parked.Set(); // with two workers the park hook does not prove this task is parked
                }

                int v = await foreign.Task;
                return (b, Here(), v, driver);
            });
        }, "BlockOn");
        Bounded.Wait(completer, "the completer");

        Assert.Equal(3, value);
        Assert.NotEqual(completerThread, after.ThreadId);
        Assert.Equal(before.TaskId, after.TaskId);
        Assert.Same(rt.Handle, after.Runtime);
        Assert.NotNull(after.Context);
        if (IsMultiThread)
        {
            Assert.Equal(name, after.ThreadName);
        }
        else
        {
            Assert.Equal(driverThread, after.ThreadId);
        }
    }

    [Fact]
    public void AwaitTaskRun_ResumesOnRuntimeInSameTask()
    {
        using var rt = NewRuntime();
        (Where before, Where after) = rt.BlockOnBounded(async () =>
        {
            Where b = Here();
            int threadPoolThread = await Task.Run(() => Environment.CurrentManagedThreadId);
            Where a = Here();
            Assert.NotEqual(threadPoolThread, a.ThreadId);
            return (b, a);
        });
        Assert.Equal(before.TaskId, after.TaskId);
        Assert.Same(rt.Handle, after.Runtime);
    }

    [Fact]
    public void AwaitBclTaskYield_ResumesOnRuntimeInSameTask()
    {
        using var rt = NewRuntime();
        (Where before, Where after) = rt.BlockOnBounded(async () =>
        {
            Where b = Here();
            await Task.Yield();
            return (b, Here());
        });
        Assert.Equal(before.TaskId, after.TaskId);
        Assert.Same(rt.Handle, after.Runtime);
        if (!IsMultiThread)
        {
            Assert.Equal(before.ThreadId, after.ThreadId);
        }
    }

    [Fact]
    public void AwaitForeignTask_InSpawnedTask_ResumesInThatTask()
    {
        using var rt = NewRuntime();
        bool ok = rt.BlockOnBounded(async () =>
        {
            var handles = new List<JoinHandle<bool>>();
            for (int i = 0; i < 20; i++)
            {
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    TaskId id = KyotoTask.Id;
                    await Task.Run(() => Thread.Yield());
                    await Task.Yield();
                    return KyotoTask.CurrentId == id && ReferenceEquals(RuntimeHandle.TryCurrent, rt.Handle);
                }));
            }

            bool all = true;
            foreach (JoinHandle<bool> h in handles)
            {
                all &= await h;
            }

            return all;
        });
        Assert.True(ok);
    }

    [Fact]
    public void Current_InsideTask_IsRuntimeContextAndPostRunsOnRuntime()
    {
        using var rt = NewRuntime();
        (bool hasContext, TaskId? inPost, TaskId me) = rt.BlockOnBounded(async () =>
        {
            SynchronizationContext? sc = SynchronizationContext.Current;
            TaskId id = KyotoTask.Id;
            var (tx, rx) = Oneshot.Create<TaskId?>();
            sc!.Post(_ => tx.TrySend(KyotoTask.CurrentId), null);
            return (sc is not null, await rx, id);
        });
        Assert.True(hasContext);
        Assert.Equal(me, inPost);
    }

    [Fact]
    public void Post_FromOtherThread_RunsOnRuntime()
    {
        using var rt = NewRuntime();
        (RuntimeHandle? seen, bool onRuntimeThread) = rt.BlockOnBounded(async () =>
        {
            SynchronizationContext sc = SynchronizationContext.Current!;
            var (tx, rx) = Oneshot.Create<(RuntimeHandle?, bool)>();
            await Task.Run(() => sc.Post(_ => tx.TrySend((RuntimeHandle.TryCurrent, !Thread.CurrentThread.IsThreadPoolThread)), null));
            return await rx;
        });
        Assert.Same(rt.Handle, seen);
        Assert.True(onRuntimeThread);
    }

    [Fact]
    public void Send_FromWorker_RunsInline()
    {
        using var rt = NewRuntime();
        (int outer, int inner) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            int me = Environment.CurrentManagedThreadId;
            int seen = 0;
            SynchronizationContext.Current!.Send(_ => seen = Environment.CurrentManagedThreadId, null);
            return (me, seen);
        });
        Assert.Equal(outer, inner);
    }

    [Fact]
    public void Send_AfterTheRuntimeStopped_ThrowsInsteadOfWaitingForEver()
    {
        SynchronizationContext sc;
        using (Runtime rt = NewRuntime())
        {
            sc = rt.BlockOnBounded(() => Task.FromResult(SynchronizationContext.Current!));
        }

        // The runtime discards the callback; the sending thread used to wait for it for ever.
        Task send = Task.Run(() => sc.Send(_ => { }, null));
        Assert.True(Bounded.Finishes(send), "Send after the runtime stopped did not return");
        Assert.IsType<RuntimeShutdownException>(send.Exception?.InnerException);
    }

    [Fact]
    public void Send_FromOtherThread_RunsOnRuntimeAndRethrows()
    {
        using var rt = NewRuntime();
        (RuntimeHandle? seen, Exception? error) = rt.BlockOnBounded(async () =>
        {
            SynchronizationContext sc = SynchronizationContext.Current!;
            RuntimeHandle? where = null;
            await Task.Run(() => sc.Send(_ => where = RuntimeHandle.TryCurrent, null));
            Exception? e = await Task.Run(() => Record.Exception(() => sc.Send(_ => throw new FormatException(), null)));
            return (where, e);
        });
        Assert.Same(rt.Handle, seen);
        Assert.IsType<FormatException>(error);
    }

    [Fact]
    public void AsyncLocal_FlowsIntoSpawnedTaskAndChildChangesDoNotFlowBack()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<string>();
        (string? inChild, string? inChildAfterAwait, string? parentAfter) = rt.BlockOnBounded(async () =>
        {
            local.Value = "parent";
            (string? a, string? b) = await KyotoTask.Spawn(async () =>
            {
                string? first = local.Value;
                await KyotoTask.Yield();
                await Task.Yield();
                string? second = local.Value;
                local.Value = "child";
                return (first, second);
            });
            return (a, b, local.Value);
        });
        Assert.Equal("parent", inChild);
        Assert.Equal("parent", inChildAfterAwait);
        Assert.Equal("parent", parentAfter);
    }

    [Fact]
    public void AsyncLocal_FlowsFromBlockOnCallerIntoRootAndSpawnFromOutside()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<string>();
        (string? inRoot, string? inRemote) = Bounded.Run(() =>
        {
            local.Value = "caller";
            JoinHandle<string?> remote = rt.Spawn<string?>(async () =>
            {
                await KyotoTask.Yield();
                return local.Value;
            });
            return rt.BlockOn(async () =>
            {
                await KyotoTask.Yield();
                return (local.Value, await remote);
            });
        }, "BlockOn");
        Assert.Equal("caller", inRoot);
        Assert.Equal("caller", inRemote);
    }

    [Fact]
    public void AsyncLocal_UnsafeSpawn_DoesNotFlow()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<string>();
        string? seen = rt.BlockOnBounded(async () =>
        {
            local.Value = "parent";
            string? child = "unset";
            await KyotoTask.UnsafeSpawn(async () =>
            {
                await KyotoTask.Yield();
                child = local.Value;
            });
            return child;
        });
        Assert.Null(seen);
    }

    [Fact]
    public void AsyncLocal_SurvivesForeignAndKyotoAwaitsInTask()
    {
        using var rt = NewRuntime();
        var local = new AsyncLocal<int>();
        int[] seen = rt.BlockOnBounded(async () =>
        {
            local.Value = 1;
            var list = new List<int>();
            await Task.Run(() => Thread.Yield());
            list.Add(local.Value);
            var (tx, rx) = Oneshot.Create<int>();
            _ = KyotoTask.Spawn(async () =>
            {
                local.Value = 99; // the sender's context must not leak into the receiver's continuation
                await KyotoTask.Yield();
                tx.TrySend(0);
            });
            await rx;
            list.Add(local.Value);
            await KyotoTask.Yield();
            list.Add(local.Value);
            return list.ToArray();
        });
        Assert.Equal([1, 1, 1], seen);
    }

    [Fact]
    public void ConfigureAwaitFalseOnKyotoAwaitable_StillResumesOnRuntime()
    {
        using var rt = NewRuntime();
        (TaskId? before, TaskId? after, RuntimeHandle? runtime) = rt.BlockOnBounded(async () =>
        {
            TaskId? id = KyotoTask.CurrentId;
            var (tx, rx) = Oneshot.Create<int>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(1);
            });
            await rx.RecvAsync().ConfigureAwait(false);
            return (id, KyotoTask.CurrentId, RuntimeHandle.TryCurrent);
        });
        Assert.Equal(before, after);
        Assert.Same(rt.Handle, runtime);
    }
}
