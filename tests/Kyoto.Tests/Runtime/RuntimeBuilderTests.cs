using System.Collections.Concurrent;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Tests that change the process environment run alone (see <see cref="EnvironmentTests"/>).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EnvironmentCollection
{
    public const string Name = "Process environment";
}

public class RuntimeBuilderTests
{
    // ------------------------------------------------------------------ defaults and factories

    [Fact]
    public void Constructor_Defaults_MatchDocumentation()
    {
        var b = new RuntimeBuilder();
        Assert.Equal(RuntimeFlavor.MultiThread, b.Flavor);
        Assert.Null(b.WorkerThreads);
        Assert.Equal(512, b.MaxBlockingThreads);
        Assert.Equal(TimeSpan.FromSeconds(10), b.ThreadKeepAlive);
        Assert.Equal("kyoto-runtime-worker", b.ThreadName);
        Assert.Null(b.ThreadNameFn);
        Assert.Equal(0, b.ThreadStackSize);
        Assert.Null(b.GlobalQueueInterval);
        Assert.Equal(61, b.EventInterval);
        Assert.False(b.DisableLifoSlot);
        Assert.Equal(UnhandledExceptionPolicy.Ignore, b.UnhandledExceptionPolicy);
        Assert.Null(b.OnUnhandledException);
        Assert.Null(b.OnThreadStart);
        Assert.Null(b.OnThreadStop);
        Assert.Null(b.OnThreadPark);
        Assert.Null(b.OnThreadUnpark);
    }

    [Fact]
    public void MultiThread_Factory_SetsMultiThreadFlavor()
    {
        Assert.Equal(RuntimeFlavor.MultiThread, RuntimeBuilder.MultiThread().Flavor);
    }

    [Fact]
    public void CurrentThread_Factory_SetsCurrentThreadFlavor()
    {
        Assert.Equal(RuntimeFlavor.CurrentThread, RuntimeBuilder.CurrentThread().Flavor);
    }

