using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// OnceCell and SetOnce under races: concurrent initializers that fail, get cancelled or succeed at random
/// moments, waiters cancelled at random, setters racing waiters. Invariants: at most one initializer runs at a
/// time and at most one succeeds; every caller ends exactly one legal way; no waiter is left behind.
/// </summary>
public class OnceStressTests
{
    private static Runtime NewRuntime(RuntimeFlavor flavor) =>
        (flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 } : RuntimeBuilder.CurrentThread()).Build();

    private static async Task YieldTimes(int n)
    {
        for (int i = 0; i < n; i++)
        {
            await KyotoTask.Yield();
        }
    }

    private enum Outcome
    {
        Value,
        Cancelled,
        OwnInitFailed,
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void OnceCell_InitializersFailingAndCancelledAtRandom_OneAtATimeAndEveryCallerEndsLegally(RuntimeFlavor flavor)
    {
        const int Rounds = 4_000;
        using Runtime rt = NewRuntime(flavor);
        string? problem = rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(1_000 + round);
                var cell = new OnceCell<int>();
                int running = 0;
                int maxRunning = 0;
                int successes = 0;
                int callers = rng.Next(2, 16);
                var handles = new JoinHandle<(Outcome, int)>[callers];
                var tokens = new CancellationTokenSource[callers];
                var cancellers = new List<JoinHandle>();
                for (int c = 0; c < callers; c++)
                {
                    int id = c;
                    int behaviour = rng.Next(3); // 0: succeed, 1: throw, 2: wait for its token
                    int work = rng.Next(0, 4);
                    bool cancel = behaviour == 2 || rng.Next(3) == 0;
                    int cancelAfter = rng.Next(0, 8);
                    var cts = new CancellationTokenSource();
                    tokens[c] = cts;
                    handles[c] = KyotoTask.Spawn(async () =>
                    {
                        try
                        {
                            int v = await cell.GetOrInitAsync(async ct =>
                            {
                                int now = Interlocked.Increment(ref running);
                                int seen;
                                while ((seen = Volatile.Read(ref maxRunning)) < now && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen)
                                {
                                }

                                try
                                {
                                    await YieldTimes(work);
                                    switch (behaviour)
                                    {
                                        case 0:
                                            Interlocked.Increment(ref successes);
                                            return 100 + id;
                                        case 1:
                                            throw new InvalidDataException($"init {id} failed");
                                        default:
                                            var (tx, rx) = Oneshot.Create<int>();
                                            int never = await rx.RecvAsync(ct);
                                            GC.KeepAlive(tx);
                                            return never;
                                    }
                                }
                                finally
                                {
                                    Interlocked.Decrement(ref running);
                                }
                            }, cts.Token);
                            return (Outcome.Value, v);
                        }
                        catch (OperationCanceledException) when (cts.IsCancellationRequested)
                        {
                            return (Outcome.Cancelled, 0);
                        }
                        catch (InvalidDataException e) when (e.Message == $"init {id} failed")
                        {
                            return (Outcome.OwnInitFailed, 0);
                        }
                    });
                    if (cancel)
                    {
                        cancellers.Add(KyotoTask.Spawn(async () =>
                        {
                            await YieldTimes(cancelAfter);
                            cts.Cancel();
                        }));
                    }
                }

                int valueCount = 0;
                for (int c = 0; c < callers; c++)
                {
                    (Outcome o, int v) = await handles[c];
                    if (o == Outcome.Value)
                    {
                        valueCount++;
                        if (!cell.TryGetValue(out int stored) || stored != v)
                        {
                            return $"round {round}: caller {c} got {v} but the cell holds {(cell.IsInitialized ? cell.Value : "nothing")}";
                        }
                    }
                }

                foreach (JoinHandle h in cancellers)
                {
                    await h;
                }

                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Dispose();
                }

                if (maxRunning > 1)
                {
                    return $"round {round}: {maxRunning} initializers ran at once";
                }

                if (successes > 1)
                {
                    return $"round {round}: {successes} initializers succeeded";
                }

                if (cell.WaiterCount != 0 || cell.IsInitializing)
                {
                    return $"round {round}: left {cell.WaiterCount} waiters, initializing={cell.IsInitializing}";
                }

                if (valueCount > 0 != cell.IsInitialized)
                {
                    return $"round {round}: {valueCount} callers got a value but IsInitialized={cell.IsInitialized}";
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void SetOnce_SettersRacingCancelledWaiters_OneWinnerEveryWaiterGetsItOrWasCancelled(RuntimeFlavor flavor)
    {
        const int Rounds = 10_000;
        using Runtime rt = NewRuntime(flavor);
        string? problem = rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(5_000 + round);
                var once = new SetOnce<int>();
                var evt = new OnceEvent();
                int waiters = rng.Next(1, 12);
                var handles = new JoinHandle<int>[waiters];
                var tokens = new CancellationTokenSource[waiters];
                for (int w = 0; w < waiters; w++)
                {
                    var cts = new CancellationTokenSource();
                    tokens[w] = cts;
                    int delay = rng.Next(0, 4);
                    bool useEvent = rng.Next(2) == 0;
                    handles[w] = KyotoTask.Spawn(async () =>
                    {
                        await YieldTimes(delay);
                        try
                        {
                            if (useEvent)
                            {
                                await evt.WaitAsync(cts.Token);
                                return -2;
                            }

                            return await once.WaitAsync(cts.Token);
                        }
                        catch (OperationCanceledException) when (cts.IsCancellationRequested)
                        {
                            return -1;
                        }
                    });
                }

                int setterDelayA = rng.Next(0, 6);
                int setterDelayB = rng.Next(0, 6);
                JoinHandle<bool> setA = KyotoTask.Spawn(async () =>
                {
                    await YieldTimes(setterDelayA);
                    evt.Set();
                    return once.TrySet(1);
                });
                JoinHandle<bool> setB = KyotoTask.Spawn(async () =>
                {
                    await YieldTimes(setterDelayB);
                    return once.TrySet(2);
                });
                var cancellers = new List<JoinHandle>();
                for (int w = 0; w < waiters; w++)
                {
                    if (rng.Next(2) == 0)
                    {
                        CancellationTokenSource cts = tokens[w];
                        int after = rng.Next(0, 6);
                        cancellers.Add(KyotoTask.Spawn(async () =>
                        {
                            await YieldTimes(after);
                            cts.Cancel();
                        }));
                    }
                }

                bool a = await setA;
                bool b = await setB;
                if (a == b)
                {
                    return $"round {round}: TrySet results {a} and {b}: exactly one must win";
                }

                int winner = a ? 1 : 2;
                for (int w = 0; w < waiters; w++)
                {
                    int got = await handles[w];
                    if (got != -1 && got != -2 && got != winner)
                    {
                        return $"round {round}: waiter {w} got {got}, the winner set {winner}";
                    }

                    if (got == -1 && !tokens[w].IsCancellationRequested)
                    {
                        return $"round {round}: waiter {w} was cancelled without its token";
                    }
                }

                foreach (JoinHandle h in cancellers)
                {
                    await h;
                }

                if (once.WaiterCount != 0 || evt.WaiterCount != 0)
                {
                    return $"round {round}: {once.WaiterCount} SetOnce and {evt.WaiterCount} OnceEvent waiters left behind";
                }

                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Dispose();
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
    }

    [Fact]
    public void CancelledWaits_FromManyThreads_LeaveNoWaiterBehind()
    {
        // Waits registered and cancelled from plain threads, racing each other on the primitives' locks.
        const int PerThread = 20_000;
        var cell = new OnceCell<int>();
        var once = new SetOnce<int>();
        var barrier = new AsyncBarrier(1_000_000);
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task initializer = cell.GetOrInitAsync(_ => new ValueTask<int>(gate.Task)).AsTask();
        Assert.True(cell.IsInitializing);
        using var go = new Barrier(2);
        Task[] threads = Enumerable.Range(0, 2).Select(t => Bounded.OnThread(() =>
        {
            Random rng = Seeds.For(9_000 + t);
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < PerThread; i++)
            {
                using var cts = new CancellationTokenSource();
                ValueTask<int> a = cell.GetOrInitAsync(_ => new ValueTask<int>(-1), cts.Token);
                ValueTask<int> b = once.WaitAsync(cts.Token);
                ValueTask<BarrierWaitResult> c = barrier.WaitAsync(cts.Token);
                if (rng.Next(2) == 0)
                {
                    Thread.SpinWait(rng.Next(50));
                }

                cts.Cancel();
                foreach (Task wait in new Task[] { a.AsTask(), b.AsTask(), c.AsTask() })
                {
                    if (!((IAsyncResult)wait).AsyncWaitHandle.WaitOne(Bounded.Timeout) || !wait.IsCanceled)
                    {
                        throw new InvalidOperationException($"a cancelled wait ended as {wait.Status}");
                    }
                }
            }
        })).ToArray();
        foreach (Task t in threads)
        {
            Bounded.Wait(t, "a cancelling thread", TimeSpan.FromSeconds(120));
        }

        Assert.Equal(0, cell.WaiterCount);
        Assert.Equal(0, once.WaiterCount);
        Assert.Equal(0, barrier.WaiterCount);
        gate.SetResult(7);
        Bounded.Wait(initializer, "the initializer");
        Assert.Equal(7, cell.Value);
    }
}
