using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Mpsc races: many producers using every way of sending against a receiver using every way of receiving,
/// random cancellation of sends and receives, close racing sends and reservations, aborted senders and
/// receivers, and plain threads on the blocking entry points. Values are producer * Stride + sequence, so the
/// receiver checks that each producer's accepted values arrive once each and in order.
/// </summary>
public class MpscStressTests
{
    private const int Stride = 1_000_000;

    /// <summary>Checks <paramref name="received"/> against what each producer had accepted, in order; null if they match.</summary>
    private static string? Compare(List<int> received, List<int>[] accepted)
    {
        var perProducer = new List<int>[accepted.Length];
        for (int p = 0; p < accepted.Length; p++)
        {
            perProducer[p] = new List<int>();
        }

        foreach (int v in received)
        {
            int p = v / Stride;
            if (p < 0 || p >= accepted.Length)
            {
                return $"received {v}, from no producer";
            }

            perProducer[p].Add(v % Stride);
        }

        for (int p = 0; p < accepted.Length; p++)
        {
            List<int> want = accepted[p];
            List<int> got = perProducer[p];
            if (!want.SequenceEqual(got))
            {
                int at = 0;
                while (at < want.Count && at < got.Count && want[at] == got[at])
                {
                    at++;
                }

                return $"producer {p}: {want.Count} values accepted, {got.Count} received; first difference at index {at} " +
                    $"(accepted {(at < want.Count ? want[at].ToString() : "-")}, received {(at < got.Count ? got[at].ToString() : "-")})";
            }
        }

        return null;
    }

    /// <summary>Receives until closed, each time in a randomly chosen way.</summary>
    private static async Task<List<int>> ReceiveAllAsync(MpscReceiver<int> rx, Random rng, Func<int>? cancelEvery = null)
    {
        var got = new List<int>();
        var buffer = new int[8];
        while (true)
        {
            switch (rng.Next(4))
            {
                case 0:
                    if (rx.TryRecv(out int t))
                    {
                        got.Add(t);
                    }
                    else if (rx.IsClosed && rx.IsEmpty)
                    {
                        // Closed, but reserved values may still come: a RecvAsync tells for sure.
                        goto case 1;
                    }
                    else
                    {
                        await KyotoTask.Yield();
                    }

                    break;
                case 1:
                    using (var cts = new CancellationTokenSource())
                    {
                        if (cancelEvery is not null && rng.Next(cancelEvery()) == 0)
                        {
                            cts.CancelAfter(TimeSpan.FromTicks(rng.Next(1, 2000)));
                        }

                        try
                        {
                            got.Add(await rx.RecvAsync(cts.Token));
                        }
                        catch (OperationCanceledException)
                        {
                        }
                        catch (ClosedChannelException)
                        {
                            return got;
                        }
                    }

                    break;
                case 2:
                    int n = await rx.RecvManyAsync(buffer.AsMemory(0, rng.Next(1, buffer.Length + 1)));
                    if (n == 0)
                    {
                        return got;
                    }

                    got.AddRange(buffer.Take(n));
                    break;
                default:
                    await using (IAsyncEnumerator<int> e = rx.GetAsyncEnumerator())
                    {
                        for (int i = rng.Next(1, 20); i > 0; i--)
                        {
                            if (!await e.MoveNextAsync())
                            {
                                return got;
                            }

                            got.Add(e.Current);
                        }
                    }

                    break;
            }
        }
    }

