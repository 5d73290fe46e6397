using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>Oneshot races between threads: TryRecv against TrySend/Dispose, close against send, cancel against send.</summary>
public class OneshotStressTests
{
    private const int Channels = 200_000;

    [Fact]
    public void TryRecv_SpinningAgainstTrySend_NeverSeesAHalfSentValue()
    {
        var senders = new OneshotSender<int>[Channels];
        var receivers = new OneshotReceiver<int>[Channels];
        for (int i = 0; i < Channels; i++)
        {
            (senders[i], receivers[i]) = Oneshot.Create<int>();
        }

        using var go = new Barrier(2);
        Task send = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < Channels; i++)
            {
                senders[i].TrySend(i + 1);
            }
        });
        int bad = Bounded.Run(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            long deadline = Environment.TickCount64 + 60_000;
            int wrong = 0;
            for (int i = 0; i < Channels; i++)
            {
                int value;
                while (!receivers[i].TryRecv(out value))
                {
                    if (Environment.TickCount64 > deadline)
                    {
                        throw new TimeoutException($"channel {i} never delivered");
                    }
                }

                if (value != i + 1)
                {
                    wrong++;
                }
            }

            return wrong;
        }, "the spinning receiver", TimeSpan.FromSeconds(90));
        Bounded.Wait(send, "the sender");
        Assert.True(bad == 0, $"TryRecv returned true with a value not yet written on {bad} of {Channels} channels");
    }

    [Fact]
    public void TryRecv_SpinningAgainstSenderDispose_AlwaysThrowsClosed()
    {
        var senders = new OneshotSender<int>[Channels];
        var receivers = new OneshotReceiver<int>[Channels];
        for (int i = 0; i < Channels; i++)
        {
            (senders[i], receivers[i]) = Oneshot.Create<int>();
        }

        using var go = new Barrier(2);
        Task close = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < Channels; i++)
            {
                senders[i].Dispose();
            }
        });
        int bad = Bounded.Run(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            long deadline = Environment.TickCount64 + 60_000;
            int wrong = 0;
            for (int i = 0; i < Channels; i++)
            {
                while (true)
                {
                    try
                    {
                        if (receivers[i].TryRecv(out _))
                        {
                            wrong++; // a closed channel yielded a "value"
                            break;
                        }
                    }
                    catch (ClosedChannelException)
                    {
                        break;
                    }

                    if (Environment.TickCount64 > deadline)
                    {
                        throw new TimeoutException($"channel {i} never closed");
                    }
                }
            }

            return wrong;
        }, "the spinning receiver", TimeSpan.FromSeconds(90));
        Bounded.Wait(close, "the closer");
        Assert.True(bad == 0, $"TryRecv returned a value on {bad} of {Channels} channels whose sender was disposed without sending");
    }

    [Fact]
    public void CloseRacingSend_SenderAndReceiverAgreeOnTheOutcome()
    {
        const int N = 100_000;
        int disagreements = 0;
        var pairs = new (OneshotSender<int> Tx, OneshotReceiver<int> Rx)[N];
        for (int i = 0; i < N; i++)
        {
            pairs[i] = Oneshot.Create<int>();
        }

        var sent = new bool[N];
        using var go = new Barrier(2);
        Task sender = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < N; i++)
            {
                sent[i] = pairs[i].Tx.TrySend(i);
            }
        });
        Task closer = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 0; i < N; i++)
            {
                pairs[i].Rx.Close();
            }
        });
        Bounded.Wait(sender, "sender");
        Bounded.Wait(closer, "closer");
        for (int i = 0; i < N; i++)
        {
            bool received;
            try
            {
                received = pairs[i].Rx.TryRecv(out int v) && v == i;
            }
            catch (ClosedChannelException)
            {
                received = false;
            }

            if (received != sent[i])
            {
                disagreements++;
            }
        }

        Assert.Equal(0, disagreements);
    }

    [Fact]
    public void RecvAsyncCancelRacingSend_ValueIsReceivedOrSendIsRefused()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        (int lost, int rounds) = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(80);
            int lostValues = 0;
            const int Rounds = 20_000;
            for (int i = 0; i < Rounds; i++)
            {
                var (tx, rx) = Oneshot.Create<int>();
                using var cts = new CancellationTokenSource();
                ValueTask<int> recv = rx.RecvAsync(cts.Token);
                int spin = rng.Next(100);
                bool accepted = false;
                Task s = Task.Run(() =>
                {
                    Thread.SpinWait(spin);
                    accepted = tx.TrySend(i);
                });
                Task c = Task.Run(cts.Cancel);
                bool got;
                try
                {
                    got = await recv == i;
                }
                catch (OperationCanceledException)
                {
                    got = false;
                }

                await Task.WhenAll(s, c);

                // Documented cancel safety: once cancelled, a later send is refused; a send that wins is received.
                if (accepted && !got)
                {
                    lostValues++;
                }
            }

            return (lostValues, Rounds);
        }, TimeSpan.FromSeconds(120));
        Assert.True(lost == 0, $"{lost} of {rounds} values were accepted by TrySend but never received");
    }
}