    [Fact]
    public void Build_MultiThread_RuntimeHasFlavorAndWorkerCount()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 3 }.Build();
        Assert.Equal(RuntimeFlavor.MultiThread, rt.Flavor);
        Assert.Equal(RuntimeFlavor.MultiThread, rt.Handle.Flavor);
        Assert.Equal(3, rt.Metrics.WorkerCount);
        Assert.False(rt.IsShutdown);
    }

    [Fact]
    public void Build_CurrentThread_HasOneWorkerWhateverWorkerThreadsSays()
    {
        var b = RuntimeBuilder.CurrentThread();
        b.WorkerThreads = 4;
        using var rt = b.Build();
        Assert.Equal(RuntimeFlavor.CurrentThread, rt.Flavor);
        Assert.Equal(1, rt.Metrics.WorkerCount);
    }

    [Fact]
    public void Build_CalledTwice_GivesIndependentRuntimes()
    {
        var b = new RuntimeBuilder { WorkerThreads = 1 };
        using var first = b.Build();
        using var second = b.Build();
        Assert.NotSame(first, second);
        Assert.NotSame(first.Handle, second.Handle);
        Assert.True(first.Shutdown(Bounded.Timeout));
        Assert.False(second.IsShutdown);
        Assert.Equal(2, second.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return 2;
        }));
    }

    // ------------------------------------------------------------------ validation

    public static TheoryData<string, Action<RuntimeBuilder>> InvalidSettings => new()
    {
        { nameof(RuntimeBuilder.WorkerThreads), b => b.WorkerThreads = 0 },
        { nameof(RuntimeBuilder.WorkerThreads), b => b.WorkerThreads = -1 },
        { nameof(RuntimeBuilder.WorkerThreads), b => b.WorkerThreads = short.MaxValue + 1 },
        { nameof(RuntimeBuilder.MaxBlockingThreads), b => b.MaxBlockingThreads = 0 },
        { nameof(RuntimeBuilder.MaxBlockingThreads), b => b.MaxBlockingThreads = -5 },
        { nameof(RuntimeBuilder.ThreadKeepAlive), b => b.ThreadKeepAlive = TimeSpan.Zero },
        { nameof(RuntimeBuilder.ThreadKeepAlive), b => b.ThreadKeepAlive = TimeSpan.FromSeconds(-1) },
        { nameof(RuntimeBuilder.ThreadKeepAlive), b => b.ThreadKeepAlive = TimeSpan.FromDays(30) }, // over Monitor.Wait's limit
        { nameof(RuntimeBuilder.ThreadStackSize), b => b.ThreadStackSize = -1 },
        { nameof(RuntimeBuilder.GlobalQueueInterval), b => b.GlobalQueueInterval = 0 },
        { nameof(RuntimeBuilder.GlobalQueueInterval), b => b.GlobalQueueInterval = -3 },
        { nameof(RuntimeBuilder.EventInterval), b => b.EventInterval = 0 },
        { nameof(RuntimeBuilder.EventInterval), b => b.EventInterval = -1 },
        { nameof(RuntimeBuilder.Flavor), b => b.Flavor = (RuntimeFlavor)42 },
        { nameof(RuntimeBuilder.UnhandledExceptionPolicy), b => b.UnhandledExceptionPolicy = (UnhandledExceptionPolicy)42 },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void Build_InvalidSetting_ThrowsArgumentOutOfRangeNamingProperty(string property, Action<RuntimeBuilder> spoil)
    {
        var b = new RuntimeBuilder { WorkerThreads = 1 };
        spoil(b);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.Build().Dispose());
        Assert.Equal(property, e.ParamName);
    }

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void Build_InvalidSettingOnCurrentThread_ThrowsArgumentOutOfRangeNamingProperty(string property, Action<RuntimeBuilder> spoil)
    {
        if (property == nameof(RuntimeBuilder.WorkerThreads))
        {
            return; // documented as ignored by the current-thread flavour
        }

        RuntimeBuilder b = RuntimeBuilder.CurrentThread();
        spoil(b);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.Build().Dispose());
        Assert.Equal(property, e.ParamName);
    }

    [Fact]
    public void Build_NullThreadName_ThrowsArgumentNullNamingProperty()
    {
        var b = new RuntimeBuilder { WorkerThreads = 1, ThreadName = null! };
        var e = Assert.Throws<ArgumentNullException>(() => b.Build().Dispose());
        Assert.Equal(nameof(RuntimeBuilder.ThreadName), e.ParamName);
    }

    [Fact]
    public void Build_BoundaryValues_AreAccepted()
    {
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 1,
            MaxBlockingThreads = 1,
            ThreadKeepAlive = TimeSpan.FromTicks(1),
            GlobalQueueInterval = 1,
            EventInterval = 1,
            ThreadStackSize = 0,
        }.Build();
        Assert.Equal(7, rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return await KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 7;
            });
        }));
    }

    // ------------------------------------------------------------------ thread names and stack size

    [Fact]
    public void ThreadName_MultiThread_NamesWorkerThreads()
    {
        string name = "kyoto-test-name-" + Guid.NewGuid().ToString("N")[..8];
        using var rt = new RuntimeBuilder { WorkerThreads = 2, ThreadName = name }.Build();
        string? seen = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return Thread.CurrentThread.Name;
        });
        Assert.Equal(name, seen);
    }

    [Fact]
    public void ThreadName_BlockingPool_NamesBlockingThreads()
    {
        string name = "kyoto-test-blocking-" + Guid.NewGuid().ToString("N")[..8];
        using var rt = new RuntimeBuilder { WorkerThreads = 1, ThreadName = name }.Build();
        string? seen = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => Thread.CurrentThread.Name));
        Assert.Equal(name, seen);
    }

    [Fact]
    public void ThreadNameFn_MultiThread_CalledPerThreadAndOverridesThreadName()
    {
        int counter = 0;
        var names = new ConcurrentBag<string>();
        using var started = new CountdownEvent(3);
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 3,
            ThreadName = "ignored",
            ThreadNameFn = () => "fn-worker-" + Interlocked.Increment(ref counter),
            OnThreadStart = () =>
            {
                names.Add(Thread.CurrentThread.Name!);
                started.Signal();
            },
        }.Build();
        Bounded.Wait(started, "three worker threads to start");
        Assert.Equal(["fn-worker-1", "fn-worker-2", "fn-worker-3"], names.Order());
    }

    [Fact]
    public void ThreadStackSize_Positive_WorkersRunWithIt()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 1, ThreadStackSize = 4 * 1024 * 1024 }.Build();

        // A deep synchronous recursion that would not fit a tiny stack still runs.
        int depth = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return Recurse(10_000);
        });
        Assert.Equal(10_000, depth);

        static int Recurse(int n) => n == 0 ? 0 : 1 + Recurse(n - 1);
    }

    // ------------------------------------------------------------------ hooks

    [Fact]
    public void OnThreadStart_MultiThread_RunsOnEveryWorkerThread()
    {
        var threads = new ConcurrentDictionary<int, string?>();
        using var started = new CountdownEvent(2);
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 2,
            ThreadName = "hook-start",
            OnThreadStart = () =>
            {
                threads[Environment.CurrentManagedThreadId] = Thread.CurrentThread.Name;
                started.Signal();
            },
        }.Build();
        Bounded.Wait(started, "OnThreadStart on both workers");
        Assert.Equal(2, threads.Count);
        Assert.All(threads.Values, n => Assert.Equal("hook-start", n));
    }

    [Fact]
    public void OnThreadStart_MultiThread_BlockOnInTheHookIsRefused()
    {
        // The hook runs on the worker's thread before its loop: BlockOn there would block the worker before it
        // ran anything (with one worker, the runtime would never run a task), so it is refused as on the loop.
        using Runtime other = RuntimeBuilder.CurrentThread().Build();
        Exception? refused = null;
        using var started = new ManualResetEventSlim(false);
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 1,
            OnThreadStart = () =>
            {
                refused = Record.Exception(() => other.BlockOn(() => Task.CompletedTask));
                started.Set();
            },
        }.Build();
        Bounded.Wait(started, "OnThreadStart on the worker");
        Assert.IsType<InvalidOperationException>(refused);
        Assert.Equal(7, rt.BlockOnBounded(() => Task.FromResult(7))); // and the worker runs tasks
    }

    [Fact]
    public void OnThreadStop_MultiThread_RunsOnEveryWorkerThreadAtShutdown()
    {
        int stops = 0;
        using var stopped = new CountdownEvent(2);
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 2,
            OnThreadStop = () =>
            {
                Interlocked.Increment(ref stops);
                stopped.Signal();
            },
        }.Build();
        rt.BlockOnBounded(async () => await KyotoTask.Yield());
        Assert.Equal(0, Volatile.Read(ref stops));
        Assert.True(rt.Shutdown(Bounded.Timeout));
        Bounded.Wait(stopped, "OnThreadStop on both workers");
        Assert.Equal(2, Volatile.Read(ref stops));
    }

    [Fact]
    public void OnThreadStartAndStop_BlockingThread_RunOnIt()
    {
        int blockingThreadId = 0;
        using var blockingStarted = new ManualResetEventSlim();
        using var blockingStopped = new ManualResetEventSlim();
        var startedIds = new ConcurrentBag<int>();
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 1,
            ThreadKeepAlive = TimeSpan.FromMilliseconds(50),
            OnThreadStart = () => startedIds.Add(Environment.CurrentManagedThreadId),
            OnThreadStop = () =>
            {
                if (Environment.CurrentManagedThreadId == Volatile.Read(ref blockingThreadId))
                {
                    blockingStopped.Set();
                }
            },
        }.Build();
        rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => Volatile.Write(ref blockingThreadId, Environment.CurrentManagedThreadId)));
        Assert.Contains(blockingThreadId, startedIds);

        // The idle blocking thread exits after its keep-alive and runs the stop hook.
        Bounded.Wait(blockingStopped, "the idle blocking thread to stop after its keep-alive");
    }

    [Fact]
    public void OnThreadParkAndUnpark_MultiThread_RunAroundIdleness()
    {
        using var parked = new SemaphoreSlim(0);
        using var unparked = new SemaphoreSlim(0);
        string workerName = "park-hooks-" + Guid.NewGuid().ToString("N")[..8];
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 1,
            ThreadName = workerName,
            OnThreadPark = () =>
            {
                Assert.Equal(workerName, Thread.CurrentThread.Name);
                parked.Release();
            },
            OnThreadUnpark = () => unparked.Release(),
        }.Build();

        // A fresh runtime has nothing to do: its worker parks.
        Bounded.Wait(parked, "the idle worker to park");

        // Remote work unparks it, and it parks again once idle.
        Bounded.Join(rt.Spawn(() => Task.CompletedTask));
        Bounded.Wait(unparked, "the worker to unpark for new work");
        Bounded.Wait(parked, "the worker to park again");
    }

    [Fact]
    public void OnThreadPark_Hook_SeesNoCurrentTask()
    {
        TaskId? idInHook = new TaskId(0);
        bool armed = false;
        using var parkedAfterTask = new ManualResetEventSlim();
        using var rt = new RuntimeBuilder
        {
            WorkerThreads = 1,
            OnThreadPark = () =>
            {
                if (Volatile.Read(ref armed))
                {
                    idInHook = KyotoTask.CurrentId;
                    parkedAfterTask.Set();
                }
            },
        }.Build();
        Bounded.Join(rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            Volatile.Write(ref armed, true);
        }));
        Bounded.Wait(parkedAfterTask, "the worker to park after the task finished");
        Assert.Null(idInHook);
    }

    [Fact]
    public void Hooks_CurrentThread_RunAroundBlockOnAndIdleness()
    {
        var events = new ConcurrentQueue<string>();
        int blockOnThread = 0;
        using var parked = new ManualResetEventSlim();
        using var rt = new RuntimeBuilder
        {
            Flavor = RuntimeFlavor.CurrentThread,
            OnThreadStart = () => events.Enqueue("start@" + (Environment.CurrentManagedThreadId == Volatile.Read(ref blockOnThread))),
            OnThreadStop = () => events.Enqueue("stop"),
            OnThreadPark = () =>
            {
                events.Enqueue("park");
                parked.Set();
            },
            OnThreadUnpark = () => events.Enqueue("unpark"),
        }.Build();
        var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Completed from another thread once the driver has parked: it parks, then unparks.
        Task completer = Bounded.OnThread(() =>
        {
            Bounded.Wait(parked, "the current-thread driver to park");
            tcs.SetResult(5);
        });
        int result = Bounded.Run(() =>
        {
            Volatile.Write(ref blockOnThread, Environment.CurrentManagedThreadId);
            return rt.BlockOn(async () => await tcs.Task);
        }, "BlockOn");
        Bounded.Wait(completer, "the completer thread");
        Assert.Equal(5, result);
        string[] seen = [.. events];
        Assert.Equal("start@True", seen[0]);
        Assert.Equal("stop", seen[^1]);
        Assert.Contains("park", seen);
        Assert.Contains("unpark", seen);
        Assert.True(Array.IndexOf(seen, "park") < Array.IndexOf(seen, "unpark"));
    }

    // ------------------------------------------------------------------ LIFO slot

    [Fact]
    public void DisableLifoSlot_True_SpawnedTasksAllGoToLocalQueue()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 1, DisableLifoSlot = true }.Build();
        int depth = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            for (int i = 0; i < 3; i++)
            {
                _ = KyotoTask.Spawn(() => Task.CompletedTask);
            }

            return RuntimeHandle.Current.Metrics.GetWorkerLocalQueueDepth(0);
        });
        Assert.Equal(3, depth);
    }

    [Fact]
    public void DisableLifoSlot_False_LastSpawnedTaskWaitsInLifoSlot()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 1, DisableLifoSlot = false }.Build();
        int depth = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            for (int i = 0; i < 3; i++)
            {
                _ = KyotoTask.Spawn(() => Task.CompletedTask);
            }

            return RuntimeHandle.Current.Metrics.GetWorkerLocalQueueDepth(0);
        });
        Assert.Equal(2, depth);
    }

    // ------------------------------------------------------------------ unhandled exceptions

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void OnUnhandledException_TaskThrows_HookGetsTheException(RuntimeFlavor flavor)
    {
        var seen = new ConcurrentQueue<Exception>();
        var boom = new InvalidOperationException("boom");
        using var rt = new RuntimeBuilder { Flavor = flavor, WorkerThreads = 1, OnUnhandledException = seen.Enqueue }.Build();
        rt.BlockOnBounded(async () =>
        {
            JoinHandle h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                throw boom;
            });
            await Assert.ThrowsAsync<JoinException>(async () => await h);
        });
        Assert.Same(boom, Assert.Single(seen));
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void UnhandledExceptionPolicy_Ignore_RuntimeKeepsRunning(RuntimeFlavor flavor)
    {
        using var rt = new RuntimeBuilder { Flavor = flavor, WorkerThreads = 1, UnhandledExceptionPolicy = UnhandledExceptionPolicy.Ignore }.Build();
        rt.BlockOnBounded(async () =>
        {
            JoinHandle bystander = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < 10; i++)
                {
                    await KyotoTask.Yield();
                }
            });
            JoinHandle failing = KyotoTask.Spawn(() => throw new InvalidOperationException("boom"));
            await Assert.ThrowsAsync<JoinException>(async () => await failing);
            await bystander;
        });
        Assert.False(rt.IsShutdown);
        Assert.Equal(3, rt.BlockOnBounded(() => Task.FromResult(3)));
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void UnhandledExceptionPolicy_ShutdownRuntime_TaskThrows_RuntimeShutsDown(RuntimeFlavor flavor)
    {
        using var bystanderAborted = new ManualResetEventSlim();
        using var rt = new RuntimeBuilder { Flavor = flavor, WorkerThreads = 2, UnhandledExceptionPolicy = UnhandledExceptionPolicy.ShutdownRuntime }.Build();
        Kyoto.Sync.OneshotSender<int>? tx = null;
        Exception? rootError = Record.Exception(() => rt.BlockOnBounded(async () =>
        {
            // Parked on a oneshot never sent: only the shutdown ends it.
            (JoinHandle<int> bystander, tx) = await ParkedTask.SpawnAsync(bystanderAborted.Set);
            _ = KyotoTask.Spawn(() => throw new InvalidOperationException("boom"));
            try
            {
                await bystander;
            }
            catch (JoinException)
            {
            }
        }));
        Assert.True(rootError is null or OperationCanceledException, $"unexpected {rootError}");
        Bounded.Wait(bystanderAborted, "the shutdown triggered by the failing task to abort the other task");
        Assert.True(rt.IsShutdown);
        Assert.Throws<RuntimeShutdownException>(() => rt.Spawn(() => Task.CompletedTask));
        GC.KeepAlive(tx);
    }

    [Fact]
    public void OnUnhandledException_HookThrows_RuntimeKeepsRunning()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 1, OnUnhandledException = _ => throw new InvalidOperationException("hook") }.Build();
        rt.BlockOnBounded(async () =>
        {
            JoinHandle failing = KyotoTask.Spawn(() => throw new InvalidOperationException("boom"));
            var e = await Assert.ThrowsAsync<JoinException>(async () => await failing);
            Assert.True(e.IsFaulted);
        });
        Assert.False(rt.IsShutdown);
    }
}