    [Fact]
    public void ManyProducersEveryWayOfSending_EveryValueOnceInProducerOrder()
    {
        const int Producers = 6;
        const int PerProducer = 3_000;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        foreach (int capacity in new[] { 1, 2, 3, 16, 0, 1500 })
        {
            string? problem = rt.BlockOnBounded(async () =>
            {
                Random rng = Seeds.For(60 + capacity);
                var accepted = new List<int>[Producers];
                var handles = new List<JoinHandle>();
                Task? blockingProducer = null;
                MpscReceiver<int> rx;
                if (capacity == 0)
                {
                    var (utx, urx) = Mpsc.CreateUnbounded<int>();
                    rx = urx;
                    for (int p = 0; p < Producers; p++)
                    {
                        MpscUnboundedSender<int> mine = utx.Clone();
                        int id = p;
                        accepted[p] = Enumerable.Range(0, PerProducer).ToList();
                        Random r = Seeds.For(600 + p);
                        handles.Add(KyotoTask.Spawn(async () =>
                        {
                            using (mine)
                            {
                                for (int i = 0; i < PerProducer; i++)
                                {
                                    if (r.Next(2) == 0)
                                    {
                                        mine.Send(id * Stride + i);
                                    }
                                    else
                                    {
                                        Assert.True(mine.TrySend(id * Stride + i));
                                    }

                                    if (r.Next(16) == 0)
                                    {
                                        await KyotoTask.Yield();
                                    }
                                }
                            }
                        }));
                    }

                    utx.Dispose();
                }
                else
                {
                    var (tx, brx) = Mpsc.CreateBounded<int>(capacity);
                    rx = brx;
                    for (int p = 0; p < Producers; p++)
                    {
                        MpscSender<int> mine = tx.Clone();
                        int id = p;
                        accepted[p] = Enumerable.Range(0, PerProducer).ToList();
                        Random r = Seeds.For(700 + p);
                        if (p == 0)
                        {
                            // A plain thread on the blocking entry point.
                            blockingProducer = Bounded.OnThread(() =>
                            {
                                using (mine)
                                {
                                    for (int i = 0; i < PerProducer; i++)
                                    {
                                        mine.BlockingSend(id * Stride + i);
                                    }
                                }
                            }, "blocking producer");
                            continue;
                        }

                        handles.Add(KyotoTask.Spawn(async () =>
                        {
                            using (mine)
                            {
                                for (int i = 0; i < PerProducer; i++)
                                {
                                    int v = id * Stride + i;
                                    switch (r.Next(5))
                                    {
                                        case 0:
                                            await mine.SendAsync(v);
                                            break;
                                        case 1:
                                            while (!mine.TrySend(v))
                                            {
                                                await KyotoTask.Yield();
                                            }

                                            break;
                                        case 2:
                                            MpscPermit<int> permit = await mine.ReserveAsync();
                                            if (r.Next(2) == 0)
                                            {
                                                await KyotoTask.Yield(); // the room stays ours meanwhile
                                            }

                                            permit.Send(v);
                                            break;
                                        case 3:
                                            MpscPermit<int> quick;
                                            while (!mine.TryReserve(out quick))
                                            {
                                                await KyotoTask.Yield();
                                            }

                                            quick.Send(v);
                                            break;
                                        default:
                                            await mine.SendAsync(v, TimeSpan.FromSeconds(60));
                                            break;
                                    }
                                }
                            }
                        }));
                    }

                    tx.Dispose();
                }

                List<int> received = await ReceiveAllAsync(rx, rng);
                foreach (JoinHandle h in handles)
                {
                    await h;
                }

                if (blockingProducer is not null)
                {
                    await blockingProducer.WaitAsync(Bounded.Timeout);
                }

                return Compare(received, accepted);
            }, TimeSpan.FromSeconds(60));
            Assert.True(problem is null, $"capacity {capacity}: {problem} {Seeds.Describe}");
        }
    }

