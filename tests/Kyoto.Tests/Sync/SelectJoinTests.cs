using System.Runtime.CompilerServices;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;

namespace Kyoto.Tests.Sync;

/// <summary>Select (race, cancel and await the losers, keep their values) and Join (all / try-all).</summary>
public abstract class SelectJoinTests : RuntimeTestBase
{
    public sealed class MultiThread : SelectJoinTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SelectJoinTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>
    /// A branch that receives from <paramref name="rx"/> with its token; its finally yields before recording
    /// that it finished, so "finished" proves the select waited for it.
    /// </summary>
    private static async ValueTask<int> Recv(OneshotReceiver<int> rx, CancellationToken ct, StrongBox<bool> finished)
    {
        try
        {
            return await rx.RecvAsync(ct);
        }
        finally
        {
            await KyotoTask.Yield();
            await KyotoTask.Yield();
            finished.Value = true;
        }
    }

    /// <summary>As <see cref="Recv"/> without awaits in its finally (an aborted task's awaits throw at once).</summary>
    private static async ValueTask<int> RecvPlain(OneshotReceiver<int> rx, CancellationToken ct, StrongBox<bool> finished)
    {
        try
        {
            return await rx.RecvAsync(ct);
        }
        finally
        {
            finished.Value = true;
        }
    }

    /// <summary>A branch that waits for cancellation and then returns <paramref name="value"/> anyway.</summary>
    private static async ValueTask<int> ReturnsDespiteCancellation(int value, CancellationToken ct)
    {
        var (tx, rx) = Oneshot.Create<int>();
        try
        {
            await rx.RecvAsync(ct);
        }
        catch (OperationCanceledException)
        {
        }

        GC.KeepAlive(tx);
        await KyotoTask.Yield();
        return value;
    }

    [Fact]
    public void AnyAsync_BiasedFirstReady_LaterBranchesNotStarted()
    {
        using var rt = NewRuntime();
        (SelectResult<int> r, int started) = rt.BlockOnBounded(async () =>
        {
            int n = 0;
            SelectResult<int> result = await Select.AnyAsync<int>(
                [
                    _ => new ValueTask<int>(1),
                    _ =>
                    {
                        n++;
                        return new ValueTask<int>(2);
                    },
                ],
                SelectOrder.Biased);
            return (result, n);
        });
        Assert.Equal(0, r.Index);
        Assert.Equal(1, r.Value);
        Assert.Empty(r.LateValues);
        Assert.Equal(0, started);
    }

