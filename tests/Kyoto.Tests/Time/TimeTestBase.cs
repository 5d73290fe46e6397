using Kyoto.Tasks;
using Kyoto.Time;

namespace Kyoto.Tests.Time;

/// <summary>Time behaviour shared by both flavours; the runtime's clock starts paused unless a test says otherwise.</summary>
public abstract class TimeTestBase : RuntimeTestBase
{
    protected Runtime NewPausedRuntime() => NewRuntime(b => b.StartPaused = true);

    [Fact]
    public void Sleep_PausedClock_CompletesAtExactVirtualDeadlineWithoutWaiting()
    {
        using Runtime rt = NewPausedRuntime();
        TimeSpan elapsed = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            await KyotoTime.Sleep(TimeSpan.FromHours(5));
            return Instant.Now - start;
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromHours(5), elapsed);
    }

    [Fact]
    public void Sleep_ManyTasks_CompleteInDeadlineOrder()
    {
        using Runtime rt = NewPausedRuntime();
        List<int> order = rt.BlockOnBounded(async () =>
        {
            var done = new List<int>();
            var handles = new List<JoinHandle>();
            var rng = new Random(7);
            int[] minutes = Enumerable.Range(1, 200).OrderBy(_ => rng.Next()).ToArray();
            foreach (int m in minutes)
            {
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    await KyotoTime.Sleep(TimeSpan.FromMinutes(m));
                    lock (done)
                    {
                        done.Add(m);
                    }
                }));
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return done;
        });
        Assert.Equal(Enumerable.Range(1, 200), order);
    }

    [Fact]
    public void Sleep_ZeroOrNegative_CompletesAtOnce()
    {
        using Runtime rt = NewPausedRuntime();
        bool[] immediate = rt.BlockOnBounded(() =>
        {
            Sleep zero = KyotoTime.Sleep(TimeSpan.Zero);
            Sleep negative = KyotoTime.Sleep(TimeSpan.FromSeconds(-3));
            Sleep past = KyotoTime.SleepUntil(Instant.Now - TimeSpan.FromSeconds(1));
            return Task.FromResult(new[] { zero.IsCompleted, negative.IsCompleted, past.IsCompleted });
        });
        Assert.All(immediate, Assert.True);
    }

    [Fact]
    public void Sleep_Cancelled_ThrowsAndLeavesNoTimer()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var cts = new CancellationTokenSource();
            Sleep sleep = KyotoTime.Sleep(TimeSpan.FromDays(1), cts.Token);
            Assert.Equal(1, rt.Scheduler.Time.TimerCount);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await sleep);
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        });
    }

    [Fact]
    public void Sleep_AlreadyCancelledToken_ThrowsWithoutArmingATimer()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            Sleep sleep = KyotoTime.Sleep(TimeSpan.FromDays(1), new CancellationToken(canceled: true));
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await sleep);
        });
    }

    [Fact]
    public void Sleep_TaskAborted_ThrowsTaskAbortedAndLeavesNoTimer()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            var parked = new TaskCompletionSource();
            JoinHandle sleeper = KyotoTask.Spawn(async () =>
            {
                Sleep sleep = KyotoTime.Sleep(TimeSpan.FromDays(1));
                parked.SetResult();
                await sleep;
            });
            await parked.Task;
            await KyotoTask.Yield(); // let the sleeper park on its sleep
            sleeper.Abort();
            var e = await Assert.ThrowsAsync<JoinException>(async () => await sleeper);
            Assert.True(e.IsCancelled);
            Assert.IsType<TaskAbortedException>(e.InnerException);
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        });
    }

    [Fact]
    public void Sleep_ResetEarlierAndLater_FiresAtTheNewDeadline()
    {
        using Runtime rt = NewPausedRuntime();
        (TimeSpan Earlier, TimeSpan Later) result = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            Sleep a = KyotoTime.Sleep(TimeSpan.FromHours(10));
            Assert.True(a.Reset(start + TimeSpan.FromMinutes(3)));
            await a;
            TimeSpan earlier = Instant.Now - start;

            Instant start2 = Instant.Now;
            Sleep b = KyotoTime.Sleep(TimeSpan.FromSeconds(1));
            Assert.True(b.Reset(start2 + TimeSpan.FromMinutes(42)));
            await b;
            return (earlier, Instant.Now - start2);
        });
        Assert.Equal(TimeSpan.FromMinutes(3), result.Earlier);
        Assert.Equal(TimeSpan.FromMinutes(42), result.Later);
    }

    [Fact]
    public void Sleep_ResetAfterCompletion_ReturnsFalse()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(() =>
        {
            Sleep done = KyotoTime.Sleep(TimeSpan.Zero);
            Assert.False(done.Reset(Instant.Now + TimeSpan.FromSeconds(5)));
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void Sleep_CancelledManyTimes_LeavesNothingInTheWheel()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var cts = new CancellationTokenSource();
            for (int i = 0; i < 100_000; i++)
            {
                Sleep s = KyotoTime.Sleep(TimeSpan.FromSeconds(1 + (i % 1000)), cts.Token);
                if (i % 2 == 0)
                {
                    // Abandon half of them pending, cancel them all at the end.
                    continue;
                }

                Assert.True(s.Reset(Instant.Now + TimeSpan.FromDays(1)));
            }

            Assert.Equal(100_000, rt.Scheduler.Time.TimerCount);
            cts.Cancel();
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
            await Task.CompletedTask;
        }, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Interval_FirstTickIsImmediateThenEveryPeriod()
    {
        using Runtime rt = NewPausedRuntime();
        double[] ticks = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            using Interval interval = KyotoTime.Interval(TimeSpan.FromSeconds(10));
            var list = new List<double>();
            for (int i = 0; i < 4; i++)
            {
                Instant tick = await interval.TickAsync();
                list.Add((tick - start).TotalSeconds);
                Assert.Equal(tick, Instant.Now);
            }

            return list.ToArray();
        });
        Assert.Equal([0, 10, 20, 30], ticks);
    }

    [Theory]
    [InlineData(MissedTickBehavior.Burst, new double[] { 0, 10, 20, 30, 40, 50 }, new double[] { 0, 35, 35, 35, 40, 50 })]
    [InlineData(MissedTickBehavior.Delay, new double[] { 0, 10, 45, 55, 65, 75 }, new double[] { 0, 35, 45, 55, 65, 75 })]
    [InlineData(MissedTickBehavior.Skip, new double[] { 0, 10, 40, 50, 60, 70 }, new double[] { 0, 35, 40, 50, 60, 70 })]
    public void Interval_MissedTicks_FollowTheBehaviourTable(MissedTickBehavior behavior, double[] expectedTicks, double[] expectedTaken)
    {
        // Period 10 s; the consumer takes the first tick, then is busy for 35 s before ticking again.
        using Runtime rt = NewPausedRuntime();
        (double[] Ticks, double[] Taken) result = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            using Interval interval = KyotoTime.Interval(TimeSpan.FromSeconds(10));
            interval.MissedTickBehavior = behavior;
            var ticks = new List<double>();
            var taken = new List<double>();
            for (int i = 0; i < 6; i++)
            {
                if (i == 1)
                {
                    await KyotoTime.Sleep(TimeSpan.FromSeconds(35));
                }

                Instant tick = await interval.TickAsync();
                ticks.Add((tick - start).TotalSeconds);
                taken.Add((Instant.Now - start).TotalSeconds);
            }

            return (ticks.ToArray(), taken.ToArray());
        });
        Assert.Equal(expectedTicks, result.Ticks);
        Assert.Equal(expectedTaken, result.Taken);
    }

    [Fact]
    public void Interval_CancelledTick_LosesNoTick()
    {
        using Runtime rt = NewPausedRuntime();
        double[] ticks = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            using Interval interval = KyotoTime.Interval(TimeSpan.FromSeconds(10));
            await interval.TickAsync();
            using var cts = new CancellationTokenSource();
            ValueTask<Instant> pending = interval.TickAsync(cts.Token);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            Instant next = await interval.TickAsync();
            Instant after = await interval.TickAsync();
            return new[] { (next - start).TotalSeconds, (after - start).TotalSeconds };
        });
        Assert.Equal([10, 20], ticks);
    }

    [Fact]
    public void Interval_NonPositivePeriod_Throws()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(() =>
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => KyotoTime.Interval(TimeSpan.Zero));
            Assert.Equal("period", e.ParamName);
            Assert.Throws<ArgumentOutOfRangeException>(() => KyotoTime.Interval(TimeSpan.FromSeconds(-1)));
            return Task.CompletedTask;
        });
    }

    [Fact]
    public void Interval_Reset_RestartsTheSchedule()
    {
        using Runtime rt = NewPausedRuntime();
        double[] ticks = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            using Interval interval = KyotoTime.Interval(TimeSpan.FromSeconds(10));
            await interval.TickAsync();
            await KyotoTime.Sleep(TimeSpan.FromSeconds(3));
            interval.Reset();
            Instant a = await interval.TickAsync();
            interval.ResetImmediately();
            Instant b = await interval.TickAsync();
            return new[] { (a - start).TotalSeconds, (b - start).TotalSeconds };
        });
        Assert.Equal([13, 13], ticks);
    }

    [Fact]
    public void Interval_ResetByAnotherTaskAsTheTickFires_NeverReturnsAFutureTick()
    {
        // A waits for the tick due at 100 ms; B's sleep fires in the same batch and resets the interval. Whichever
        // runs first, A's tick is never in the future: the reset either moves the pending tick (A waits until
        // 200 ms) or, if the tick's sleep already fired, restarts the schedule after it.
        using Runtime rt = NewPausedRuntime();
        (double tick, double resumedAt, double next) = rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            using Interval interval = KyotoTime.Interval(TimeSpan.FromMilliseconds(100));
            await interval.TickAsync(); // at 0
            JoinHandle b = KyotoTask.Spawn(async () =>
            {
                await KyotoTime.Sleep(TimeSpan.FromMilliseconds(100));
                interval.Reset();
            });
            await KyotoTask.Yield(); // B's sleep is registered first, so it fires (and B runs) first in the batch
            Instant got = await interval.TickAsync();
            double resumed = (Instant.Now - start).TotalMilliseconds;
            await b;
            Instant following = await interval.TickAsync();
            return ((got - start).TotalMilliseconds, resumed, (following - start).TotalMilliseconds);
        });
        Assert.True(tick <= resumedAt, $"the tick at {tick} ms was returned at {resumedAt} ms, before it was due");
        Assert.Contains(tick, new[] { 100.0, 200.0 });
        Assert.Equal(tick == 100.0 ? 200.0 : 300.0, next); // one period after the reset, or after the moved tick
    }

    [Fact]
    public void Timeout_OperationWins_ReturnsItsValue()
    {
        using Runtime rt = NewPausedRuntime();
        int value = rt.BlockOnBounded(async () => await KyotoTime.Timeout(TimeSpan.FromSeconds(5), async ct =>
        {
            await KyotoTime.Sleep(TimeSpan.FromSeconds(1), ct);
            return 7;
        }));
        Assert.Equal(7, value);
    }

    [Fact]
    public void Timeout_DeadlineWins_ThrowsElapsedAndCancelsTheOperation()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            CancellationToken seen = default;
            Instant start = Instant.Now;
            var e = await Assert.ThrowsAsync<ElapsedException>(async () => await KyotoTime.Timeout(TimeSpan.FromSeconds(5), async ct =>
            {
                seen = ct;
                await KyotoTime.Sleep(TimeSpan.FromMinutes(1), ct);
                return 1;
            }));
            Assert.Equal(TimeSpan.FromSeconds(5), e.Timeout);
            Assert.IsAssignableFrom<TimeoutException>(e);
            Assert.True(seen.IsCancellationRequested);
            Assert.Equal(TimeSpan.FromSeconds(5), Instant.Now - start);
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        });
    }

    [Fact]
    public void Timeout_SynchronousOperation_ArmsNoTimer()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            int v = await KyotoTime.Timeout(TimeSpan.FromSeconds(5), _ => new ValueTask<int>(3));
            Assert.Equal(3, v);
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        });
    }

    [Fact]
    public void Timeout_CallerTokenCancelled_ThrowsOperationCanceledNotElapsed()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var cts = new CancellationTokenSource();
            ValueTask<int> pending = KyotoTime.Timeout(TimeSpan.FromHours(1), async ct =>
            {
                await KyotoTime.Sleep(TimeSpan.FromMinutes(10), ct);
                return 1;
            }, cts.Token);
            cts.Cancel();
            var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            Assert.IsNotType<ElapsedException>(e);
        });
    }

    [Fact]
    public void Timeout_OperationIgnoresTokenAndFinishesLate_ResultWins()
    {
        using Runtime rt = NewPausedRuntime();
        int v = rt.BlockOnBounded(async () => await KyotoTime.Timeout(TimeSpan.FromSeconds(1), async _ =>
        {
            await KyotoTime.Sleep(TimeSpan.FromSeconds(5), CancellationToken.None);
            return 9;
        }));
        Assert.Equal(9, v);
    }

    [Fact]
    public void TimeProvider_TaskDelayAndCancellationTokenSource_FollowPausedTime()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            TimeProvider tp = rt.TimeProvider;
            long t0 = tp.GetTimestamp();
            DateTimeOffset utc0 = tp.GetUtcNow();
            await Task.Delay(TimeSpan.FromHours(2), tp);
            Assert.Equal(TimeSpan.FromHours(2), tp.GetElapsedTime(t0));
            // Wall-clock readings drift from the monotonic clock by microseconds; allow a second.
            Assert.InRange(tp.GetUtcNow() - utc0, TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1), TimeSpan.FromHours(2) + TimeSpan.FromSeconds(1));

            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30), tp);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await KyotoTime.Sleep(TimeSpan.FromDays(1), cts.Token));
            Assert.Equal(TimeSpan.FromHours(2.5), tp.GetElapsedTime(t0));

            var never = new TaskCompletionSource();
            await Assert.ThrowsAsync<TimeoutException>(() => never.Task.WaitAsync(TimeSpan.FromMinutes(1), tp));
            Assert.Equal(TimeSpan.FromHours(2.5) + TimeSpan.FromMinutes(1), tp.GetElapsedTime(t0));
        });
    }

    [Fact]
    public void TimeProvider_PeriodicTimer_TicksAndStopsWhenDisposed()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            TimeProvider tp = rt.TimeProvider;
            long t0 = tp.GetTimestamp();
            using var periodic = new PeriodicTimer(TimeSpan.FromSeconds(5), tp);
            for (int i = 1; i <= 3; i++)
            {
                Assert.True(await periodic.WaitForNextTickAsync());
                Assert.Equal(TimeSpan.FromSeconds(5 * i), tp.GetElapsedTime(t0));
            }

            periodic.Dispose();
            Assert.False(await periodic.WaitForNextTickAsync());
        });
    }

    [Fact]
    public void AdvanceAsync_FiresDueTimersOnly()
    {
        using Runtime rt = NewPausedRuntime();
        rt.BlockOnBounded(async () =>
        {
            Instant start = Instant.Now;
            JoinHandle[] handles = new[] { 1, 5, 10 }
                .Select(m => KyotoTask.Spawn(async () => await KyotoTime.Sleep(TimeSpan.FromMinutes(m))))
                .ToArray();

            // Wait (yielding, so the runtime is never idle and time cannot jump) until all three sleeps are armed.
            for (int spins = 0; rt.Scheduler.Time.TimerCount < 3; spins++)
            {
                Assert.True(spins < 1_000_000, "the sleepers never armed their timers");
                await KyotoTask.Yield();
            }

            await KyotoTime.AdvanceAsync(TimeSpan.FromMinutes(6));
            await handles[0];
            await handles[1];

            // The runtime was never idle while those two ran, so time did not move past the manual step.
            Assert.Equal(start + TimeSpan.FromMinutes(6), Instant.Now);
            Assert.False(handles[2].IsFinished);

            await handles[2]; // now idle: the clock jumps to the last timer
            Assert.Equal(start + TimeSpan.FromMinutes(10), Instant.Now);
        });
    }

    [Fact]
    public void PauseAndResume_TimeContinuesFromTheFrozenInstant()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            Assert.False(KyotoTime.IsPaused);
            KyotoTime.Pause();
            Assert.True(KyotoTime.IsPaused);
            Instant frozen = Instant.Now;
            await KyotoTime.AdvanceAsync(TimeSpan.FromDays(3));
            Assert.Equal(frozen + TimeSpan.FromDays(3), Instant.Now);
            KyotoTime.Resume();
            Assert.False(KyotoTime.IsPaused);
            Assert.True(Instant.Now >= frozen + TimeSpan.FromDays(3));
        });
    }

    [Fact]
    public void AdvanceAsync_WhenNotPaused_Throws()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
            await Assert.ThrowsAsync<InvalidOperationException>(() => KyotoTime.AdvanceAsync(TimeSpan.FromSeconds(1))));
    }

    [Fact]
    public void Sleep_OutsideRuntime_ThrowsInvalidOperation()
        => Assert.Throws<InvalidOperationException>(() => KyotoTime.Sleep(TimeSpan.FromSeconds(1)));

    [Fact]
    public void AutoAdvance_NotWhileABlockingTaskRuns()
    {
        using Runtime rt = NewPausedRuntime();
        using var gate = new ManualResetEventSlim();
        using var sleeperDone = new ManualResetEventSlim();
        using var blockingStarted = new ManualResetEventSlim();
        using var driver = new BackgroundDriver(rt);
        rt.SpawnBlocking(() =>
        {
            blockingStarted.Set();
            gate.Wait();
        });
        Bounded.Wait(blockingStarted, "the blocking task to start");
        rt.Spawn(async () =>
        {
            await KyotoTime.Sleep(TimeSpan.FromHours(1));
            sleeperDone.Set();
        });

        // Absence can only be shown by waiting: a short real wait in which paused time must not jump.
        Assert.False(sleeperDone.Wait(TimeSpan.FromMilliseconds(200)), "the paused clock advanced while a blocking task ran");
        gate.Set();
        Bounded.Wait(sleeperDone, "the sleep to complete once the blocking task ended");
    }

    [Fact]
    public void Sleep_RealClock_NeverEarlyUnderRandomLoad()
    {
        using Runtime rt = NewRuntime();
        long early = rt.BlockOnBounded(async () =>
        {
            const int n = 20_000;
            var rng = new Random(99);
            long earlyCount = 0;
            var handles = new JoinHandle[n];
            for (int i = 0; i < n; i++)
            {
                long micros = rng.Next(0, 20_000);
                handles[i] = KyotoTask.Spawn(async () =>
                {
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    await KyotoTime.Sleep(TimeSpan.FromMicroseconds(micros));
                    if (System.Diagnostics.Stopwatch.GetElapsedTime(start) < TimeSpan.FromMicroseconds(micros))
                    {
                        Interlocked.Increment(ref earlyCount);
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            return earlyCount;
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(0, early);
    }
}

public sealed class TimeTests_MultiThread : TimeTestBase
{
    protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
}

public sealed class TimeTests_CurrentThread : TimeTestBase
{
    protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
}