    [Fact]
    public void RandomlyCancelledSendsAndReceives_ExactlyTheAcceptedValuesArriveInOrder()
    {
        // A send that throws OperationCanceledException sent nothing; a send that returned sent its value, even if
        // its token was cancelled after the room was granted. A cancelled receive takes nothing.
        const int Producers = 5;
        const int PerProducer = 3_000;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        foreach (int capacity in new[] { 1, 4, 64 })
        {
            (string? problem, int cancelledSends) = rt.BlockOnBounded(async () =>
            {
                var (tx, rx) = Mpsc.CreateBounded<int>(capacity);
                var accepted = new List<int>[Producers];
                int cancelled = 0;
                var handles = new JoinHandle[Producers];
                for (int p = 0; p < Producers; p++)
                {
                    MpscSender<int> mine = tx.Clone();
                    var list = accepted[p] = new List<int>();
                    int id = p;
                    Random r = Seeds.For(800 + p * 10 + capacity);
                    handles[p] = KyotoTask.Spawn(async () =>
                    {
                        using (mine)
                        {
                            for (int i = 0; i < PerProducer; i++)
                            {
                                using var cts = new CancellationTokenSource();
                                int mode = r.Next(4);
                                if (mode == 0)
                                {
                                    cts.CancelAfter(TimeSpan.FromTicks(r.Next(1, 3000)));
                                }
                                else if (mode == 1)
                                {
                                    CancellationTokenSource target = cts;
                                    _ = KyotoTask.Spawn(() =>
                                    {
                                        try
                                        {
                                            target.Cancel();
                                        }
                                        catch (ObjectDisposedException)
                                        {
                                        }

                                        return Task.CompletedTask;
                                    });
                                }

                                try
                                {
                                    if (r.Next(3) == 0)
                                    {
                                        MpscPermit<int> permit = await mine.ReserveAsync(cts.Token);
                                        permit.Send(id * Stride + i);
                                    }
                                    else
                                    {
                                        await mine.SendAsync(id * Stride + i, cts.Token);
                                    }

                                    list.Add(i);
                                }
                                catch (OperationCanceledException)
                                {
                                    Interlocked.Increment(ref cancelled);
                                }
                            }
                        }
                    });
                }

                tx.Dispose();
                List<int> received = await ReceiveAllAsync(rx, Seeds.For(890 + capacity), cancelEvery: () => 3);
                foreach (JoinHandle h in handles)
                {
                    await h;
                }

                return (Compare(received, accepted), Volatile.Read(ref cancelled));
            }, TimeSpan.FromSeconds(60));
            Assert.True(problem is null, $"capacity {capacity}: {problem} {Seeds.Describe}");
            Assert.True(cancelledSends > 0, $"capacity {capacity}: no send was cancelled, the test exercised nothing");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CloseRacingSendsAndReservations_EveryAcceptedValueIsReceivedAndNothingElse(bool closedBySenders)
    {
        // Producers send, reserve-then-send and try-send while the channel closes: either the receiver closes it,
        // or (closedBySenders) every sender is disposed while some producers still hold reserved permits, which
        // must still be delivered. Each send's outcome is recorded; the drained values must be exactly the
        // accepted ones.
        const int Rounds = 150;
        const int Producers = 4;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(closedBySenders ? 901 : 900);
            for (int round = 0; round < Rounds; round++)
            {
                int capacity = rng.Next(1, 8);
                var (tx, rx) = Mpsc.CreateBounded<int>(capacity);
                var accepted = new List<int>[Producers];
                int wrongUnsent = 0;
                var handles = new JoinHandle[Producers];
                int closeAfter = rng.Next(0, 400);
                for (int p = 0; p < Producers; p++)
                {
                    MpscSender<int> mine = tx.Clone();
                    var list = accepted[p] = new List<int>();
                    int id = p;
                    Random r = Seeds.For(1000 + round * 10 + p);
                    handles[p] = KyotoTask.Spawn(async () =>
                    {
                        try
                        {
                            int i = 0;
                            for (; i < 1_000; i++)
                            {
                                int v = id * Stride + i;
                                int kind = r.Next(3);
                                try
                                {
                                    if (kind == 0)
                                    {
                                        await mine.SendAsync(v);
                                        list.Add(i);
                                    }
                                    else if (kind == 1)
                                    {
                                        if (mine.TrySend(v))
                                        {
                                            list.Add(i);
                                        }
                                        else if (mine.IsClosed)
                                        {
                                            break;
                                        }
                                        else
                                        {
                                            await KyotoTask.Yield();
                                        }
                                    }
                                    else
                                    {
                                        MpscPermit<int> permit = await mine.ReserveAsync();
                                        if (r.Next(2) == 0)
                                        {
                                            await KyotoTask.Yield(); // the close may come now: the permit still sends
                                        }

                                        permit.Send(v);
                                        list.Add(i);
                                    }
                                }
                                catch (ClosedChannelException e)
                                {
                                    if (kind == 0 && !(e.UnsentValue is int unsent && unsent == v))
                                    {
                                        Interlocked.Increment(ref wrongUnsent);
                                    }

                                    break;
                                }
                            }

                            // A last reservation held across the close (taken without waiting, so that producers
                            // holding room never wait on each other).
                            bool holding = mine.TryReserve(out MpscPermit<int> last);
                            if (closedBySenders)
                            {
                                mine.Dispose(); // the last sender out closes the channel while others still hold permits
                            }

                            if (holding)
                            {
                                await KyotoTask.Yield();
                                last.Send(id * Stride + i); // reserved before the close: delivered
                                list.Add(i);
                            }
                        }
                        finally
                        {
                            mine.Dispose();
                        }
                    });
                }

                tx.Dispose();
                var received = new List<int>();
                if (!closedBySenders)
                {
                    for (int i = 0; i < closeAfter; i++)
                    {
                        if (rx.TryRecv(out int v))
                        {
                            received.Add(v);
                        }
                        else
                        {
                            await KyotoTask.Yield();
                        }
                    }

                    rx.Close();
                }

                received.AddRange(await DrainAsync(rx));
                foreach (JoinHandle h in handles)
                {
                    await h;
                }

                if (rx.TryRecv(out int straggler))
                {
                    return $"round {round}: {straggler} arrived after the receiver was told the channel was closed";
                }

                string? problem = Compare(received, accepted);
                if (problem is not null)
                {
                    return $"round {round} (capacity {capacity}): {problem}";
                }

                if (wrongUnsent != 0)
                {
                    return $"round {round}: {wrongUnsent} sends failed by the close did not carry their unsent value";
                }
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    /// <summary>Receives until closed.</summary>
    private static async Task<List<int>> DrainAsync(MpscReceiver<int> rx)
    {
        var got = new List<int>();
        while (true)
        {
            try
            {
                got.Add(await rx.RecvAsync());
            }
            catch (ClosedChannelException)
            {
                return got;
            }
        }
    }

    [Fact]
    public void AbortedSendersAndReceivers_NoDuplicateNoReorderAndNoRoomLost()
    {
        // Senders are aborted at random moments (an aborted send sent nothing, or its value was in before the
        // abort); receiving is done by a chain of tasks, each possibly aborted mid-receive (the value stays for the
        // next one). At the end the whole room must be free again.
        const int Capacity = 4;
        const int Producers = 6;
        const int PerProducer = 6_000;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        (string? problem, int room, int abortedSenders) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Mpsc.CreateBounded<int>(Capacity);
            var accepted = new List<int>[Producers];
            var maybe = new int[Producers]; // the value in flight when the producer was aborted, or -1

            // A task aborted before it first runs never runs, so its `using` would never dispose its sender and
            // the channel would never close: abort only producers that have started.
            var started = new int[Producers];
            var handles = new JoinHandle[Producers];
            for (int p = 0; p < Producers; p++)
            {
                MpscSender<int> mine = tx.Clone();
                var list = accepted[p] = new List<int>();
                maybe[p] = -1;
                int id = p;
                handles[p] = KyotoTask.Spawn(async () =>
                {
                    using (mine)
                    {
                        Volatile.Write(ref started[id], 1);
                        for (int i = 0; i < PerProducer; i++)
                        {
                            Volatile.Write(ref maybe[id], i);
                            await mine.SendAsync(id * Stride + i);
                            list.Add(i); // no Kyoto await since the send returned: an abort cannot land in between
                            Volatile.Write(ref maybe[id], -1);
                        }
                    }
                });
            }

            tx.Dispose();
            var received = new List<int>();
            int closed = 0;
            Random rng = Seeds.For(1100);
            int aborts = 0;
            while (Volatile.Read(ref closed) == 0)
            {
                JoinHandle receiver = KyotoTask.Spawn(async () =>
                {
                    while (true)
                    {
                        int v;
                        try
                        {
                            v = await rx.RecvAsync();
                        }
                        catch (ClosedChannelException)
                        {
                            Volatile.Write(ref closed, 1);
                            return;
                        }

                        lock (received)
                        {
                            received.Add(v); // before any further Kyoto await
                        }
                    }
                });
                for (int y = rng.Next(200); y > 0 && !receiver.IsFinished; y--)
                {
                    await KyotoTask.Yield();
                }

                int victim = rng.Next(Producers);
                if (rng.Next(3) == 0 && aborts < 5 && Volatile.Read(ref started[victim]) == 1)
                {
                    handles[victim].Abort();
                    aborts++;
                }

                receiver.Abort();
                await Record.ExceptionAsync(async () => await receiver);
            }

            int abortedCount = 0;
            foreach (JoinHandle h in handles)
            {
                try
                {
                    await h;
                }
                catch (JoinException)
                {
                    abortedCount++;
                }
            }

            // An aborted producer's in-flight value may or may not have gone in: accept it if it arrived, last.
            for (int p = 0; p < Producers; p++)
            {
                int seq = Volatile.Read(ref maybe[p]);
                if (seq >= 0 && received.Contains(p * Stride + seq))
                {
                    accepted[p].Add(seq);
                }
            }

            return (Compare(received, accepted), tx.Capacity, abortedCount);
        }, TimeSpan.FromSeconds(60));
        Assert.True(problem is null, $"{problem} {Seeds.Describe}");
        Assert.True(room == Capacity, $"{room} of {Capacity} slots free after everything was received ({abortedSenders} senders aborted) {Seeds.Describe}");
    }

    [Fact]
    public void AbortedWaitingSenders_RoomIsNeverLost()
    {
        // Fill the channel, park senders waiting for room, then race: the receiver frees room while the root
        // aborts waiting senders. Once everything settles, the free room plus the values inside must equal the capacity.
        const int Rounds = 3_000;
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(1200);
            for (int round = 0; round < Rounds; round++)
            {
                int capacity = rng.Next(1, 4);
                var (tx, rx) = Mpsc.CreateBounded<int>(capacity);
                for (int i = 0; i < capacity; i++)
                {
                    Assert.True(tx.TrySend(-1));
                }

                int senders = rng.Next(1, 6);
                var handles = new JoinHandle[senders];
                for (int s = 0; s < senders; s++)
                {
                    int v = s;
                    bool reserve = rng.Next(2) == 0;
                    handles[s] = KyotoTask.Spawn(async () =>
                    {
                        if (reserve)
                        {
                            MpscPermit<int> permit = await tx.ReserveAsync();
                            permit.Send(v);
                        }
                        else
                        {
                            await tx.SendAsync(v);
                        }
                    });
                }

                JoinHandle freer = KyotoTask.Spawn(async () =>
                {
                    for (int i = 0; i < senders; i++)
                    {
                        rx.TryRecv(out _); // frees one slot of room, handed to the first waiting sender
                        await KyotoTask.Yield();
                    }
                });
                for (int s = 0; s < senders; s++)
                {
                    if (rng.Next(2) == 0)
                    {
                        handles[s].Abort();
                    }

                    if (rng.Next(2) == 0)
                    {
                        await KyotoTask.Yield();
                    }
                }

                await freer;
                int sent = 0;
                foreach (JoinHandle h in handles)
                {
                    // Unaborted senders may still wait for room: make room until they are all done.
                    while (!h.IsFinished)
                    {
                        rx.TryRecv(out _);
                        await KyotoTask.Yield();
                    }

                    if (await Record.ExceptionAsync(async () => await h) is null)
                    {
                        sent++;
                    }
                }

                int inside = rx.Count;
                if (tx.Capacity + inside != capacity)
                {
                    return $"round {round}: capacity {capacity}, {tx.Capacity} free + {inside} inside after {senders} senders ({sent} sent): room was lost or duplicated";
                }

                tx.Dispose();
            }

            return null;
        }, TimeSpan.FromSeconds(120));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void PlainThreadsOnTheBlockingEntryPoints_EveryValueOnceInProducerOrder()
    {
        const int Producers = 3;
        const int PerProducer = 5_000;
        var (tx, rx) = Mpsc.CreateBounded<int>(8);
        var threads = new Task[Producers];
        for (int p = 0; p < Producers; p++)
        {
            MpscSender<int> mine = tx.Clone();
            int id = p;
            threads[p] = Bounded.OnThread(() =>
            {
                using (mine)
                {
                    for (int i = 0; i < PerProducer; i++)
                    {
                        mine.BlockingSend(id * Stride + i);
                    }
                }
            }, "blocking producer");
        }

        tx.Dispose();
        List<int> received = Bounded.Run(() =>
        {
            var all = new List<int>();
            while (true)
            {
                try
                {
                    all.Add(rx.BlockingRecv());
                }
                catch (ClosedChannelException)
                {
                    return all;
                }
            }
        }, "the blocking receiver", TimeSpan.FromSeconds(60));
        foreach (Task t in threads)
        {
            Bounded.Wait(t, "a blocking producer");
        }

        var accepted = Enumerable.Range(0, Producers).Select(_ => Enumerable.Range(0, PerProducer).ToList()).ToArray();
        string? problem = Compare(received, accepted);
        Assert.True(problem is null, problem);
    }
}