    [Fact]
    public void AnyAsync_BiasedFirstPendingSecondReady_SecondWinsAndFirstIsCancelledAndAwaited()
    {
        using var rt = NewRuntime();
        (SelectResult<int> r, bool firstFinished, bool thirdStarted) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var finished = new StrongBox<bool>();
            bool third = false;
            SelectResult<int> result = await Select.AnyAsync<int>(
                [
                    ct => Recv(rx, ct, finished),
                    _ => new ValueTask<int>(2),
                    _ =>
                    {
                        third = true;
                        return new ValueTask<int>(3);
                    },
                ],
                SelectOrder.Biased);
            GC.KeepAlive(tx);
            return (result, finished.Value, third);
        });
        Assert.Equal(1, r.Index);
        Assert.Equal(2, r.Value);
        Assert.True(firstFinished, "the select returned before the losing branch finished");
        Assert.False(thirdStarted);
    }

    [Fact]
    public void AnyAsync_UnbiasedAllReady_EveryBranchWinsSometimes()
    {
        using var rt = NewRuntime();
        int[] wins = rt.BlockOnBounded(async () =>
        {
            var counts = new int[3];
            for (int i = 0; i < 300; i++)
            {
                SelectResult<int> r = await Select.AnyAsync<int>(
                [
                    _ => new ValueTask<int>(0),
                    _ => new ValueTask<int>(1),
                    _ => new ValueTask<int>(2),
                ]);
                Assert.Equal(r.Index, r.Value);
                counts[r.Index]++;
            }

            return counts;
        });
        Assert.All(wins, w => Assert.True(w > 0, $"a branch never won in 300 unbiased selects: {string.Join(",", wins)}"));
    }

    [Fact]
    public void AnyAsync_FirstToCompleteWins_LoserCancelledAndAwaitedBeforeReturn()
    {
        using var rt = NewRuntime();
        (SelectResult<int> r, bool loserFinished, bool loserClosed) = rt.BlockOnBounded(async () =>
        {
            var (tx0, rx0) = Oneshot.Create<int>();
            var (tx1, rx1) = Oneshot.Create<int>();
            var f0 = new StrongBox<bool>();
            var f1 = new StrongBox<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx1.TrySend(11);
            });
            SelectResult<int> result = await Select.AnyAsync<int>([ct => Recv(rx0, ct, f0), ct => Recv(rx1, ct, f1)]);
            return (result, f0.Value, tx0.IsClosed);
        });
        Assert.Equal(1, r.Index);
        Assert.Equal(11, r.Value);
        Assert.True(loserFinished, "the select returned before the losing branch finished");
        Assert.True(loserClosed, "the losing receive was not cancelled");
        Assert.Empty(r.LateValues);
        Assert.Empty(r.LoserErrors);
    }

    [Fact]
    public void AnyAsync_LoserReturnsValueDespiteCancellation_ValueIsInLateValues()
    {
        using var rt = NewRuntime();
        SelectResult<int> r = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var f = new StrongBox<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(1);
            });
            return await Select.AnyAsync<int>([ct => ReturnsDespiteCancellation(77, ct), ct => Recv(rx, ct, f)], SelectOrder.Biased);
        });
        Assert.Equal(1, r.Index);
        Assert.Equal(1, r.Value);
        Assert.Equal([(0, 77)], r.LateValues);
    }

    [Fact]
    public void AnyAsync_WinnerFaultsAndNoValue_ThrowsItsExceptionAfterLosersFinished()
    {
        using var rt = NewRuntime();
        (Exception? e, bool loserFinished) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var f = new StrongBox<bool>();
            Exception? ex = await Record.ExceptionAsync(async () => await Select.AnyAsync<int>(
            [
                ct => Recv(rx, ct, f),
                async ct =>
                {
                    await KyotoTask.Yield();
                    throw new InvalidDataException("bad");
                },
            ]));
            GC.KeepAlive(tx);
            return (ex, f.Value);
        });
        Assert.IsType<InvalidDataException>(e);
        Assert.True(loserFinished, "the select threw before the losing branch finished");
    }

    [Fact]
    public void AnyAsync_WinnerFaultsButLoserReturnsValue_ReturnsValueAndReportsFault()
    {
        using var rt = NewRuntime();
        SelectResult<int> r = rt.BlockOnBounded(async () => await Select.AnyAsync<int>(
            [
                ct => ReturnsDespiteCancellation(5, ct),
                async ct =>
                {
                    await KyotoTask.Yield();
                    throw new InvalidDataException("bad");
                },
            ],
            SelectOrder.Biased));
        Assert.Equal(0, r.Index);
        Assert.Equal(5, r.Value);
        (int index, Exception error) = Assert.Single(r.LoserErrors);
        Assert.Equal(1, index);
        Assert.IsType<InvalidDataException>(error);
    }

    [Fact]
    public void AnyAsync_LoserFailsOtherwiseOnCancellation_WinnerReturnedAndErrorReported()
    {
        using var rt = NewRuntime();
        SelectResult<int> r = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var f = new StrongBox<bool>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(3);
            });
            return await Select.AnyAsync<int>(
            [
                async ct =>
                {
                    var (neverTx, neverRx) = Oneshot.Create<int>();
                    try
                    {
                        return await neverRx.RecvAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                        GC.KeepAlive(neverTx);
                        throw new IOException("connection reset while cancelling");
                    }
                },
                ct => Recv(rx, ct, f),
            ]);
        });
        Assert.Equal(1, r.Index);
        Assert.Equal(3, r.Value);
        (int index, Exception error) = Assert.Single(r.LoserErrors);
        Assert.Equal(0, index);
        Assert.IsType<IOException>(error);
    }

    [Fact]
    public void AnyAsync_CallerTokenCancelled_ThrowsForCallerTokenAfterAllBranchesFinished()
    {
        using var rt = NewRuntime();
        (Exception? e, CancellationToken token, bool f0, bool f1) = rt.BlockOnBounded(async () =>
        {
            var (tx0, rx0) = Oneshot.Create<int>();
            var (tx1, rx1) = Oneshot.Create<int>();
            var b0 = new StrongBox<bool>();
            var b1 = new StrongBox<bool>();
            using var cts = new CancellationTokenSource();
            ValueTask<SelectResult<int>> select = Select.AnyAsync<int>([ct => Recv(rx0, ct, b0), ct => Recv(rx1, ct, b1)], cts.Token);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                cts.Cancel();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await select);
            GC.KeepAlive(tx0);
            GC.KeepAlive(tx1);
            return (ex, cts.Token, b0.Value, b1.Value);
        });
        OperationCanceledException oce = Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(token, oce.CancellationToken);
        Assert.True(f0 && f1, "the select threw before every branch finished");
    }

    [Fact]
    public void AnyAsync_AlreadyCancelledToken_StartsNothing()
    {
        using var rt = NewRuntime();
        (bool canceled, int started) = rt.BlockOnBounded(() =>
        {
            int n = 0;
            ValueTask<SelectResult<int>> select = Select.AnyAsync<int>(
                [
                    _ =>
                    {
                        n++;
                        return new ValueTask<int>(1);
                    },
                ],
                new CancellationToken(true));
            return Task.FromResult((select.IsCanceled, n));
        });
        Assert.True(canceled);
        Assert.Equal(0, started);
    }

    [Fact]
    public void AnyAsync_BranchThrowsSynchronously_WinsAndIsRethrown()
    {
        using var rt = NewRuntime();
        (Exception? e, bool secondStarted) = rt.BlockOnBounded(async () =>
        {
            bool started = false;
            Exception? ex = await Record.ExceptionAsync(async () => await Select.AnyAsync<int>(
                [
                    _ => throw new FormatException("sync"),
                    _ =>
                    {
                        started = true;
                        return new ValueTask<int>(1);
                    },
                ],
                SelectOrder.Biased));
            return (ex, started);
        });
        Assert.IsType<FormatException>(e);
        Assert.False(secondStarted);
    }

    [Fact]
    public void AnyAsync_TwoTypedBranches_TryGetReportsEachBranch()
    {
        using var rt = NewRuntime();
        (SelectResult<string, int> r, Exception? noValue) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            SelectResult<string, int> result = await Select.AnyAsync(
                async ct =>
                {
                    await KyotoTask.Yield();
                    return "text";
                },
                ct => rx.RecvAsync(ct));
            GC.KeepAlive(tx);
            return (result, Record.Exception(() => result.Value2));
        });
        Assert.Equal(0, r.Index);
        Assert.True(r.TryGet1(out string? s));
        Assert.Equal("text", s);
        Assert.False(r.TryGet2(out _));
        Assert.False(r.HasValue2);
        Assert.IsType<InvalidOperationException>(noValue);
    }

    [Fact]
    public void AnyAsync_TwoTypedBranchesBothProduce_BothValuesAvailable()
    {
        using var rt = NewRuntime();
        SelectResult<int, string> r = rt.BlockOnBounded(async () => await Select.AnyAsync(
            ct => ReturnsDespiteCancellation(9, ct),
            async ct =>
            {
                await KyotoTask.Yield();
                return "won";
            },
            SelectOrder.Biased));
        Assert.Equal(1, r.Index);
        Assert.Equal("won", r.Value2);
        Assert.True(r.TryGet1(out int late));
        Assert.Equal(9, late);
    }

    [Fact]
    public void AnyAsync_ThreeTypedBranches_ThirdWins()
    {
        using var rt = NewRuntime();
        SelectResult<int, string, double> r = rt.BlockOnBounded(async () =>
        {
            var (tx1, rx1) = Oneshot.Create<int>();
            var (tx2, rx2) = Oneshot.Create<string>();
            SelectResult<int, string, double> result = await Select.AnyAsync(
                ct => rx1.RecvAsync(ct),
                ct => rx2.RecvAsync(ct),
                async ct =>
                {
                    await KyotoTask.Yield();
                    return 2.5;
                });
            GC.KeepAlive(tx1);
            GC.KeepAlive(tx2);
            return result;
        });
        Assert.Equal(2, r.Index);
        Assert.Equal(2.5, r.Value3);
        Assert.False(r.HasValue1);
        Assert.False(r.HasValue2);
        Assert.Empty(r.LoserErrors);
    }

    [Fact]
    public void AnyAsync_TimeoutBranchWinsOnPausedClock_WaiterOfOtherBranchRemoved()
    {
        using var rt = NewRuntime(b => b.StartPaused = true);
        (int index, int waiters, TimeSpan elapsed) = rt.BlockOnBounded(async () =>
        {
            var once = new SetOnce<int>();
            Instant start = Instant.Now;
            SelectResult<int, bool> r = await Select.AnyAsync(
                ct => once.WaitAsync(ct),
                async ct =>
                {
                    await KyotoTime.Sleep(TimeSpan.FromSeconds(5), ct);
                    return true;
                });
            return (r.Index, once.WaiterCount, Instant.Now - start);
        });
        Assert.Equal(1, index);
        Assert.Equal(0, waiters);
        Assert.Equal(TimeSpan.FromSeconds(5), elapsed);
    }

    [Fact]
    public void AnyAsync_SelectingTaskAborted_BranchesCancelledAndAwaited()
    {
        using var rt = NewRuntime();
        (JoinException e, bool f0, bool f1) = rt.BlockOnBounded(async () =>
        {
            var (tx0, rx0) = Oneshot.Create<int>();
            var (tx1, rx1) = Oneshot.Create<int>();
            var b0 = new StrongBox<bool>();
            var b1 = new StrongBox<bool>();
            var (readyTx, readyRx) = Oneshot.Create<bool>();
            JoinHandle<SelectResult<int>> h = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                readyTx.TrySend(true);
                return await Select.AnyAsync<int>([ct => RecvPlain(rx0, ct, b0), ct => RecvPlain(rx1, ct, b1)]);
            });
            await readyRx;
            await KyotoTask.Yield();
            await KyotoTask.Yield();
            h.Abort();
            JoinException ex = await Assert.ThrowsAsync<JoinException>(async () => await h);
            return (ex, b0.Value && tx0.IsClosed, b1.Value && tx1.IsClosed);
        });
        Assert.True(e.IsCancelled);
        Assert.IsType<TaskAbortedException>(e.InnerException);
        Assert.True(f0 && f1, "the aborted select did not cancel and await its branches");
    }

    [Fact]
    public void AllAsync_TwoThreeFourAndArray_ReturnAllResults()
    {
        using var rt = NewRuntime();
        ((int, string) two, (int, int, int) three, (int, int, int, int) four, int[] many) = rt.BlockOnBounded(async () =>
        {
            static async ValueTask<T> Later<T>(T v)
            {
                await KyotoTask.Yield();
                return v;
            }

            var a = await Join.AllAsync(Later(1), new ValueTask<string>("x"));
            var b = await Join.AllAsync(Later(1), Later(2), new ValueTask<int>(3));
            var c = await Join.AllAsync(new ValueTask<int>(1), Later(2), Later(3), Later(4));
            int[] d = await Join.AllAsync([new ValueTask<int>(1), Later(2), new ValueTask<int>(3), Later(4)]);
            return (a, b, c, d);
        });
        Assert.Equal((1, "x"), two);
        Assert.Equal((1, 2, 3), three);
        Assert.Equal((1, 2, 3, 4), four);
        Assert.Equal([1, 2, 3, 4], many);
    }

    [Fact]
    public void AllAsync_AllReady_CompletesSynchronously()
    {
        ValueTask<(int, int)> two = Join.AllAsync(new ValueTask<int>(1), new ValueTask<int>(2));
        Assert.True(two.IsCompletedSuccessfully);
        Assert.Equal((1, 2), two.Result);
        ValueTask<int[]> none = Join.AllAsync(ReadOnlySpan<ValueTask<int>>.Empty);
        Assert.Empty(none.Result);
    }

    [Fact]
    public void AllAsync_SomeFail_ThrowsFirstFailureInArgumentOrderAfterAllFinished()
    {
        using var rt = NewRuntime();
        (Exception? e, bool lastFinished) = rt.BlockOnBounded(async () =>
        {
            bool finished = false;
            async ValueTask<int> Fails(Exception ex, int yields)
            {
                for (int i = 0; i < yields; i++)
                {
                    await KyotoTask.Yield();
                }

                throw ex;
            }

            async ValueTask<int> Slow()
            {
                for (int i = 0; i < 5; i++)
                {
                    await KyotoTask.Yield();
                }

                finished = true;
                return 1;
            }

            Exception? ex = await Record.ExceptionAsync(async () =>
                await Join.AllAsync(Fails(new FormatException(), 3), Fails(new IOException(), 0), Slow()));
            return (ex, finished);
        });
        Assert.IsType<FormatException>(e);
        Assert.True(lastFinished);
    }

    [Fact]
    public void TryAllAsync_AllSucceed_ReturnsAllResults()
    {
        using var rt = NewRuntime();
        ((int, string) two, (int, int, int) three, (int, int, int, int) four, int[] many) = rt.BlockOnBounded(async () =>
        {
            static async ValueTask<T> Later<T>(T v, CancellationToken ct)
            {
                await KyotoTask.Yield();
                return v;
            }

            var a = await Join.TryAllAsync(ct => Later(1, ct), _ => new ValueTask<string>("x"));
            var b = await Join.TryAllAsync(ct => Later(1, ct), ct => Later(2, ct), _ => new ValueTask<int>(3));
            var c = await Join.TryAllAsync(_ => new ValueTask<int>(1), ct => Later(2, ct), ct => Later(3, ct), ct => Later(4, ct));
            int[] d = await Join.TryAllAsync<int>([_ => new ValueTask<int>(1), ct => Later(2, ct), ct => Later(3, ct)]);
            return (a, b, c, d);
        });
        Assert.Equal((1, "x"), two);
        Assert.Equal((1, 2, 3), three);
        Assert.Equal((1, 2, 3, 4), four);
        Assert.Equal([1, 2, 3], many);
    }

    [Fact]
    public void TryAllAsync_OneFails_OthersCancelledAndAwaitedThenFailureThrown()
    {
        using var rt = NewRuntime();
        (Exception? e, bool f0, bool f2) = rt.BlockOnBounded(async () =>
        {
            var (tx0, rx0) = Oneshot.Create<int>();
            var (tx2, rx2) = Oneshot.Create<int>();
            var (thirdStartedTx, thirdStartedRx) = Oneshot.Create<bool>();
            var b0 = new StrongBox<bool>();
            var b2 = new StrongBox<bool>();
            Exception? ex = await Record.ExceptionAsync(async () => await Join.TryAllAsync(
                ct => Recv(rx0, ct, b0),
                async ct =>
                {
                    // Fails only once the third branch has started: a failure that came earlier (another worker
                    // running this branch while the owner is still starting them) would rightly leave the third
                    // branch unstarted, which is not what this test is about.
                    await thirdStartedRx;
                    throw new InvalidDataException("second failed");
#pragma warning disable CS0162 // unreachable: gives the lambda its result type
                    return "never";
#pragma warning restore CS0162
                },
                ct =>
                {
                    thirdStartedTx.TrySend(true);
                    return Recv(rx2, ct, b2);
                }));
            GC.KeepAlive(tx0);
            GC.KeepAlive(tx2);
            return (ex, b0.Value, b2.Value);
        });
        Assert.IsType<InvalidDataException>(e);
        Assert.True(f0 && f2, "TryAllAsync threw before the other operations finished");
    }

    [Fact]
    public void TryAllAsync_FailsSynchronously_LaterOperationsNotStarted()
    {
        using var rt = NewRuntime();
        (Exception? e, bool thirdStarted, bool firstFinished) = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            var f = new StrongBox<bool>();
            bool started = false;
            Exception? ex = await Record.ExceptionAsync(async () => await Join.TryAllAsync<int>(
            [
                ct => Recv(rx, ct, f),
                _ => ValueTask.FromException<int>(new FormatException()),
                _ =>
                {
                    started = true;
                    return new ValueTask<int>(3);
                },
            ]));
            GC.KeepAlive(tx);
            return (ex, started, f.Value);
        });
        Assert.IsType<FormatException>(e);
        Assert.False(thirdStarted);
        Assert.True(firstFinished);
    }

    [Fact]
    public void TryAllAsync_CallerTokenCancelled_ThrowsForCallerToken()
    {
        using var rt = NewRuntime();
        (Exception? e, CancellationToken token) = rt.BlockOnBounded(async () =>
        {
            var (tx0, rx0) = Oneshot.Create<int>();
            var (tx1, rx1) = Oneshot.Create<int>();
            using var cts = new CancellationTokenSource();
            ValueTask<(int, int)> join = Join.TryAllAsync(ct => rx0.RecvAsync(ct), ct => rx1.RecvAsync(ct), cts.Token);
            tx0.TrySend(1);
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                cts.Cancel();
            });
            Exception? ex = await Record.ExceptionAsync(async () => await join);
            GC.KeepAlive(tx1);
            return (ex, cts.Token);
        });
        OperationCanceledException oce = Assert.IsAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(token, oce.CancellationToken);
    }
}

