using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Sync;

/// <summary>AsyncBarrier: one leader per generation, reuse across generations, cancelled waits withdrawn.</summary>
public abstract class BarrierTests : RuntimeTestBase
{
    public sealed class MultiThread : BarrierTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : BarrierTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Yields until <paramref name="condition"/> holds (bounded), so a test can wait for tasks to park.</summary>
    internal static async Task Until(Func<bool> condition, string what)
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
    public void WaitAsync_SingleParticipant_EveryCallerIsLeader()
    {
        using var rt = NewRuntime();
        (bool a, bool b, long gen) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(1);
            bool first = (await barrier.WaitAsync()).IsLeader;
            bool second = (await barrier.WaitAsync()).IsLeader;
            return (first, second, barrier.Generation);
        });
        Assert.True(a);
        Assert.True(b);
        Assert.Equal(2, gen);
    }

    [Fact]
    public void WaitAsync_NoneReleasedBeforeLastArrives_ThenAllReleasedWithOneLeader()
    {
        const int N = 5;
        using var rt = NewRuntime();
        (int releasedEarly, bool lastIsLeader, int leaders, int released) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(N);
            int done = 0;
            var handles = new JoinHandle<bool>[N - 1];
            for (int i = 0; i < N - 1; i++)
            {
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    BarrierWaitResult r = await barrier.WaitAsync();
                    Interlocked.Increment(ref done);
                    return r.IsLeader;
                });
            }

            await Until(() => barrier.WaiterCount == N - 1, "the first N-1 callers to park");
            await KyotoTask.Yield();
            int early = Volatile.Read(ref done);
            BarrierWaitResult last = await barrier.WaitAsync();
            int leaderCount = last.IsLeader ? 1 : 0;
            foreach (JoinHandle<bool> h in handles)
            {
                if (await h)
                {
                    leaderCount++;
                }
            }

            return (early, last.IsLeader, leaderCount, Volatile.Read(ref done));
        });
        Assert.Equal(0, releasedEarly);
        Assert.True(lastIsLeader, "the last caller to arrive is the leader");
        Assert.Equal(1, leaders);
        Assert.Equal(N - 1, released);
    }

    [Fact]
    public void WaitAsync_ManyGenerations_ExactlyOneLeaderEachAndNobodyRunsAhead()
    {
        const int N = 4;
        const int Generations = 50;
        using var rt = NewRuntime();
        (int leaders, int violations) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(N);
            var arrivals = new int[Generations];
            int leaderCount = 0;
            int bad = 0;
            var handles = new JoinHandle[N];
            for (int t = 0; t < N; t++)
            {
                handles[t] = KyotoTask.Spawn(async () =>
                {
                    for (int g = 0; g < Generations; g++)
                    {
                        Interlocked.Increment(ref arrivals[g]);
                        BarrierWaitResult r = await barrier.WaitAsync();
                        if (Volatile.Read(ref arrivals[g]) != N)
                        {
                            Interlocked.Increment(ref bad); // released before everyone of its generation arrived
                        }

                        if (r.IsLeader)
                        {
                            Interlocked.Increment(ref leaderCount);
                        }
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return (leaderCount, bad);
        });
        Assert.Equal(Generations, leaders);
        Assert.Equal(0, violations);
    }

    [Fact]
    public void WaitAsync_AlreadyCancelledToken_ThrowsWithoutArriving()
    {
        using var rt = NewRuntime();
        (Exception? e, int waiters) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(2);
            Exception? ex = await Record.ExceptionAsync(async () => await barrier.WaitAsync(new CancellationToken(true)));
            return (ex, barrier.WaiterCount);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void WaitAsync_CancelledWhileWaiting_WithdrawsArrival()
    {
        using var rt = NewRuntime();
        (Exception? e, int afterCancel, bool leaderIsThird, long gen) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(3);
            using var cts = new CancellationTokenSource();
            ValueTask<BarrierWaitResult> cancelled = barrier.WaitAsync(cts.Token);
            JoinHandle<bool> other = KyotoTask.Spawn(async () => (await barrier.WaitAsync()).IsLeader);
            await Until(() => barrier.WaiterCount == 2, "two callers to park");
            cts.Cancel();
            Exception? ex = await Record.ExceptionAsync(async () => await cancelled);
            int count = barrier.WaiterCount;

            // The cancelled caller does not count: one more arrival is not enough to release.
            JoinHandle<bool> second = KyotoTask.Spawn(async () => (await barrier.WaitAsync()).IsLeader);
            await Until(() => barrier.WaiterCount == 2, "the replacement caller to park");
            Assert.Equal(0, barrier.Generation);
            bool third = (await barrier.WaitAsync()).IsLeader;
            Assert.False(await other);
            Assert.False(await second);
            return (ex, count, third, barrier.Generation);
        });
        Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(1, afterCancel);
        Assert.True(leaderIsThird);
        Assert.Equal(1, gen);
    }

    [Fact]
    public void WaitAsync_CancelledAfterRelease_StillSucceeds()
    {
        using var rt = NewRuntime();
        bool ok = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(2);
            using var cts = new CancellationTokenSource();
            ValueTask<BarrierWaitResult> waiting = barrier.WaitAsync(cts.Token);
            Assert.True((await barrier.WaitAsync()).IsLeader);
            cts.Cancel(); // late: the generation is already released
            BarrierWaitResult r = await waiting;
            return !r.IsLeader && barrier.WaiterCount == 0;
        });
        Assert.True(ok);
    }

    [Fact]
    public void WaitAsync_WaitingTaskAborted_WithdrawsArrival()
    {
        using var rt = NewRuntime();
        (JoinException e, int waiters) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(2);
            JoinHandle<BarrierWaitResult> h = KyotoTask.Spawn(async () => await barrier.WaitAsync());
            await Until(() => barrier.WaiterCount == 1, "the waiter to park");
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (ex, barrier.WaiterCount);
        });
        Assert.True(e.IsCancelled);
        Assert.Equal(0, waiters);
    }

    [Fact]
    public void WaitAsync_ManyCancelledWaits_LeaveNoWaiter()
    {
        using var rt = NewRuntime();
        (int waiters, int cancelled) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(1000);
            int count = 0;
            for (int round = 0; round < 200; round++)
            {
                using var cts = new CancellationTokenSource();
                var pending = new ValueTask<BarrierWaitResult>[5];
                for (int i = 0; i < pending.Length; i++)
                {
                    pending[i] = barrier.WaitAsync(cts.Token);
                }

                Assert.Equal(pending.Length, barrier.WaiterCount);
                cts.Cancel();
                foreach (ValueTask<BarrierWaitResult> p in pending)
                {
                    if (await Record.ExceptionAsync(async () => await p) is OperationCanceledException)
                    {
                        count++;
                    }
                }
            }

            return (barrier.WaiterCount, count);
        });
        Assert.Equal(0, waiters);
        Assert.Equal(1000, cancelled);
    }
}