[Collection(EnvironmentCollection.Name)]
public class EnvironmentTests
{
    [Fact]
    public void WorkerThreads_Unset_DefaultsToProcessorCount()
    {
        string? saved = Environment.GetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, null);
            using var rt = new RuntimeBuilder().Build();
            Assert.Equal(Environment.ProcessorCount, rt.Metrics.WorkerCount);
            using var created = Kyoto.Runtime.Create();
            Assert.Equal(Environment.ProcessorCount, created.Metrics.WorkerCount);
            Assert.Equal(RuntimeFlavor.MultiThread, created.Flavor);
        }
        finally
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, saved);
        }
    }

    [Fact]
    public void WorkerThreads_EnvironmentVariableSet_OverridesDefaultButNotExplicitValue()
    {
        string? saved = Environment.GetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, "3");
            using (var rt = new RuntimeBuilder().Build())
            {
                Assert.Equal(3, rt.Metrics.WorkerCount);
            }

            using (var rt = new RuntimeBuilder { WorkerThreads = 1 }.Build())
            {
                Assert.Equal(1, rt.Metrics.WorkerCount);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, saved);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("many")]
    public void WorkerThreads_InvalidEnvironmentVariable_ThrowsArgumentOutOfRangeNamingWorkerThreads(string value)
    {
        string? saved = Environment.GetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, value);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RuntimeBuilder().Build().Dispose());
            Assert.Equal(nameof(RuntimeBuilder.WorkerThreads), e.ParamName);
        }
        finally
        {
            Environment.SetEnvironmentVariable(RuntimeBuilder.WorkerThreadsEnvironmentVariable, saved);
        }
    }
}
