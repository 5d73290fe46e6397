using System.Collections.Concurrent;
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Broadcast races on a 2-worker runtime: many senders and receivers with random capacities (so lag happens),
/// random cancellation of receives, receiver tasks aborted at random points, subscribe/dispose churn.
/// The accounting that must always hold: for every receiver, received + skipped (lag) = sent since it
/// subscribed, with each sender's values in order and none twice.
/// </summary>
public class BroadcastStressTests
{
    private static readonly int[] Capacities = [1, 2, 4, 16, 64, 1024];

    private static int Encode(int sender, int seq) => sender << 20 | seq;

    /// <summary>Checks one receiver's values: per-sender strictly increasing, no duplicates; returns a problem or null.</summary>
    private static string? CheckOrder(List<int> values, int senders)
    {
        var last = new int[senders];
        Array.Fill(last, -1);
        foreach (int v in values)
        {
            int s = v >> 20;
            int seq = v & 0xFFFFF;
            if (seq <= last[s])
            {
                return $"sender {s}: {seq} after {last[s]}";
            }

            last[s] = seq;
        }

        return null;
    }

    [Fact]
    public void SendersAndReceivers_RandomCapacityAndCancellation_EveryValueReceivedOrCountedAsSkipped()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(300);
            long totalCancels = 0, totalSkipped = 0;
            for (int round = 0; round < 1_000; round++)
            {
                int senders = rng.Next(1, 4);
                int receivers = rng.Next(1, 5);
                int perSender = rng.Next(20, 200);
                int capacity = Capacities[rng.Next(Capacities.Length)];
                int cancelOneIn = rng.Next(2, 10);
                var (tx, first) = Broadcast.Create<int>(capacity);
                var rxs = new List<BroadcastReceiver<int>> { first };
                for (int r = 1; r < receivers; r++)
                {
                    rxs.Add(tx.Subscribe());
                }

                var readers = new List<JoinHandle<(List<int> Values, long Skipped, int Cancels)>>();
                for (int r = 0; r < receivers; r++)
                {
                    BroadcastReceiver<int> rx = rxs[r];
                    int seed = rng.Next();
                    readers.Add(KyotoTask.Spawn(async () =>
                    {
                        var local = new Random(seed);
                        var values = new List<int>();
                        long skipped = 0;
                        int cancels = 0;
                        while (true)
                        {
                            CancellationTokenSource? cts = local.Next(cancelOneIn) == 0 ? new CancellationTokenSource() : null;
                            try
                            {
                                ValueTask<int> recv = rx.RecvAsync(cts?.Token ?? default);
                                if (cts is not null)
                                {
                                    // Cancel from another task (maybe another worker), racing the sends.
                                    int yields = local.Next(3);
                                    CancellationTokenSource c = cts;
                                    _ = KyotoTask.Spawn(async () =>
                                    {
                                        for (int i = 0; i < yields; i++)
                                        {
                                            await KyotoTask.Yield();
                                        }

                                        c.Cancel();
                                    });
                                }

                                values.Add(await recv);
                            }
                            catch (OperationCanceledException)
                            {
                                cancels++;
                            }
                            catch (BroadcastLaggedException lag)
                            {
                                skipped += lag.SkippedCount;
                            }
                            catch (ClosedChannelException)
                            {
                                return (values, skipped, cancels);
                            }

                            if (local.Next(4) == 0)
                            {
                                await KyotoTask.Yield();
                            }
                        }
                    }));
                }

                var writers = new List<JoinHandle>();
                for (int s = 0; s < senders; s++)
                {
                    BroadcastSender<int> mine = tx.Clone();
                    int id = s;
                    int seed = rng.Next();
                    writers.Add(KyotoTask.Spawn(async () =>
                    {
                        var local = new Random(seed);
                        using (mine)
                        {
                            for (int i = 0; i < perSender; i++)
                            {
                                mine.Send(Encode(id, i));
                                if (local.Next(3) == 0)
                                {
                                    await KyotoTask.Yield();
                                }
                            }
                        }
                    }));
                }

                tx.Dispose();
                foreach (JoinHandle w in writers)
                {
                    await w;
                }

                int total = senders * perSender;
                for (int r = 0; r < receivers; r++)
                {
                    (List<int> values, long skipped, int cancels) = await readers[r];
                    totalCancels += cancels;
                    totalSkipped += skipped;
                    if (values.Count + skipped != total)
                    {
                        return $"round {round}, receiver {r}: received {values.Count} + skipped {skipped} != sent {total} (capacity {capacity})";
                    }

                    if (CheckOrder(values, senders) is { } problem)
                    {
                        return $"round {round}, receiver {r}: {problem}";
                    }

                    if (capacity >= total && skipped != 0)
                    {
                        return $"round {round}, receiver {r}: lagged by {skipped} although the ring holds everything";
                    }
                }
            }