/// <summary>What an asynchronous select costs once warm (the synchronous path is measured below: nothing).</summary>
public sealed class SelectAllocationTests
{
    [Fact]
    public void AnyAsync_AsynchronousWinnerWhenWarm_AllocatesLittle()
    {
        const int Rounds = 5_000;
        using Runtime rt = RuntimeBuilder.CurrentThread().Build();
        long bytes = rt.BlockOnBounded(async () =>
        {
            var evt = new SetOnce<int>();
            Func<CancellationToken, ValueTask<int>> never = ct => evt.WaitAsync(ct);
            Func<CancellationToken, ValueTask<int>> soon = static async ct =>
            {
                await KyotoTask.Yield();
                return 1;
            };

            async Task Run(int n)
            {
                for (int i = 0; i < n; i++)
                {
                    SelectResult<int> r = await Select.AnyAsync([never, soon], SelectOrder.Biased);
                    if (r.Index != 1)
                    {
                        throw new InvalidOperationException("wrong winner");
                    }
                }
            }

            await Run(500);
            long before = GC.GetAllocatedBytesForCurrentThread();
            await Run(Rounds);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });

        // Per select: the loser's OperationCanceledException (created, thrown and caught: most of the cost), the
        // cancelled token source (never reused once cancelled) and its registration, and the winning branch's own
        // async state machine. The group, watchers, waiters and the select's state machines are pooled.
        double perSelect = (double)bytes / Rounds;
        Assert.True(perSelect < 2048, $"{perSelect:F0} bytes per asynchronous select");
    }
}

