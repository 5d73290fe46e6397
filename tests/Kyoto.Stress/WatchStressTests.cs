using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Watch races: torn reads of a large struct against writers, change waits with random cancellation against a
/// stream of sends (no lost wake-up: every receiver ends on the last value), close racing waits, ClosedAsync
/// racing receiver disposal.
/// </summary>
public class WatchStressTests
{
    /// <summary>
    /// A struct far too large to copy atomically (32 longs, so a reader's copy takes a while) whose elements
    /// writers always keep equal.
    /// </summary>
    private struct Quad
    {
        private Longs32 _items;

        public static Quad Of(long v)
        {
            var q = default(Quad);
            ((Span<long>)q._items).Fill(v);
            return q;
        }

        public readonly long A => _items[0];

        public readonly bool IsConsistent
        {
            get
            {
                ReadOnlySpan<long> items = _items;
                foreach (long x in items)
                {
                    if (x != items[0])
                    {
                        return false;
                    }
                }

                return true;
            }
        }

        /// <summary>Rewrites the elements one at a time, in place, with pauses: a wide window for a torn read.</summary>
        public void SetSlowly(long v)
        {
            Span<long> items = _items;
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = v;
                if ((i & 7) == 7)
                {
                    Thread.SpinWait(2);
                }
            }
        }
    }

    [System.Runtime.CompilerServices.InlineArray(32)]
    private struct Longs32
    {
        private long _first;
    }

    [Fact]
    public void BorrowOnThreads_AgainstSendAndModifyOnThreads_NeverSeesATornValue()
    {
        const int Writes = 200_000;
        var (tx, rx) = Watch.Create(Quad.Of(0));
        WatchSender<Quad> tx2 = tx.Clone();
        WatchReceiver<Quad> rx2 = rx.Clone();
        using var go = new Barrier(4);
        int done = 0;
        Task w1 = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 1; i <= Writes; i++)
            {
                tx.Send(Quad.Of(i));
                Thread.SpinWait(20); // leave the value stable now and then, so readers take the lock-free path
            }

            Interlocked.Increment(ref done);
        });
        Task w2 = Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            for (int i = 1; i <= Writes; i++)
            {
                if ((i & 1) == 0)
                {
                    tx2.SendModify((ref Quad q) => q.SetSlowly(-q.A));
                }
                else
                {
                    tx2.SendIfModified((ref Quad q) =>
                    {
                        q.SetSlowly(q.A + 1_000_000);
                        return true;
                    });
                }

                Thread.SpinWait(20);
            }

            Interlocked.Increment(ref done);
        });
        Func<WatchReceiver<Quad>, bool, Task<(long Reads, long Torn)>> reader = (r, update) => Bounded.OnThread(() =>
        {
            go.SignalAndWait(Bounded.Timeout);
            long reads = 0, torn = 0;
            while (Volatile.Read(ref done) < 2)
            {
                Quad q = update ? r.BorrowAndUpdate() : r.Borrow();
                reads++;
                if (!q.IsConsistent)
                {
                    torn++;
                }
            }

            return (reads, torn);
        });
        Task<(long Reads, long Torn)> r1 = reader(rx, false);
        Task<(long Reads, long Torn)> r2 = reader(rx2, true);
        Bounded.Wait(w1, "writer 1");
        Bounded.Wait(w2, "writer 2");
        (long reads1, long torn1) = Bounded.Result(r1, "reader 1");
        (long reads2, long torn2) = Bounded.Result(r2, "reader 2");
        Assert.True(torn1 + torn2 == 0, $"{torn1 + torn2} torn values in {reads1 + reads2} reads");
        Assert.True(tx.Borrow().IsConsistent);
    }

    [Fact]
    public void ChangeWaitsWithRandomCancellation_AgainstSends_EveryReceiverEndsOnTheLastValue()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(400);
            for (int round = 0; round < 3_000; round++)
            {
                int receivers = rng.Next(1, 6);
                int sends = rng.Next(1, 60);
                int cancelOneIn = rng.Next(2, 6);
                var (tx, first) = Watch.Create(0);
                var handles = new List<JoinHandle<string?>>();
                for (int r = 0; r < receivers; r++)
                {
                    WatchReceiver<int> rx = r == 0 ? first : first.Clone();
                    int seed = rng.Next();
                    handles.Add(KyotoTask.Spawn(async () =>
                    {
                        var local = new Random(seed);
                        int seen = 0;
                        while (seen != sends)
                        {
                            CancellationTokenSource? cts = local.Next(cancelOneIn) == 0 ? new CancellationTokenSource() : null;
                            try
                            {
                                ValueTask changed = rx.ChangedAsync(cts?.Token ?? default);
                                if (cts is not null)
                                {
                                    CancellationTokenSource c = cts;
                                    int yields = local.Next(3);
                                    _ = KyotoTask.Spawn(async () =>
                                    {
                                        for (int i = 0; i < yields; i++)
                                        {
                                            await KyotoTask.Yield();
                                        }

                                        c.Cancel();
                                    });
                                }

                                await changed;
                            }
                            catch (OperationCanceledException)
                            {
                                continue;
                            }

                            int v = rx.BorrowAndUpdate();
                            if (v < seen)
                            {
                                return $"went back from {seen} to {v}";
                            }

                            seen = v;
                        }

                        rx.Dispose();
                        return null;
                    }));
                }

                for (int i = 1; i <= sends; i++)
                {
                    if (rng.Next(3) == 0)
                    {
                        tx.SendModify((ref int x) => x++);
                    }
                    else
                    {
                        tx.SendReplace(i);
                    }

                    if (rng.Next(2) == 0)
                    {
                        await KyotoTask.Yield();
                    }
                }

                foreach (JoinHandle<string?> h in handles)
                {
                    if (await h is { } problem)
                    {
                        return $"round {round}: {problem}";
                    }
                }

                // Every receiver disposed itself: ClosedAsync completes at once.
                await tx.ClosedAsync();
                if (first.Core.ChangeWaiterCount != 0)
                {
                    return $"round {round}: {first.Core.ChangeWaiterCount} waiter(s) left behind";
                }

                tx.Dispose();
            }

            return null;
        }, TimeSpan.FromSeconds(60));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void CloseRacingChangeWaits_EveryWaiterEndsWithTheLastValueOrClosed()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        string? failure = rt.BlockOnBounded(async () =>
        {
            Random rng = Seeds.For(401);
            for (int round = 0; round < 10_000; round++)
            {
                var (tx, first) = Watch.Create(0);
                int receivers = rng.Next(1, 4);
                var handles = new List<JoinHandle<int>>();
                for (int r = 0; r < receivers; r++)
                {
                    WatchReceiver<int> rx = r == 0 ? first : first.Clone();
                    handles.Add(KyotoTask.Spawn(async () =>
                    {
                        int last = 0;
                        try
                        {
                            while (true)
                            {
                                await rx.ChangedAsync();
                                last = rx.BorrowAndUpdate();
                            }
                        }
                        catch (ClosedChannelException)
                        {
                            // Closed with nothing unseen: the last value must have been seen.
                            return last;
                        }
                    }));
                }

                int sends = rng.Next(0, 4);
                int spin = rng.Next(200);
                JoinHandle closer = KyotoTask.Spawn(async () =>
                {
                    for (int i = 1; i <= sends; i++)
                    {
                        tx.Send(i);
                    }

                    if (spin > 100)
                    {
                        await KyotoTask.Yield();
                    }

                    Thread.SpinWait(spin);
                    tx.Dispose();
                });
                await closer;
                for (int r = 0; r < receivers; r++)
                {
                    int last = await handles[r];
                    if (last != sends)
                    {
                        return $"round {round}, receiver {r}: ended on {last}, not on the last value {sends}";
                    }
                }
            }

            return null;
        }, TimeSpan.FromSeconds(60));
        Assert.True(failure is null, $"{failure} {Seeds.Describe}");
    }

    [Fact]
    public void ClosedAsyncRacingReceiverDisposalOnThreads_AlwaysCompletes()
    {
        const int Rounds = 20_000;
        Random rng = Seeds.For(402);
        for (int round = 0; round < Rounds; round++)
        {
            var (tx, first) = Watch.Create(0);
            int receivers = rng.Next(1, 4);
            var rxs = new List<WatchReceiver<int>> { first };
            for (int r = 1; r < receivers; r++)
            {
                rxs.Add(tx.Subscribe());
            }

            int spin = rng.Next(300);
            Task disposer = Task.Run(() =>
            {
                Thread.SpinWait(spin);
                foreach (WatchReceiver<int> rx in rxs)
                {
                    rx.Dispose();
                }
            });
            ValueTask closed = tx.ClosedAsync();
            Assert.True(Bounded.Finishes(closed.AsTask(), TimeSpan.FromSeconds(10)), $"round {round}: ClosedAsync never completed {Seeds.Describe}");
            Bounded.Wait(disposer, "the disposer");
            Assert.True(tx.IsClosed);
            Assert.Equal(0, first.Core.ClosedWaiterCount);
        }
    }
}