            // The races must have happened, or the test proves nothing.
            return totalCancels == 0 ? "no receive was ever cancelled" : totalSkipped == 0 ? "no receiver ever lagged" : null;
        }, TimeSpan.FromSeconds(60));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void ReceiverTasksAbortedAtRandomPoints_NextTaskOnTheSameReceiverLosesNothing()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(301);
            int totalAborts = 0;
            for (int round = 0; round < 300; round++)
            {
                int total = rng.Next(200, 800);
                int capacity = Capacities[rng.Next(Capacities.Length)];
                var (tx, rx) = Broadcast.Create<int>(capacity);
                int senderSeed = rng.Next();
                JoinHandle sender = KyotoTask.Spawn(async () =>
                {
                    var local = new Random(senderSeed);
                    using (tx)
                    {
                        for (int i = 0; i < total; i++)
                        {
                            tx.Send(Encode(0, i));
                            if (local.Next(2) == 0)
                            {
                                await KyotoTask.Yield();
                            }
                        }
                    }
                });

                // One consumer task at a time on the same receiver; each is aborted after a random number of yields.
                var values = new List<int>();
                long skipped = 0;
                bool closed = false;
                int aborts = 0;
                while (!closed)
                {
                    JoinHandle<bool> consumer = KyotoTask.Spawn(async () =>
                    {
                        while (true)
                        {
                            try
                            {
                                int v = await rx.RecvAsync();
                                values.Add(v); // no await between the receive and this: abort cannot fall in between
                            }
                            catch (BroadcastLaggedException lag)
                            {
                                skipped += lag.SkippedCount;
                            }
                            catch (ClosedChannelException)
                            {
                                return true;
                            }
                        }
                    });
                    int yields = rng.Next(0, 6);
                    for (int i = 0; i < yields; i++)
                    {
                        await KyotoTask.Yield();
                    }

                    consumer.Abort();
                    try
                    {
                        closed = await consumer;
                    }
                    catch (JoinException e) when (e.IsCancelled)
                    {
                        aborts++;
                    }
                }

                await sender;
                if (values.Count + skipped != total)
                {
                    return $"round {round}: received {values.Count} + skipped {skipped} != sent {total} (capacity {capacity}, {aborts} aborts)";
                }

                if (CheckOrder(values, 1) is { } problem)
                {
                    return $"round {round}: {problem}";
                }

                if (rx.Core.WaiterCount != 0)
                {
                    return $"round {round}: {rx.Core.WaiterCount} waiter(s) left behind by aborted tasks";
                }

                totalAborts += aborts;
            }

            return totalAborts == 0 ? "no consumer was ever aborted" : null;
        }, TimeSpan.FromSeconds(60));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void SubscribeAndDisposeChurnWhileSending_CountsReturnToZeroAndEverySlotIsReleased()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(302);
            for (int round = 0; round < 500; round++)
            {
                int capacity = Capacities[rng.Next(Capacities.Length - 1)];
                var (tx, seedRx) = Broadcast.Create<object>(capacity);
                int sends = rng.Next(100, 400);
                var errors = new ConcurrentQueue<string>();
                int churners = rng.Next(1, 4);
                var handles = new List<JoinHandle>();
                for (int c = 0; c < churners; c++)
                {
                    int seed = rng.Next();
                    BroadcastReceiver<object> start = c == 0 ? seedRx : tx.Subscribe();
                    handles.Add(KyotoTask.Spawn(async () =>
                    {
                        var local = new Random(seed);
                        BroadcastReceiver<object> rx = start;
                        while (true)
                        {
                            int action = local.Next(10);
                            try
                            {
                                if (action == 0)
                                {
                                    // Leave mid-stream, possibly with unread values, and come back.
                                    BroadcastReceiver<object> next = rx.Resubscribe();
                                    rx.Dispose();
                                    rx = next;
                                }
                                else if (action == 1)
                                {
                                    // Dispose from another task while this one may be waiting.
                                    BroadcastReceiver<object> doomed = rx;
                                    rx = rx.Resubscribe();
                                    ValueTask<object> pending = doomed.RecvAsync();
                                    JoinHandle disposer = KyotoTask.Spawn(async () =>
                                    {
                                        await KyotoTask.Yield();
                                        doomed.Dispose();
                                    });
                                    try
                                    {
                                        await pending;
                                    }
                                    catch (Exception e) when (e is ObjectDisposedException or BroadcastLaggedException or ClosedChannelException)
                                    {
                                    }

                                    await disposer;
                                }
                                else
                                {
                                    await rx.RecvAsync();
                                }
                            }
                            catch (BroadcastLaggedException)
                            {
                            }
                            catch (ClosedChannelException)
                            {
                                rx.Dispose();
                                return;
                            }
                            catch (Exception e)
                            {
                                errors.Enqueue(e.ToString());
                                rx.Dispose();
                                return;
                            }
                        }
                    }));
                }

                BroadcastReceiver<object> watcher = tx.Subscribe(); // never reads: its claims are released by Dispose
                for (int i = 0; i < sends; i++)
                {
                    tx.TrySend(new object(), out _);
                    if (rng.Next(3) == 0)
                    {
                        await KyotoTask.Yield();
                    }
                }

                BroadcastCore<object> core = watcher.Core;
                tx.Dispose();
                foreach (JoinHandle h in handles)
                {
                    await h;
                }

                if (!errors.IsEmpty)
                {
                    return $"round {round}: {errors.First()}";
                }

                watcher.Dispose();
                if (core.ReceiverCount != 0)
                {
                    return $"round {round}: {core.ReceiverCount} receiver(s) still counted after every receiver was disposed";
                }

                long tail = core.TailPos;
                for (long pos = Math.Max(0, tail - core.Capacity); pos < tail; pos++)
                {
                    if (core.IsRetained(pos))
                    {
                        return $"round {round}: position {pos} still holds its value after every receiver left (capacity {capacity})";
                    }
                }
            }

            return null;
        }, TimeSpan.FromSeconds(60));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void TryRecvSpinningOnThreads_AgainstSendersOnThreads_NoLossNoDuplicates()
    {
        const int Senders = 2;
        const int PerSender = 300_000;
        var (tx, first) = Broadcast.Create<int>(64);
        var rxs = new[] { first, tx.Subscribe() };
        using var go = new Barrier(Senders + rxs.Length);
        var senders = Enumerable.Range(0, Senders).Select(s =>
        {
            BroadcastSender<int> mine = tx.Clone();
            return Bounded.OnThread(() =>
            {
                go.SignalAndWait(Bounded.Timeout);
                using (mine)
                {
                    for (int i = 0; i < PerSender; i++)
                    {
                        mine.Send(Encode(s, i));
                    }
                }
            });
        }).ToList();
        tx.Dispose();
        var readers = rxs.Select(rx => Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            var values = new List<int>();
            long skipped = 0;
            long deadline = Environment.TickCount64 + 60_000;
            while (Environment.TickCount64 < deadline)
            {
                switch (rx.TryRecv(out int v, out long lag))
                {
                    case BroadcastRecvStatus.Received:
                        values.Add(v);
                        break;
                    case BroadcastRecvStatus.Lagged:
                        skipped += lag;
                        break;
                    case BroadcastRecvStatus.Closed:
                        return (values, skipped);
                    default:
                        Thread.SpinWait(20);
                        break;
                }
            }

            throw new TimeoutException("the channel never closed");
        })).ToList();
        foreach (Task s in senders)
        {
            Bounded.Wait(s, "a sender thread");
        }

        foreach (var reader in readers)
        {
            (List<int> values, long skipped) = Bounded.Result(reader, "a spinning receiver");
            Assert.Equal(Senders * PerSender, values.Count + skipped);
            Assert.Null(CheckOrder(values, Senders));
        }
    }
}
