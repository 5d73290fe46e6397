using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Notify races: a wait racing NotifyOne and its own cancellation, producers and consumers that must never
/// miss a wake-up, and storms of waits, notifications, cancellations and aborts where a notification may be
/// merged into the one stored permit but never vanish.
/// </summary>
public class NotifyStressTests
{
    /// <summary>True if a permit is stored (a wait completes at once); the probe wait is cleaned up either way. Off-runtime only.</summary>
    private static bool TakeStoredPermitOffRuntime(Notify notify)
    {
        using var cts = new CancellationTokenSource();
        ValueTask probe = notify.NotifiedAsync(cts.Token);
        cts.Cancel();
        try
        {
            // Settled by now (taken at once, or cancelled); a completed Kyoto wait reads as completed.
            WaitSettled(probe);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Ends a wait that has completed or will complete at once, without a thread-pool round trip when it already has.</summary>
    private static void WaitSettled(ValueTask wait)
    {
        if (wait.IsCompleted)
        {
            wait.GetAwaiter().GetResult();
        }
        else
        {
            wait.AsTask().WaitAsync(Bounded.Timeout).GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Spins hot until <paramref name="field"/> equals <paramref name="a"/> or <paramref name="b"/> (both threads
    /// must be running for the race to be tight), then yields, so a descheduled partner on a loaded machine does
    /// not stall the run.
    /// </summary>
    private static void SpinUntilEither(ref int field, int a, int b)
    {
        for (int i = 0; Volatile.Read(ref field) is int v && v != a && v != b; i++)
        {
            if (i < 2_000)
            {
                Thread.SpinWait(1);
            }
            else
            {
                Thread.Yield();
            }
        }
    }

    [Fact]
    public void NotifiedAsyncRacingNotifyOneAndItsCancellation_TheNotificationIsConsumedOrKept()
    {
        // One thread starts a wait while another sends NotifyOne and cancels the wait's token, in random order
        // and with random delays. Either the wait completes (it consumed the notification) or it is cancelled and
        // the permit is still stored: never both, never neither.
        // The bug this hunts (a permit taken together with a cancellation) showed in ~10% of rounds. The two
        // threads hand off twice per round, which a loaded machine slows down a lot: the run stops at Rounds or
        // after Budget, whichever comes first, but always does at least MinRounds.
        const int Rounds = 20_000;
        const int MinRounds = 1_000;
        TimeSpan budget = TimeSpan.FromSeconds(2);
        Notify? notify = null;
        CancellationTokenSource? cts = null;
        int round = 0;
        int done = 0;
        int order = 0;
        int spin = 0;
        Task racer = Bounded.OnThread(() =>
        {
            for (int r = 1; ; r++)
            {
                SpinUntilEither(ref round, r, -1);
                if (Volatile.Read(ref round) == -1)
                {
                    return;
                }

                Thread.SpinWait(Volatile.Read(ref spin));
                if (Volatile.Read(ref order) == 0)
                {
                    notify!.NotifyOne();
                    cts!.Cancel();
                }
                else
                {
                    cts!.Cancel();
                    notify!.NotifyOne();
                }

                Volatile.Write(ref done, r);
            }
        }, "notify-and-cancel racer");

        (int rounds, int lost, int doubled) = Bounded.Run(() =>
        {
            Random rng = Seeds.For(20);
            int lostCount = 0;
            int doubledCount = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int r = 1;
            for (; r <= Rounds && (r <= MinRounds || clock.Elapsed < budget); r++)
            {
                notify = new Notify();
                cts = new CancellationTokenSource();
                order = rng.Next(2);
                spin = rng.Next(40);
                int mySpin = rng.Next(40);
                Volatile.Write(ref round, r);
                Thread.SpinWait(mySpin);
                ValueTask wait = notify.NotifiedAsync(cts.Token);
                SpinUntilEither(ref done, r, r);

                bool woke;
                try
                {
                    // Both racers are done, so the wait is settled: woken, cancelled, or completed at the call.
                    WaitSettled(wait);
                    woke = true;
                }
                catch (OperationCanceledException)
                {
                    woke = false;
                }

                bool stored = TakeStoredPermitOffRuntime(notify);
                if (woke && stored)
                {
                    doubledCount++;
                }
                else if (!woke && !stored)
                {
                    lostCount++;
                }

                cts.Dispose();
            }

            Volatile.Write(ref round, -1);
            return (r - 1, lostCount, doubledCount);
        }, "the waiting thread", TimeSpan.FromSeconds(120));
        Bounded.Wait(racer, "the racer");
        Assert.True(lost == 0, $"{lost} of {rounds} notifications vanished (the wait was cancelled and no permit was kept) {Seeds.Describe}");
        Assert.True(doubled == 0, $"{doubled} of {rounds} notifications were used twice {Seeds.Describe}");
    }

    [Fact]
    public void ProducersAndConsumers_CheckThenWaitLoop_NoWakeUpIsEverLost()
    {
        // Items are counted in a shared counter; consumers take one if they can and otherwise wait. A lost
        // wake-up leaves items behind with every consumer asleep, and the test times out.
        const int Producers = 3;
        const int Consumers = 4;
        const int PerProducer = 20_000;
        const int Total = Producers * PerProducer;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        (int processed, int cancelledWaits) = rt.BlockOnBounded(async () =>
        {
            var notify = new Notify();
            var allDone = new Notify();
            int available = 0;
            int taken = 0;
            int cancels = 0;
            bool stop = false;

            bool TryTake()
            {
                int seen;
                while ((seen = Volatile.Read(ref available)) > 0)
                {
                    if (Interlocked.CompareExchange(ref available, seen - 1, seen) == seen)
                    {
                        return true;
                    }
                }

                return false;
            }

            var consumers = new JoinHandle[Consumers];
            for (int c = 0; c < Consumers; c++)
            {
                Random rng = Seeds.For(30 + c);
                consumers[c] = KyotoTask.Spawn(async () =>
                {
                    while (true)
                    {
                        if (TryTake())
                        {
                            if (Interlocked.Increment(ref taken) == Total)
                            {
                                allDone.NotifyOne();
                            }

                            continue;
                        }

                        if (Volatile.Read(ref stop))
                        {
                            return;
                        }

                        if (rng.Next(8) == 0)
                        {
                            // A wait that is given up part of the time: the loop must still never miss an item.
                            using var cts = new CancellationTokenSource();
                            ValueTask wait = notify.NotifiedAsync(cts.Token);
                            if (rng.Next(2) == 0)
                            {
                                cts.Cancel();
                            }

                            try
                            {
                                await wait;
                            }
                            catch (OperationCanceledException)
                            {
                                Interlocked.Increment(ref cancels);
                            }
                        }
                        else
                        {
                            await notify.NotifiedAsync();
                        }
                    }
                });
            }

            var producers = new JoinHandle[Producers];
            for (int p = 0; p < Producers; p++)
            {
                Random rng = Seeds.For(40 + p);
                producers[p] = KyotoTask.Spawn(async () =>
                {
                    for (int i = 0; i < PerProducer; i++)
                    {
                        Interlocked.Increment(ref available);
                        if (rng.Next(4) == 0)
                        {
                            notify.NotifyLast();
                        }
                        else
                        {
                            notify.NotifyOne();
                        }

                        if (rng.Next(64) == 0)
                        {
                            await KyotoTask.Yield();
                        }
                    }
                });
            }

            foreach (JoinHandle h in producers)
            {
                await h;
            }

            await allDone.NotifiedAsync();
            Volatile.Write(ref stop, true);
            for (int spins = 0; consumers.Any(h => !h.IsFinished); spins++)
            {
                Assert.True(spins < 10_000_000, "the consumers never stopped");
                notify.NotifyWaiters();
                await KyotoTask.Yield();
            }

            return (Volatile.Read(ref taken), Volatile.Read(ref cancels));
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(Total, processed);
        Assert.True(cancelledWaits >= 0);
    }

    [Fact]
    public void WaitNotifyCancelAbortStorm_NotificationsAreDeliveredOrStoredNeverLost()
    {
        // Each round queues W waits (one task each, each with its own token), then concurrently: a task sends k
        // NotifyOne/NotifyLast, another cancels some tokens, and the root aborts some waiting tasks. Afterwards
        // every remaining wait is cancelled. A notification can only end as a completed wait or in the stored
        // permit (several may merge into it when nobody waits), so with s completed waits and p (0 or 1) the stored
        // permit: s + p <= k, and k >= 1 implies s + p >= 1. When at least k waits were never cancelled nor
        // aborted, a waiter was queued for every notification: s == k and p == 0.
        const int Rounds = 2_000;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(50);
            for (int round = 0; round < Rounds; round++)
            {
                var notify = new Notify();
                int waiters = rng.Next(1, 7);
                int k = rng.Next(0, waiters + 2);
                var tokens = new CancellationTokenSource[waiters];
                var cancelIt = new bool[waiters];
                var abortIt = new bool[waiters];
                var handles = new JoinHandle[waiters];
                int completed = 0;
                for (int w = 0; w < waiters; w++)
                {
                    tokens[w] = new CancellationTokenSource();
                    cancelIt[w] = rng.Next(3) == 0;
                    abortIt[w] = !cancelIt[w] && rng.Next(4) == 0;
                    CancellationToken token = tokens[w].Token;
                    int yields = rng.Next(2);
                    handles[w] = KyotoTask.Spawn(async () =>
                    {
                        ValueTask wait = notify.NotifiedAsync(token);
                        try
                        {
                            await wait;
                            Interlocked.Increment(ref completed); // no Kyoto await in between: an abort cannot land here
                        }
                        catch (OperationCanceledException)
                        {
                        }

                        for (int y = 0; y < yields; y++)
                        {
                            await KyotoTask.Yield();
                        }
                    });
                }

                for (int spins = 0; notify.WaiterCount < waiters; spins++)
                {
                    if (spins > 1_000_000)
                    {
                        return $"round {round}: only {notify.WaiterCount} of {waiters} waits queued";
                    }

                    await KyotoTask.Yield();
                }

                bool[] last = Enumerable.Range(0, k).Select(_ => rng.Next(3) == 0).ToArray();
                JoinHandle notifier = KyotoTask.Spawn(async () =>
                {
                    foreach (bool l in last)
                    {
                        if (l)
                        {
                            notify.NotifyLast();
                        }
                        else
                        {
                            notify.NotifyOne();
                        }

                        await KyotoTask.Yield();
                    }
                });
                JoinHandle canceller = KyotoTask.Spawn(async () =>
                {
                    for (int w = 0; w < waiters; w++)
                    {
                        if (cancelIt[w])
                        {
                            tokens[w].Cancel();
                            await KyotoTask.Yield();
                        }
                    }
                });
                for (int w = 0; w < waiters; w++)
                {
                    if (abortIt[w])
                    {
                        handles[w].Abort();
                        await KyotoTask.Yield();
                    }
                }

                await notifier;
                await canceller;
                for (int w = 0; w < waiters; w++)
                {
                    if (abortIt[w])
                    {
                        // An aborted task woken by a notification passes it on when it resumes: let that happen
                        // while the surviving waits are still queued.
                        await Record.ExceptionAsync(async () => await handles[w]);
                    }
                }

                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Cancel(); // every wait still queued ends now, without a notification
                }

                foreach (JoinHandle h in handles)
                {
                    await Record.ExceptionAsync(async () => await h);
                }

                int s = Volatile.Read(ref completed);
                bool p = await TakeStoredPermitAsync(notify);
                int survivors = Enumerable.Range(0, waiters).Count(w => !cancelIt[w] && !abortIt[w]);
                int pi = p ? 1 : 0;
                if (s + pi > k || (k >= 1 && s + pi == 0) || (survivors >= k && (s != k || p)))
                {
                    return $"round {round}: {waiters} waits ({survivors} never cancelled nor aborted), {k} notifications: {s} waits completed, stored permit {p}";
                }

                if (notify.WaiterCount != 0)
                {
                    return $"round {round}: {notify.WaiterCount} waits left in the queue";
                }

                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Dispose();
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    /// <summary>On the runtime: true if a permit is stored; the probe wait is cancelled otherwise.</summary>
    private static async Task<bool> TakeStoredPermitAsync(Notify notify)
    {
        using var cts = new CancellationTokenSource();
        ValueTask probe = notify.NotifiedAsync(cts.Token);
        cts.Cancel();
        try
        {
            await probe;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