/// <summary>
/// A warm barrier allocates nothing per generation (pooled waiters, and the leader's coop yield through a pooled
/// waiter too). Measured on a current-thread runtime, where every task runs on the test thread.
/// </summary>
public sealed class BarrierAllocationTests
{
    [Fact]
    public void WaitAsync_ManyGenerationsWhenWarm_AllocateNothing()
    {
        const int Warmup = 2_000;
        const int Rounds = 20_000;
        var barrier = new AsyncBarrier(2);
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        (long bytes, long generations) = rt.BlockOnBounded(async () =>
        {
            async Task Party(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    await barrier.WaitAsync();
                }
            }

            async Task Run(int n)
            {
                JoinHandle other = KyotoTask.Spawn(() => Party(n));
                await Party(n);
                await other;
            }

            await Run(Warmup);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Run(Rounds);
            return (GC.GetAllocatedBytesForCurrentThread() - before, barrier.Generation);
        });
        Assert.Equal(Warmup + Rounds, generations);

        // The spawn of the second party allocates its task; far below one allocation per generation.
        Assert.True(bytes < 16 * 1024, $"{bytes} bytes allocated over {Rounds} generations");
    }
}

/// <summary>AsyncBarrier behaviour that needs no runtime.</summary>
public class BarrierWithoutRuntimeTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Ctor_FewerThanOneParticipant_Throws(int participants)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncBarrier(participants));
    }

    [Fact]
    public void WaitAsync_FromThreadPool_ReleasesAll()
    {
        var barrier = new AsyncBarrier(3);
        Task<bool>[] waits = Enumerable.Range(0, 3).Select(_ => Task.Run(async () => (await barrier.WaitAsync()).IsLeader)).ToArray();
        Assert.True(Bounded.Finishes(Task.WhenAll(waits)));
        Assert.Equal(1, waits.Count(t => t.Result));
        Assert.Equal(3, barrier.Participants);
    }

    [Fact]
    public void BarrierWaitResult_Equality()
    {
        var leader = new BarrierWaitResult(isLeader: true);
        Assert.Equal(leader, new BarrierWaitResult(isLeader: true));
        Assert.NotEqual(leader, new BarrierWaitResult(isLeader: false));
        Assert.True(leader == new BarrierWaitResult(true));
    }
}
