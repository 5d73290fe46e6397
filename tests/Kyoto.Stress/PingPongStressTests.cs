using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Two tasks bounce a ball through fresh oneshots, yielding at random: nothing may be lost or reordered.</summary>
public abstract class PingPongStressTests : RuntimeTestBase
{
    public sealed class MultiThread : PingPongStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class MultiThreadFourWorkers : PingPongStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

        protected override int WorkerThreads => 4;
    }

    public sealed class CurrentThread : PingPongStressTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private const int Rounds = 200_000;

    private sealed record Ball(int N, OneshotSender<Ball> Back);

    [Fact]
    public void PingPong_200kRoundTripsWithRandomYields_EveryBallArrivesInOrder()
    {
        using var rt = NewRuntime();
        (int last, int pongLast) = rt.BlockOnBounded(async () =>
        {
            var (firstTx, firstRx) = Oneshot.Create<Ball>();
            JoinHandle<int> pong = KyotoTask.Spawn(async () =>
            {
                Random rng = Seeds.For(2);
                OneshotReceiver<Ball> inbox = firstRx;
                int seen = -1;
                for (int i = 0; i < Rounds; i++)
                {
                    Ball b = await inbox;
                    if (b.N != seen + 2 && i > 0)
                    {
                        throw new InvalidOperationException($"pong expected {seen + 2}, got {b.N} {Seeds.Describe}");
                    }

                    seen = b.N;
                    var (nextTx, nextRx) = Oneshot.Create<Ball>();
                    inbox = nextRx;
                    if (rng.Next(16) == 0)
                    {
                        await KyotoTask.Yield();
                    }

                    if (!b.Back.TrySend(new Ball(b.N + 1, nextTx)))
                    {
                        throw new InvalidOperationException("pong's reply was refused");
                    }
                }

                return seen;
            });

            Random rng = Seeds.For(1);
            OneshotSender<Ball> toPong = firstTx;
            int n = 0;
            for (int i = 0; i < Rounds; i++)
            {
                var (backTx, backRx) = Oneshot.Create<Ball>();
                if (!toPong.TrySend(new Ball(n, backTx)))
                {
                    throw new InvalidOperationException("ping's ball was refused");
                }

                if (rng.Next(16) == 0)
                {
                    await KyotoTask.Yield();
                }

                Ball reply = await backRx;
                if (reply.N != n + 1)
                {
                    throw new InvalidOperationException($"ping expected {n + 1}, got {reply.N} {Seeds.Describe}");
                }

                n = reply.N + 1;
                toPong = reply.Back;
            }

            return (n, await pong);
        }, TimeSpan.FromSeconds(120));
        Assert.Equal(2 * Rounds, last);
        Assert.Equal(2 * Rounds - 2, pongLast);
    }

    [Fact]
    public void PingPong_ManyPairsConcurrently_AllFinish()
    {
        const int Pairs = 64;
        const int PairRounds = 2_000;
        using var rt = NewRuntime();
        long total = rt.BlockOnBounded(async () =>
        {
            var handles = new List<JoinHandle<int>>();
            for (int p = 0; p < Pairs; p++)
            {
                int pair = p;
                var (firstTx, firstRx) = Oneshot.Create<Ball>();
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    Random rng = Seeds.For(1000 + pair);
                    OneshotReceiver<Ball> inbox = firstRx;
                    int count = 0;
                    for (int i = 0; i < PairRounds; i++)
                    {
                        Ball b = await inbox;
                        var (nextTx, nextRx) = Oneshot.Create<Ball>();
                        inbox = nextRx;
                        if (rng.Next(8) == 0)
                        {
                            await KyotoTask.Yield();
                        }

                        b.Back.TrySend(new Ball(b.N + 1, nextTx));
                        count++;
                    }

                    return count;
                }));
                handles.Add(KyotoTask.Spawn(async () =>
                {
                    Random rng = Seeds.For(2000 + pair);
                    OneshotSender<Ball> toPong = firstTx;
                    int n = 0;
                    for (int i = 0; i < PairRounds; i++)
                    {
                        var (backTx, backRx) = Oneshot.Create<Ball>();
                        toPong.TrySend(new Ball(n, backTx));
                        if (rng.Next(8) == 0)
                        {
                            await KyotoTask.Yield();
                        }

                        Ball r = await backRx;
                        n = r.N + 1;
                        toPong = r.Back;
                    }

                    return n / 2;
                }));
            }

            long sum = 0;
            foreach (JoinHandle<int> h in handles)
            {
                sum += await h;
            }

            return sum;
        }, TimeSpan.FromSeconds(120));
        Assert.Equal(2L * Pairs * PairRounds, total);
    }
}
