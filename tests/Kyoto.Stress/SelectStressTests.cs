using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Select and TryAll under races: branches that complete, fail, ignore or obey their cancellation at random
/// moments, values sent to them racing the cancellation, and the caller's token cancelled at random.
/// Invariants: the operation never ends while a started branch runs; no value a branch produced is lost; a
/// value sent to a branch was either produced or refused.
/// </summary>
public class SelectStressTests
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

    /// <summary>One randomized branch and what it did.</summary>
    private sealed class Probe
    {
        public int Index;
        public int Kind; // 0: value after yields, 1: fail after yields, 2: receive (value may be sent), 3: return despite cancel
        public int Yields;
        public OneshotSender<int>? Tx;
        public OneshotReceiver<int>? Rx;
        public int Started;
        public int Finished;
        public int? Produced;

        public async ValueTask<int> Run(CancellationToken ct)
        {
            Interlocked.Increment(ref Started);
            try
            {
                switch (Kind)
                {
                    case 0:
                        await YieldTimes(Yields);
                        Produced = 1000 + Index;
                        return 1000 + Index;
                    case 1:
                        await YieldTimes(Yields);
                        throw new InvalidDataException($"branch {Index}");
                    case 2:
                        int v = await Rx!.RecvAsync(ct);
                        Produced = v;
                        return v;
                    default:
                        try
                        {
                            await Rx!.RecvAsync(ct);
                        }
                        catch (OperationCanceledException)
                        {
                        }

                        Produced = 3000 + Index;
                        return 3000 + Index;
                }
            }
            finally
            {
                Interlocked.Increment(ref Finished);
            }
        }
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void AnyAsync_RandomBranchesAndCancellation_NeverEndsEarlyAndLosesNoValue(RuntimeFlavor flavor)
    {
        const int Rounds = 1_500;
        using Runtime rt = NewRuntime(flavor);
        string? problem = rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(7_000 + round);
                int n = rng.Next(1, 6);
                var probes = new Probe[n];
                var branches = new Func<CancellationToken, ValueTask<int>>[n];
                var senders = new List<JoinHandle<(int Index, bool Sent, int Value)>>();
                for (int i = 0; i < n; i++)
                {
                    var p = new Probe { Index = i, Kind = rng.Next(4), Yields = rng.Next(0, 4) };
                    (p.Tx, p.Rx) = Oneshot.Create<int>();
                    probes[i] = p;
                    branches[i] = p.Run;
                    if (p.Kind == 2 && rng.Next(2) == 0)
                    {
                        int after = rng.Next(0, 5);
                        int index = i;
                        senders.Add(KyotoTask.Spawn(async () =>
                        {
                            await YieldTimes(after);
                            return (index, p.Tx.TrySend(2000 + index), 2000 + index);
                        }));
                    }
                }

                using var caller = new CancellationTokenSource();
                JoinHandle? canceller = null;
                if (rng.Next(4) == 0)
                {
                    int after = rng.Next(0, 5);
                    canceller = KyotoTask.Spawn(async () =>
                    {
                        await YieldTimes(after);
                        caller.Cancel();
                    });
                }

                // Branches that only ever wait for a value nobody sends end only by cancellation: make sure
                // something can end the race (a caller cancellation, or a branch that finishes by itself).
                if (canceller is null && probes.All(p => p.Kind >= 2) && senders.Count == 0)
                {
                    caller.CancelAfter(TimeSpan.FromMilliseconds(1));
                }

                SelectOrder order = rng.Next(2) == 0 ? SelectOrder.Biased : SelectOrder.Unbiased;
                SelectResult<int>? result = null;
                Exception? error = null;
                try
                {
                    result = await Select.AnyAsync(branches, order, caller.Token);
                }
                catch (Exception e)
                {
                    error = e;
                }

                foreach (Probe p in probes)
                {
                    if (p.Started != p.Finished)
                    {
                        return $"round {round}: branch {p.Index} (kind {p.Kind}) still running when the select ended";
                    }
                }

                var produced = probes.Where(p => p.Produced is not null).Select(p => (p.Index, p.Produced!.Value)).OrderBy(x => x.Index).ToList();
                if (result is { } r)
                {
                    var seen = r.LateValues.Select(x => (x.Index, x.Value)).Append((r.Index, r.Value)).OrderBy(x => x.Item1).ToList();
                    if (!seen.SequenceEqual(produced))
                    {
                        return $"round {round}: produced [{string.Join(",", produced)}] but the result holds [{string.Join(",", seen)}]";
                    }
                }
                else
                {
                    if (produced.Count != 0)
                    {
                        return $"round {round}: the select threw {error!.GetType().Name} although branches produced [{string.Join(",", produced)}]";
                    }

                    bool legal = error is InvalidDataException || (error is OperationCanceledException oce && caller.IsCancellationRequested && oce.CancellationToken == caller.Token);
                    if (!legal)
                    {
                        return $"round {round}: unexpected {error}";
                    }
                }

                foreach (JoinHandle<(int Index, bool Sent, int Value)> s in senders)
                {
                    (int index, bool sent, int value) = await s;
                    if (sent && probes[index].Started == 1 && probes[index].Produced != value)
                    {
                        return $"round {round}: {value} was accepted by branch {index} but never produced";
                    }
                }

                if (canceller is { } c)
                {
                    await c;
                }

                GC.KeepAlive(probes);
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void TryAllAsync_RandomFailures_NeverEndsEarlyAndThrowsOnlyOnFailure(RuntimeFlavor flavor)
    {
        const int Rounds = 1_500;
        using Runtime rt = NewRuntime(flavor);
        string? problem = rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(8_000 + round);
                int n = rng.Next(1, 6);
                var probes = new Probe[n];
                var ops = new Func<CancellationToken, ValueTask<int>>[n];
                for (int i = 0; i < n; i++)
                {
                    // Kinds 0 and 1 only finish by themselves; kind 2 (receive) is sent a value, or cancelled by a failure.
                    var p = new Probe { Index = i, Kind = rng.Next(3), Yields = rng.Next(0, 4) };
                    (p.Tx, p.Rx) = Oneshot.Create<int>();
                    probes[i] = p;
                    ops[i] = p.Run;
                }

                var senders = new List<JoinHandle>();
                bool anyFailure = probes.Any(p => p.Kind == 1);
                foreach (Probe p in probes.Where(p => p.Kind == 2 && (!anyFailure || rng.Next(2) == 0)))
                {
                    int after = rng.Next(0, 5);
                    senders.Add(KyotoTask.Spawn(async () =>
                    {
                        await YieldTimes(after);
                        p.Tx!.TrySend(2000 + p.Index);
                    }));
                }

                int[]? values = null;
                Exception? error = null;
                try
                {
                    values = await Join.TryAllAsync(ops);
                }
                catch (Exception e)
                {
                    error = e;
                }

                if (probes.Any(p => p.Started != p.Finished))
                {
                    return $"round {round}: TryAll ended while an operation was running";
                }

                if (values is not null)
                {
                    if (probes.Any(p => p.Kind == 1))
                    {
                        return $"round {round}: TryAll succeeded although an operation failed";
                    }

                    for (int i = 0; i < n; i++)
                    {
                        if (values[i] != probes[i].Produced)
                        {
                            return $"round {round}: operation {i} produced {probes[i].Produced} but TryAll returned {values[i]}";
                        }
                    }
                }
                else if (error is not InvalidDataException)
                {
                    return $"round {round}: unexpected {error}";
                }

                foreach (JoinHandle s in senders)
                {
                    await s;
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
    }
}
