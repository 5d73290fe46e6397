using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// Waiting on a warm primitive allocates nothing (DESIGN.md: zero bytes per send, receive, acquire and
/// release). Measured on a current-thread runtime, where every task runs on the test thread, so the thread's
/// allocation counter sees all of the workload and nothing else.
/// </summary>
public sealed class AllocationTests
{
    private const int Warmup = 2_000;
    private const int Rounds = 20_000;

    // No xunit assertion inside the measured loops: Assert.Equal allocates. Generous against noise (a JIT tier-up or a stray lazy init may allocate a little once), yet far below one
    // allocation per round: 20,000 rounds of even the smallest object would be 480,000 bytes.
    private const long Budget = 16 * 1024;

    private static long Measure(Func<int, Task> workload)
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        return rt.BlockOnBounded(async () =>
        {
            await workload(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await workload(Rounds);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
    }

    private static void AssertNearZero(long bytes, string what) =>
        Assert.True(bytes < Budget, $"{what}: {bytes} bytes allocated over {Rounds} rounds ({(double)bytes / Rounds:F1} B per round)");

    [Fact]
    public void BclTaskYield_InATask_PostsWithoutAllocating()
    {
        // await Task.Yield() posts its continuation to the task's SynchronizationContext: the runtime's pooled work
        // item carries it (a BCL awaitable's continuation inside a task costs no Kyoto allocation once warm).
        long bytes = Measure(async n =>
        {
            for (int i = 0; i < n; i++)
            {
                await Task.Yield();
            }
        });
        AssertNearZero(bytes, "Task.Yield inside a Kyoto task");
    }

    [Fact]
    public void MpscBounded_SendAndReceiveWithWaits_AllocateNothing()
    {
        var (tx, rx) = Mpsc.CreateBounded<int>(1);
        var (backTx, backRx) = Mpsc.CreateBounded<int>(1);
        long bytes = 0;
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        bytes = rt.BlockOnBounded(async () =>
        {
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                await foreach (int v in rx)
                {
                    await backTx.SendAsync(v);
                }
            });

            async Task Rounds(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    await tx.SendAsync(i);
                    if (await backRx.RecvAsync() != i)
                    {
                        throw new InvalidOperationException($"round {i}: wrong value");
                    }
                }
            }

            await Rounds(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Rounds(AllocationTests.Rounds);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            tx.Dispose();
            await echo;
            return used;
        });
        AssertNearZero(bytes, "bounded mpsc ping-pong");
    }

    [Fact]
    public void MpscUnbounded_SendAndReceiveWithWaits_AllocateNothing()
    {
        var (tx, rx) = Mpsc.CreateUnbounded<int>();
        var (backTx, backRx) = Mpsc.CreateUnbounded<int>();
        AssertNearZero(Measure(async n =>
        {
            JoinHandle echo = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < n; i++)
                {
                    backTx.Send(await rx.RecvAsync());
                }
            });
            for (int i = 0; i < n; i++)
            {
                tx.Send(i);
                if (await backRx.RecvAsync() != i)
                {
                    throw new InvalidOperationException($"round {i}: wrong value");
                }
            }

            await echo;
        }), "unbounded mpsc ping-pong");
    }

    [Fact]
    public void Semaphore_ContendedAcquireAndRelease_AllocateNothing()
    {
        var semaphore = new AsyncSemaphore(1);
        AssertNearZero(Measure(async n =>
        {
            async Task Contender()
            {
                for (int i = 0; i < n; i++)
                {
                    using (await semaphore.AcquireAsync())
                    {
                        await KyotoTask.Yield();
                    }
                }
            }

            JoinHandle other = KyotoTask.Spawn(Contender);
            await Contender();
            await other;
        }), "contended semaphore");
    }

    [Fact]
    public void MutexAndRwLock_ContendedLocks_AllocateNothing()
    {
        var mutex = new AsyncMutex<int>(0);
        var rw = new AsyncRwLock<int>(0);
        AssertNearZero(Measure(async n =>
        {
            async Task Contender()
            {
                for (int i = 0; i < n; i++)
                {
                    using (MutexGuard<int> g = await mutex.LockAsync())
                    {
                        g.Value++;
                        await KyotoTask.Yield();
                    }

                    using (WriteGuard<int> w = await rw.WriteAsync())
                    {
                        w.Value++;
                        await KyotoTask.Yield();
                    }

                    using (await rw.ReadAsync())
                    {
                        await KyotoTask.Yield();
                    }
                }
            }

            JoinHandle other = KyotoTask.Spawn(Contender);
            await Contender();
            await other;
        }), "contended mutex and rwlock");
    }

    [Fact]
    public void Notify_PingPong_AllocatesNothing()
    {
        var ping = new Notify();
        var pong = new Notify();
        AssertNearZero(Measure(async n =>
        {
            JoinHandle ponger = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < n; i++)
                {
                    await ping.NotifiedAsync();
                    pong.NotifyOne();
                }
            });
            for (int i = 0; i < n; i++)
            {
                ping.NotifyOne();
                await pong.NotifiedAsync();
            }

            await ponger;
        }), "notify ping-pong");
    }
}
