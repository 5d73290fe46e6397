using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Runtime and RuntimeHandle behaviour common to both flavours.</summary>
public abstract class RuntimeTests : RuntimeTestBase
{
    public sealed class MultiThread : RuntimeTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        [Fact]
        public void Spawn_FromOutside_RunsOnNamedWorkerThread()
        {
            string name = "rt-worker-" + Guid.NewGuid().ToString("N")[..8];
            using var rt = NewRuntime(b => b.ThreadName = name);
            JoinHandle<string?> h = rt.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return Thread.CurrentThread.Name;
            });
            Assert.Equal(name, Bounded.Join(h));
        }

        [Fact]
        public void BlockOn_ConcurrentCallersFromManyThreads_AllComplete()
        {
            using var rt = NewRuntime();
            Task<int>[] callers = [.. Enumerable.Range(0, 8).Select(i => Bounded.OnThread(() => rt.BlockOn(async () =>
            {
                for (int k = 0; k < 10; k++)
                {
                    await KyotoTask.Yield();
                }

                return i;
            })))];
            for (int i = 0; i < callers.Length; i++)
            {
                Assert.Equal(i, Bounded.Result(callers[i], $"BlockOn caller {i}"));
            }
        }

        [Fact]
        public void Spawn_ManyTasksFromWorkers_AreSpreadAcrossWorkers()
        {
            using var rt = NewRuntime(b => b.WorkerThreads = 2);
            var threads = new ConcurrentDictionary<int, bool>();
            using var bothSeen = new ManualResetEventSlim();

            // Each task blocks its worker until two distinct workers have run tasks: this only ends if the
            // second worker is woken and steals (or pops) work from the queue the first one filled.
            rt.BlockOnBounded(async () =>
            {
                var handles = new List<JoinHandle>();
                for (int i = 0; i < 16; i++)
                {
                    handles.Add(KyotoTask.Spawn(() =>
                    {
                        threads[Environment.CurrentManagedThreadId] = true;
                        if (threads.Count >= 2)
                        {
                            bothSeen.Set();
                        }

                        bothSeen.Wait(Bounded.Timeout);
                        return Task.CompletedTask;
                    }));
                }

                foreach (JoinHandle h in handles)
                {
                    await h;
                }
            });
            Assert.True(bothSeen.IsSet, "tasks never ran on a second worker");
            Assert.Equal(2, threads.Count);
        }
    }

    public sealed class CurrentThread : RuntimeTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

        [Fact]
        public void BlockOn_RunsTasksOnTheCallingThread()
        {
            using var rt = NewRuntime();
            (int caller, int inRoot, int inChild) = Bounded.Run(() =>
            {
                int caller = Environment.CurrentManagedThreadId;
                return rt.BlockOn(async () =>
                {
                    int root = Environment.CurrentManagedThreadId;
                    int child = await KyotoTask.Spawn(async () =>
                    {
                        await KyotoTask.Yield();
                        return Environment.CurrentManagedThreadId;
                    });
                    return (caller, root, child);
                });
            }, "BlockOn");
            Assert.Equal(caller, inRoot);
            Assert.Equal(caller, inChild);
        }

        [Fact]
        public void Spawn_OutsideBlockOn_WaitsForNextBlockOn()
        {
            using var rt = NewRuntime();
            int ran = 0;
            JoinHandle<int> h = rt.Spawn(async () =>
            {
                Interlocked.Increment(ref ran);
                await KyotoTask.Yield();
                return 9;
            });
            Assert.Equal(1, rt.Metrics.GlobalQueueDepth);
            Assert.False(h.IsFinished);
            Assert.Equal(0, Volatile.Read(ref ran));
            Assert.Equal(9, rt.BlockOnBounded(async () => await h));
            Assert.Equal(1, Volatile.Read(ref ran));
        }

        [Fact]
        public void Spawn_FromOtherThreadWhileDriverParked_WakesDriver()
        {
            using var parked = new ManualResetEventSlim();
            using var rt = NewRuntime(b => b.OnThreadPark = parked.Set);
            var (tx, rx) = Oneshot.Create<int>();
            Task<int> root = Bounded.OnThread(() => rt.BlockOn(async () => await rx));
            Bounded.Wait(parked, "the driver to park");

            // Spawn from this thread (remote) into the runtime that another thread drives.
            JoinHandle remote = rt.Handle.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(11);
            });
            Assert.Equal(11, Bounded.Result(root, "the BlockOn woken by a remote spawn"));
            Assert.True(remote.IsFinished);
        }

        [Fact]
        public void BlockOn_SecondCallerWhileFirstKeepsDriving_ReturnsWhenItsOwnTaskCompletes()
        {
            using var rt = NewRuntime();
            var (tx, rx) = Oneshot.Create<int>();
            using var firstRunning = new ManualResetEventSlim();
            Task<int> first = Bounded.OnThread(() => rt.BlockOn(async () =>
            {
                firstRunning.Set();
                return await rx; // sent only once the second BlockOn has returned
            }));
            try
            {
                Bounded.Wait(firstRunning, "the first BlockOn to run");

                // The first caller's driver runs this task to completion; the second caller must then return
                // even though the first one still holds the core (Tokio's block_on does).
                Task<int> second = Bounded.OnThread(() => rt.BlockOn(async () =>
                {
                    await KyotoTask.Yield();
                    return 2;
                }));
                Assert.Equal(2, Bounded.Result(second, "the second BlockOn, whose task is done", TimeSpan.FromSeconds(10)));
            }
            finally
            {
                tx.TrySend(1);
            }

            Assert.Equal(1, Bounded.Result(first, "first BlockOn"));
        }

        [Fact]
        public void BlockOn_TwoThreadsAtOnce_SecondWaitsForCoreAndBothComplete()
        {
            using var rt = NewRuntime();
            var (tx, rx) = Oneshot.Create<int>();
            using var firstRunning = new ManualResetEventSlim();
            Task<int> first = Bounded.OnThread(() => rt.BlockOn(async () =>
            {
                firstRunning.Set();
                return await rx;
            }));
            Bounded.Wait(firstRunning, "the first BlockOn to run");
            Task<int> second = Bounded.OnThread(() => rt.BlockOn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(1); // the first BlockOn's driver runs this task, or the second one does after it
                return 2;
            }));
            Assert.Equal(1, Bounded.Result(first, "first BlockOn"));
            Assert.Equal(2, Bounded.Result(second, "second BlockOn"));
        }

        [Fact]
        public void BlockOn_Sequentially_ManyTimes_EachReturns()
        {
            using var rt = NewRuntime();
            Bounded.Run(() =>
            {
                for (int i = 0; i < 200; i++)
                {
                    int v = rt.BlockOn(async () =>
                    {
                        await KyotoTask.Yield();
                        return i;
                    });
                    Assert.Equal(i, v);
                }
            }, "200 sequential BlockOn calls");
        }
    }

    // ------------------------------------------------------------------ BlockOn

    [Fact]
    public void BlockOn_AsyncBody_ReturnsValue()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            JoinHandle<int> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return 41;
            });
            return await h + 1;
        });
        Assert.Equal(42, v);
    }

    [Fact]
    public void BlockOn_VoidBody_RunsToCompletion()
    {
        using var rt = NewRuntime();
        int steps = 0;
        rt.BlockOnBounded(async () =>
        {
            for (int i = 0; i < 5; i++)
            {
                await KyotoTask.Yield();
                steps++;
            }
        });
        Assert.Equal(5, steps);
    }

    [Fact]
    public void BlockOn_SynchronousBody_ReturnsValue()
    {
        using var rt = NewRuntime();
        Assert.Equal("sync", rt.BlockOnBounded(() => Task.FromResult("sync")));
    }

    [Fact]
    public void BlockOn_BodyThrowsAfterAwait_RethrowsOriginalException()
    {
        using var rt = NewRuntime();
        var boom = new FormatException("boom");
        var e = Assert.Throws<FormatException>(() => rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            throw boom;
        }));
        Assert.Same(boom, e);
    }

    [Fact]
    public void BlockOn_BodyThrowsSynchronously_RethrowsOriginalException()
    {
        using var rt = NewRuntime();
        var boom = new FormatException("boom");
        var e = Assert.Throws<FormatException>(() => rt.BlockOnBounded(new Func<Task>(() => throw boom)));
        Assert.Same(boom, e);
    }

    [Fact]
    public void BlockOn_BodyReturnsNullTask_ThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        Assert.Throws<InvalidOperationException>(() => rt.BlockOnBounded(() => (Task)null!));
    }

    [Fact]
    public void BlockOn_NullBody_ThrowsArgumentNullException()
    {
        using var rt = NewRuntime();
        Assert.Throws<ArgumentNullException>(() => rt.BlockOn((Func<Task>)null!));
        Assert.Throws<ArgumentNullException>(() => rt.BlockOn((Func<Task<int>>)null!));
    }

    [Fact]
    public void BlockOn_BodyCancels_RethrowsOperationCanceledException()
    {
        using var rt = NewRuntime();
        Assert.ThrowsAny<OperationCanceledException>(() => rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            throw new OperationCanceledException();
        }));
    }

    [Fact]
    public void BlockOn_FromInsideTheRuntime_ThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        Exception? fromRoot = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return Record.Exception(() => rt.BlockOn(() => Task.CompletedTask));
        });
        Assert.IsType<InvalidOperationException>(fromRoot);

        Exception? fromChild = rt.BlockOnBounded(async () => await KyotoTask.Spawn(async () =>
        {
            await KyotoTask.Yield();
            return Record.Exception(() => RuntimeHandle.Current.BlockOn(() => Task.FromResult(1)));
        }));
        Assert.IsType<InvalidOperationException>(fromChild);
    }

    [Fact]
    public void BlockOn_OtherRuntimeFromInsideThisOne_ThrowsInvalidOperationException()
    {
        using var rt = NewRuntime();
        using var other = new RuntimeBuilder { WorkerThreads = 1 }.Build();
        Exception? e = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return Record.Exception(() => other.BlockOn(() => Task.CompletedTask));
        });
        Assert.IsType<InvalidOperationException>(e);
    }

    [Fact]
    public void BlockOn_FromBlockingThreadWhileRootAwaitsIt_Works()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => RuntimeHandle.Current.BlockOn(async () =>
        {
            await KyotoTask.Yield();
            return 12;
        })), TimeSpan.FromSeconds(10));
        Assert.Equal(12, v);
    }

    // ------------------------------------------------------------------ Spawn

    [Fact]
    public void Spawn_FromRuntimeObject_ReturnsHandleWithResult()
    {
        using var rt = NewRuntime();
        JoinHandle<int> h = rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            return 5;
        });
        Assert.Equal(5, rt.BlockOnBounded(async () => await h));
    }

    [Fact]
    public void Spawn_VoidTask_Completes()
    {
        using var rt = NewRuntime();
        int ran = 0;
        JoinHandle h = rt.Spawn(async () =>
        {
            await KyotoTask.Yield();
            Interlocked.Increment(ref ran);
        });
        rt.BlockOnBounded(async () => await h);
        Assert.Equal(1, ran);
        Assert.True(h.IsFinished);
    }

    [Fact]
    public void Spawn_NullBody_ThrowsArgumentNullException()
    {
        using var rt = NewRuntime();
        Assert.Throws<ArgumentNullException>(() => rt.Spawn((Func<Task>)null!));
        Assert.Throws<ArgumentNullException>(() => rt.Spawn((Func<Task<int>>)null!));
        Assert.Throws<ArgumentNullException>(() => rt.Handle.SpawnValueTask((Func<ValueTask>)null!));
        Assert.Throws<ArgumentNullException>(() => rt.Handle.UnsafeSpawn(null!));
        Assert.Throws<ArgumentNullException>(() => rt.SpawnBlocking((Action)null!));
    }

    [Fact]
    public void SpawnValueTask_CompletedSynchronously_ProducesResult()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            int ran = 0;
            JoinHandle done = RuntimeHandle.Current.SpawnValueTask(() =>
            {
                ran++;
                return ValueTask.CompletedTask;
            });
            await done;
            Assert.Equal(1, ran);
            return await RuntimeHandle.Current.SpawnValueTask(() => new ValueTask<int>(21));
        });
        Assert.Equal(21, v);
    }

    [Fact]
    public void SpawnValueTask_Asynchronous_ProducesResult()
    {
        using var rt = NewRuntime();
        int v = rt.BlockOnBounded(async () =>
        {
            await RuntimeHandle.Current.SpawnValueTask(async () => await KyotoTask.Yield());
            return await RuntimeHandle.Current.SpawnValueTask(async ValueTask<int> () =>
            {
                await KyotoTask.Yield();
                return 22;
            });
        });
        Assert.Equal(22, v);
    }

    [Fact]
    public void SpawnValueTask_Throws_JoinExceptionIsFaulted()
    {
        using var rt = NewRuntime();
        var boom = new FormatException();
        JoinException e = rt.BlockOnBounded(async () =>
        {
            JoinHandle<int> h = RuntimeHandle.Current.SpawnValueTask<int>(async () =>
            {
                await KyotoTask.Yield();
                throw boom;
            });
            return await Assert.ThrowsAsync<JoinException>(async () => await h);
        });
        Assert.True(e.IsFaulted);
        Assert.Same(boom, e.InnerException);
    }

    [Fact]
    public void UnsafeSpawn_RunsTask()
    {
        using var rt = NewRuntime();
        int v = 0;
        rt.BlockOnBounded(async () =>
        {
            await KyotoTask.UnsafeSpawn(async () =>
            {
                await KyotoTask.Yield();
                v = 3;
            });
        });
        Assert.Equal(3, v);
    }

    [Fact]
    public void KyotoTaskSpawn_InsideTask_SpawnsOnSameRuntime()
    {
        using var rt = NewRuntime();
        bool same = rt.BlockOnBounded(async () =>
        {
            RuntimeHandle outer = RuntimeHandle.Current;
            RuntimeHandle? inner = await KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return RuntimeHandle.TryCurrent;
            });
            return ReferenceEquals(outer, inner);
        });
        Assert.True(same);
    }

    [Fact]
    public void Spawn_TenThousandTasks_AllComplete()
    {
        using var rt = NewRuntime();
        long sum = rt.BlockOnBounded(async () =>
        {
            var handles = new JoinHandle<int>[10_000];
            for (int i = 0; i < handles.Length; i++)
            {
                int n = i;
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    if (n % 3 == 0)
                    {
                        await KyotoTask.Yield();
                    }

                    return n;
                });
            }

            long total = 0;
            foreach (JoinHandle<int> h in handles)
            {
                total += await h;
            }

            return total;
        });
        Assert.Equal(10_000L * 9_999 / 2, sum);
    }

    [Fact]
    public void Spawn_ChainOfSpawns_Completes()
    {
        using var rt = NewRuntime();
        int depth = rt.BlockOnBounded(() => Chain(0));
        Assert.Equal(1_000, depth);

        static async Task<int> Chain(int n)
        {
            if (n == 1_000)
            {
                return n;
            }

            return await KyotoTask.Spawn(() => Chain(n + 1));
        }
    }

    [Fact]
    public void Spawn_OntoOtherRuntime_JoinAcrossRuntimes()
    {
        using var rt = NewRuntime();
        using var other = new RuntimeBuilder { WorkerThreads = 1 }.Build();
        (bool ranOnOther, int value) = rt.BlockOnBounded(async () =>
        {
            JoinHandle<(bool, int)> h = other.Handle.Spawn(async () =>
            {
                await KyotoTask.Yield();
                return (ReferenceEquals(RuntimeHandle.Current, other.Handle), 8);
            });
            (bool onOther, int v) = await h;
            Assert.Same(rt.Handle, RuntimeHandle.Current); // resumed on the awaiting runtime
            return (onOther, v);
        });
        Assert.True(ranOnOther);
        Assert.Equal(8, value);
    }

    // ------------------------------------------------------------------ Handle.Current, Enter

    [Fact]
    public void HandleCurrent_InsideTask_IsTheRuntimesHandle()
    {
        using var rt = NewRuntime();
        RuntimeHandle seen = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            return RuntimeHandle.Current;
        });
        Assert.Same(rt.Handle, seen);
    }

    [Fact]
    public void HandleCurrent_InsideBlockingTask_IsTheRuntimesHandle()
    {
        using var rt = NewRuntime();
        RuntimeHandle? seen = rt.BlockOnBounded(async () => await KyotoTask.SpawnBlocking(() => RuntimeHandle.TryCurrent));
        Assert.Same(rt.Handle, seen);
    }

    [Fact]
    public void HandleCurrent_OutsideRuntime_TryCurrentIsNullAndCurrentThrows()
    {
        using var rt = NewRuntime();
        Bounded.Run(() =>
        {
            Assert.Null(RuntimeHandle.TryCurrent);
            Assert.Throws<InvalidOperationException>(() => RuntimeHandle.Current);
        }, "checks on a plain thread");
    }

    [Fact]
    public void KyotoTaskSpawn_OutsideRuntime_ThrowsInvalidOperationException()
    {
        Bounded.Run(() =>
        {
            Assert.Throws<InvalidOperationException>(() => KyotoTask.Spawn(() => Task.CompletedTask));
            Assert.Throws<InvalidOperationException>(() => KyotoTask.Spawn(() => Task.FromResult(1)));
            Assert.Throws<InvalidOperationException>(() => KyotoTask.UnsafeSpawn(() => Task.CompletedTask));
            Assert.Throws<InvalidOperationException>(() => KyotoTask.SpawnBlocking(() => { }));
            Assert.Throws<InvalidOperationException>(() => new JoinSet<int>().Spawn(() => Task.FromResult(1)));
        }, "checks on a plain thread");
    }

    [Fact]
    public void Enter_FromPlainThread_MakesRuntimeCurrentUntilDisposed()
    {
        using var rt = NewRuntime();
        JoinHandle<int> h = Bounded.Run(() =>
        {
            JoinHandle<int> spawned;
            using (rt.Enter())
            {
                Assert.Same(rt.Handle, RuntimeHandle.Current);
                spawned = KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    return 4;
                });
            }

            Assert.Null(RuntimeHandle.TryCurrent);
            return spawned;
        }, "Enter on a plain thread");
        Assert.Equal(4, rt.BlockOnBounded(async () => await h));
    }

    [Fact]
    public void Enter_Nested_RestoresPreviousRuntimeOnDispose()
    {
        using var rt = NewRuntime();
        using var other = new RuntimeBuilder { WorkerThreads = 1 }.Build();
        Bounded.Run(() =>
        {
            using (rt.Enter())
            {
                using (other.Handle.Enter())
                {
                    Assert.Same(other.Handle, RuntimeHandle.Current);
                }

                Assert.Same(rt.Handle, RuntimeHandle.Current);
            }

            Assert.Null(RuntimeHandle.TryCurrent);
        }, "nested Enter");
    }

    [Fact]
    public void Metrics_FromRuntimeAndHandle_AgreeOnWorkerCount()
    {
        using var rt = NewRuntime();
        Assert.Equal(rt.Metrics.WorkerCount, rt.Handle.Metrics.WorkerCount);
        Assert.Equal(IsMultiThread ? WorkerThreads : 1, rt.Metrics.WorkerCount);
        Assert.Equal(Flavor, rt.Flavor);
    }
}