/// <summary>Select and Join behaviour that needs no runtime.</summary>
public class SelectJoinWithoutRuntimeTests
{
    [Fact]
    public void AnyAsync_NoBranches_Throws()
    {
        Assert.Throws<ArgumentException>(() => Select.AnyAsync(ReadOnlySpan<Func<CancellationToken, ValueTask<int>>>.Empty));
    }

    [Fact]
    public void AnyAsync_SynchronousWinner_AllocatesNothingOnceWarm()
    {
        Func<CancellationToken, ValueTask<int>> a = static _ => new ValueTask<int>(1);
        Func<CancellationToken, ValueTask<int>> b = static _ => new ValueTask<int>(2);
        Func<CancellationToken, ValueTask<string>> c = static _ => new ValueTask<string>("c");
        long fewest = SteadyAllocation.FewestBytes(call =>
        {
            _ = Select.AnyAsync([a, b], SelectOrder.Biased).Result;
            _ = Select.AnyAsync(a, c, SelectOrder.Biased).Result;
            _ = Join.TryAllAsync(a, c).Result;
        });

        Assert.Equal(0, fewest);
    }

    [Fact]
    public void AnyAsync_FromThreadPool_FirstToCompleteWins()
    {
        var gate = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<SelectResult<int>> select = Task.Run(async () => await Select.AnyAsync<int>(
        [
            async ct =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return 0;
            },
            async ct => await gate.Task.WaitAsync(ct),
        ]));
        gate.SetResult(5);
        SelectResult<int> r = Bounded.Result(select, "a select outside any runtime");
        Assert.Equal(1, r.Index);
        Assert.Equal(5, r.Value);
        Assert.Empty(r.LoserErrors);
    }
}
