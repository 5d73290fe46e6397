using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>
/// The coop budget reaches the sync primitives: a task whose waits are all ready at once (a full channel, a
/// free semaphore, a stored permit) still yields every so often, so another task on the same worker runs.
/// On a current-thread runtime the other task can run only when the busy task yields.
/// </summary>
public sealed class SyncCoopTests
{
    private const int Operations = 1_000;

    /// <summary>Runs <paramref name="busy"/> beside a task that records how far <paramref name="busy"/> had got when it ran.</summary>
    private static int ProgressWhenOtherTaskRan(Func<Func<int>, Task> busy)
    {
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        return rt.BlockOnBounded(async () =>
        {
            int progress = 0;
            int seen = -1;
            JoinHandle other = KyotoTask.Spawn(() =>
            {
                seen = Volatile.Read(ref progress);
                return Task.CompletedTask;
            });
            await busy(() => ++progress);
            await other;
            return seen;
        });
    }

    [Fact]
    public void MpscReceive_OfReadyValues_YieldsWhenBudgetIsSpent()
    {
        int seen = ProgressWhenOtherTaskRan(async step =>
        {
            var (tx, rx) = Mpsc.CreateUnbounded<int>();
            for (int i = 0; i < Operations; i++)
            {
                tx.Send(i);
            }

            for (int i = 0; i < Operations; i++)
            {
                Assert.Equal(i, await rx.RecvAsync());
                step();
            }
        });
        Assert.InRange(seen, 0, Operations - 1);
    }

    [Fact]
    public void BoundedSend_WithRoom_YieldsWhenBudgetIsSpent()
    {
        int seen = ProgressWhenOtherTaskRan(async step =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(Operations);
            for (int i = 0; i < Operations; i++)
            {
                await tx.SendAsync(i);
                step();
            }

            Assert.Equal(Operations, rx.Count);
        });
        Assert.InRange(seen, 0, Operations - 1);
    }

    [Fact]
    public void SemaphoreAcquire_WhenFree_YieldsWhenBudgetIsSpent()
    {
        var semaphore = new AsyncSemaphore(1);
        int seen = ProgressWhenOtherTaskRan(async step =>
        {
            for (int i = 0; i < Operations; i++)
            {
                using (await semaphore.AcquireAsync())
                {
                    step();
                }
            }
        });
        Assert.InRange(seen, 0, Operations - 1);
        Assert.Equal(1, semaphore.AvailablePermits);
    }

    [Fact]
    public void NotifiedWithStoredPermit_YieldsWhenBudgetIsSpent()
    {
        var notify = new Notify();
        int seen = ProgressWhenOtherTaskRan(async step =>
        {
            for (int i = 0; i < Operations; i++)
            {
                notify.NotifyOne();
                await notify.NotifiedAsync();
                step();
            }
        });
        Assert.InRange(seen, 0, Operations - 1);
    }
}
