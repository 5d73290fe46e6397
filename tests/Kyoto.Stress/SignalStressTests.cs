using Kyoto.Signal;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Signals are process-wide: the signal storm runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SignalStressCollection
{
    public const string Name = "Process signals (stress)";
}

/// <summary>
/// Signal storms: a thread sends thousands of SIGUSR1/SIGUSR2 to the process while receivers on a multi-thread and
/// a current-thread runtime wait, some with waits cancelled at random, and other tasks create and dispose receivers.
/// Invariant: deliveries may coalesce, but every receiver that lives through the storm wakes after the last
/// delivery of its signal (it observes the final count); no wait is lost.
/// </summary>
[Collection(SignalStressCollection.Name)]
public class SignalStressTests
{
    private static readonly SignalKind[] Kinds = [SignalKind.UserDefined1, SignalKind.UserDefined2];

    [Fact]
    public void Storm_ManyReceiversOnTwoRuntimes_EveryReceiverObservesTheLastDelivery()
    {
        const int Signals = 3_000;
        const int ReceiversPerKind = 8;
        using Runtime multi = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        using Runtime current = RuntimeBuilder.CurrentThread().Build();
        Runtime[] runtimes = [multi, current];

        // observed[runtime][kind * ReceiversPerKind + i]: the delivery count read after the receiver's latest wake-up.
        long[][] observed = [new long[Kinds.Length * ReceiversPerKind], new long[Kinds.Length * ReceiversPerKind]];
        using var stop = new CancellationTokenSource();
        using var listening = new CountdownEvent(runtimes.Length);

        var drivers = new Task[runtimes.Length];
        for (int r = 0; r < runtimes.Length; r++)
        {
            int runtimeIndex = r;
            drivers[r] = Bounded.OnThread(() => runtimes[runtimeIndex].BlockOn(async () =>
            {
                var receivers = new List<SignalReceiver>();
                var tasks = new List<JoinHandle>();
                for (int k = 0; k < Kinds.Length; k++)
                {
                    for (int i = 0; i < ReceiversPerKind; i++)
                    {
                        SignalReceiver rx = Kyoto.Signal.Signals.Listen(Kinds[k]);
                        receivers.Add(rx);
                        int slot = k * ReceiversPerKind + i;
                        Random rng = Seeds.For(100 * runtimeIndex + slot);
                        tasks.Add(KyotoTask.Spawn(() => ReceiveLoopAsync(rx, observed[runtimeIndex], slot, rng, stop.Token)));
                    }
                }

                for (int c = 0; c < 2; c++)
                {
                    Random rng = Seeds.For(10_000 + 100 * runtimeIndex + c);
                    tasks.Add(KyotoTask.Spawn(() => ChurnAsync(rng, stop.Token)));
                }

                listening.Signal();
                foreach (JoinHandle task in tasks)
                {
                    await task;
                }

                foreach (SignalReceiver rx in receivers)
                {
                    rx.Dispose();
                }
            }), $"signal-stress-{r}");
        }

        Bounded.Wait(listening, "the receivers of both runtimes");
        Random sender = Seeds.For(0);
        for (int s = 0; s < Signals; s++)
        {
            SignalSender.Raise(Kinds[sender.Next(Kinds.Length)]);
            if (sender.Next(8) == 0)
            {
                Thread.Yield();
            }
        }

        // Signals to the own process are counted in order: once a last one is counted, every earlier one is.
        var finalCounts = new long[Kinds.Length];
        for (int k = 0; k < Kinds.Length; k++)
        {
            SignalSender.RaiseCounted(Kinds[k]);
            finalCounts[k] = Kyoto.Signal.Signals.DeliveryCount(Kinds[k]);
        }

        bool AllObservedLast()
        {
            foreach (long[] perRuntime in observed)
            {
                for (int slot = 0; slot < perRuntime.Length; slot++)
                {
                    if (Volatile.Read(ref perRuntime[slot]) < finalCounts[slot / ReceiversPerKind])
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        bool ok = SpinWait.SpinUntil(AllObservedLast, Bounded.Timeout);
        stop.Cancel();
        foreach (Task driver in drivers)
        {
            Bounded.Wait(driver, "a runtime of the storm to stop");
        }

        Assert.True(ok, $"a receiver never woke after the last delivery: final counts [{string.Join(", ", finalCounts)}], observed multi [{string.Join(", ", observed[0])}], current [{string.Join(", ", observed[1])}] {Seeds.Describe}");
    }

    private static async Task ReceiveLoopAsync(SignalReceiver rx, long[] observed, int slot, Random rng, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            bool woke;
            try
            {
                if (rng.Next(6) == 0)
                {
                    // A wait cancelled at a random moment: it either got a delivery or consumed none.
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    ValueTask<bool> wait = rx.RecvAsync(cts.Token);
                    for (int i = rng.Next(3); i > 0; i--)
                    {
                        await KyotoTask.Yield();
                    }

                    await cts.CancelAsync();
                    woke = await wait;
                }
                else
                {
                    woke = await rx.RecvAsync(stop);
                }
            }
            catch (OperationCanceledException)
            {
                await KyotoTask.Yield(); // a wait cancelled before it parked ends synchronously: let the others run
                continue;
            }

            Assert.True(woke);
            Volatile.Write(ref observed[slot], Kyoto.Signal.Signals.DeliveryCount(rx.Kind));
        }
    }

    // Receivers created and disposed during the storm (some while a wait is pending), beside the permanent ones.
    private static async Task ChurnAsync(Random rng, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            SignalReceiver rx = Kyoto.Signal.Signals.Listen(Kinds[rng.Next(Kinds.Length)]);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
            ValueTask<bool> wait = rx.RecvAsync(cts.Token);
            for (int i = rng.Next(4); i > 0; i--)
            {
                await KyotoTask.Yield();
            }

            if (rng.Next(2) == 0)
            {
                rx.Dispose();
                try
                {
                    await wait; // true (a delivery came first) or false (disposed while waiting)
                }
                catch (OperationCanceledException)
                {
                    // the storm ended meanwhile
                }
            }
            else
            {
                await cts.CancelAsync();
                try
                {
                    await wait;
                }
                catch (OperationCanceledException)
                {
                    // cancelled while waiting
                }

                rx.Dispose();
            }

            await KyotoTask.Yield();
        }
    }
}
