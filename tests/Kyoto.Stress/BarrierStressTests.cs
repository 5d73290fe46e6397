using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// AsyncBarrier under races: many generations with random scheduling, and arrivals cancelled at random while
/// generations are being released. Invariants: one leader per generation, nobody released before its
/// generation is complete, every released caller accounted to a generation, no waiter left behind.
/// </summary>
public class BarrierStressTests
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

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void Generations_RandomScheduling_OneLeaderEachAndNobodyRunsAhead(RuntimeFlavor flavor)
    {
        const int Parties = 6;
        const int Generations = 20_000;
        using Runtime rt = NewRuntime(flavor);
        (int leaders, int early, long gens) = rt.BlockOnBounded(async () =>
        {
            var barrier = new AsyncBarrier(Parties);
            var arrivals = new int[Generations];
            var leadersPerGen = new int[Generations];
            int runAhead = 0;
            var handles = new JoinHandle[Parties];
            for (int p = 0; p < Parties; p++)
            {
                Random rng = Seeds.For(200 + p);
                handles[p] = KyotoTask.Spawn(async () =>
                {
                    for (int g = 0; g < Generations; g++)
                    {
                        await YieldTimes(rng.Next(0, 3));
                        Interlocked.Increment(ref arrivals[g]);
                        BarrierWaitResult r = await barrier.WaitAsync();
                        if (Volatile.Read(ref arrivals[g]) != Parties)
                        {
                            Interlocked.Increment(ref runAhead);
                        }

                        if (r.IsLeader)
                        {
                            Interlocked.Increment(ref leadersPerGen[g]);
                        }
                    }
                });
            }

            foreach (JoinHandle h in handles)
            {
                await h;
            }

            Assert.All(leadersPerGen, n => Assert.Equal(1, n));
            return (leadersPerGen.Sum(), runAhead, barrier.Generation);
        }, TimeSpan.FromSeconds(120));
        Assert.True(early == 0, $"{early} callers were released before their generation was complete {Seeds.Describe}");
        Assert.Equal(Generations, leaders);
        Assert.Equal(Generations, gens);
    }

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void Arrivals_CancelledAtRandom_ReleasedCountIsGenerationsTimesPartiesAndNoWaiterLeft(RuntimeFlavor flavor)
    {
        const int Rounds = 4_000;
        using Runtime rt = NewRuntime(flavor);
        string? problem = rt.BlockOnBounded(async () =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                Random rng = Seeds.For(3_000 + round);
                int parties = rng.Next(2, 6);
                var barrier = new AsyncBarrier(parties);
                int callers = rng.Next(parties, parties * 5);
                var tokens = new CancellationTokenSource[callers];
                var handles = new JoinHandle<int>[callers]; // 1 leader, 0 follower, -1 cancelled
                var cancellers = new List<JoinHandle>();
                for (int c = 0; c < callers; c++)
                {
                    var cts = new CancellationTokenSource();
                    tokens[c] = cts;
                    int delay = rng.Next(0, 5);
                    handles[c] = KyotoTask.Spawn(async () =>
                    {
                        await YieldTimes(delay);
                        try
                        {
                            return (await barrier.WaitAsync(cts.Token)).IsLeader ? 1 : 0;
                        }
                        catch (OperationCanceledException) when (cts.IsCancellationRequested)
                        {
                            return -1;
                        }
                    });
                    if (rng.Next(3) == 0)
                    {
                        int after = rng.Next(0, 6);
                        cancellers.Add(KyotoTask.Spawn(async () =>
                        {
                            await YieldTimes(after);
                            cts.Cancel();
                        }));
                    }
                }

                foreach (JoinHandle h in cancellers)
                {
                    await h;
                }

                // Let the survivors settle, then cancel whoever still waits for an incomplete generation.
                await YieldTimes(10);
                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Cancel();
                }

                int leaders = 0, released = 0, cancelled = 0;
                foreach (JoinHandle<int> h in handles)
                {
                    switch (await h)
                    {
                        case 1:
                            leaders++;
                            released++;
                            break;
                        case 0:
                            released++;
                            break;
                        default:
                            cancelled++;
                            break;
                    }
                }

                foreach (CancellationTokenSource cts in tokens)
                {
                    cts.Dispose();
                }

                if (released != leaders * parties)
                {
                    return $"round {round}: {released} released with {leaders} leaders of {parties} parties";
                }

                if (barrier.Generation != leaders)
                {
                    return $"round {round}: {barrier.Generation} generations but {leaders} leaders";
                }

                if (barrier.WaiterCount != 0)
                {
                    return $"round {round}: {barrier.WaiterCount} waiters left behind ({cancelled} cancelled)";
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
    }
}
