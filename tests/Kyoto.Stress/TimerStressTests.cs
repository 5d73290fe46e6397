using System.Diagnostics;
using Kyoto.Tasks;
using Kyoto.Time;

namespace Kyoto.Tests;

/// <summary>
/// Timers under races: sleeps that other tasks cancel or move while they may be firing, on both flavours and
/// on the real clock. Every sleep must end exactly one way (fired no earlier than its last deadline, or
/// cancelled), and the wheel must be empty at the end (no timer leaked by a lost race).
/// </summary>
public class TimerStressTests
{
    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void Sleeps_RacingCancelAndReset_EndOneWayAndLeaveNoTimer(RuntimeFlavor flavor)
    {
        using Runtime rt = (flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 } : RuntimeBuilder.CurrentThread()).Build();
        const int sleepers = 10_000;
        int fired = 0, cancelled = 0, early = 0;
        var done = new ManualResetEventSlim();
        Exception? failure = null;
        var root = Task.Run(() => rt.BlockOn(async () =>
        {
            var handles = new List<JoinHandle>(sleepers);
            for (int i = 0; i < sleepers; i++)
            {
                Random rng = Seeds.For(i);
                int delayUs = rng.Next(0, 3_000);
                int action = rng.Next(4); // 0: leave alone, 1: cancel, 2: reset later, 3: reset earlier
                int actionAfterUs = rng.Next(0, 3_000);
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    using var cts = new CancellationTokenSource();
                    Instant start = Instant.Now;
                    Sleep sleep = KyotoTime.Sleep(TimeSpan.FromMicroseconds(delayUs), cts.Token);
                    var gate = new object();
                    Instant deadline = sleep.Deadline;
                    JoinHandle racer = KyotoTask.Spawn(async () =>
                    {
                        await KyotoTime.Sleep(TimeSpan.FromMicroseconds(actionAfterUs));
                        switch (action)
                        {
                            case 1:
                                cts.Cancel();
                                break;
                            case 2:
                            case 3:
                                Instant moved = Instant.Now + TimeSpan.FromMicroseconds(action == 2 ? 2_000 : 10);
                                try
                                {
                                    lock (gate)
                                    {
                                        if (sleep.Reset(moved))
                                        {
                                            deadline = moved;
                                        }
                                    }
                                }
                                catch (InvalidOperationException)
                                {
                                    // Already awaited to completion: a legal loss of the race.
                                }

                                break;
                        }
                    });
                    try
                    {
                        await sleep;
                        Instant now = Instant.Now;
                        lock (gate)
                        {
                            // Early means before every deadline the sleep ever had.
                            if (now < deadline && now < start + TimeSpan.FromMicroseconds(delayUs))
                            {
                                Interlocked.Increment(ref early);
                            }
                        }

                        Interlocked.Increment(ref fired);
                    }
                    catch (OperationCanceledException)
                    {
                        Interlocked.Increment(ref cancelled);
                    }

                    await racer;
                }));
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        })).ContinueWith(t => { failure = t.Exception?.InnerException; done.Set(); }, TaskScheduler.Default);

        Assert.True(done.Wait(TimeSpan.FromSeconds(60)), $"timer stress hung {Seeds.Describe}");
        Assert.Null(failure);
        Assert.Equal(sleepers, fired + cancelled);
        Assert.Equal(0, early);
    }

    [Fact]
    public void PausedClock_ManyTasksSleepingAndCancelling_AllEndAtTheirVirtualDeadlines()
    {
        using Runtime rt = new RuntimeBuilder { WorkerThreads = 2, StartPaused = true }.Build();
        var done = new ManualResetEventSlim();
        Exception? failure = null;
        Task.Run(() => rt.BlockOn(async () =>
        {
            Instant start = Instant.Now;
            var handles = new List<JoinHandle>();
            for (int i = 0; i < 2_000; i++)
            {
                Random rng = Seeds.For(10_000 + i);
                int seconds = rng.Next(1, 3_600);
                bool cancel = rng.Next(3) == 0;
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    using var cts = new CancellationTokenSource();
                    if (cancel)
                    {
                        _ = KyotoTask.Spawn(async () =>
                        {
                            await KyotoTime.Sleep(TimeSpan.FromSeconds(seconds / 2));
                            cts.Cancel();
                        });
                    }

                    Instant begun = Instant.Now;
                    try
                    {
                        await KyotoTime.Sleep(TimeSpan.FromSeconds(seconds), cts.Token);
                        Assert.False(cancel && Instant.Now - begun > TimeSpan.FromSeconds(seconds), "a cancelled sleep ran to its end");
                        Assert.True(Instant.Now - begun >= TimeSpan.FromSeconds(seconds), "a sleep ended early in virtual time");
                    }
                    catch (OperationCanceledException)
                    {
                        Assert.True(cancel, "a sleep nobody cancelled threw");
                    }
                }));
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.True(Instant.Now - start <= TimeSpan.FromHours(1));
            Assert.Equal(0, rt.Scheduler.Time.TimerCount);
        })).ContinueWith(t => { failure = t.Exception?.InnerException; done.Set(); }, TaskScheduler.Default);

        Assert.True(done.Wait(TimeSpan.FromSeconds(60)), $"paused-clock stress hung {Seeds.Describe}");
        Assert.Null(failure);
    }
}
