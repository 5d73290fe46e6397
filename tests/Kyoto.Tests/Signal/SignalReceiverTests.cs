using Kyoto.Signal;
using Kyoto.Tasks;

namespace Kyoto.Tests.Signal;

/// <summary>
/// Kyoto.Signal (Tokio's <c>signal_*</c> tests) with real signals sent to the test process: a wait completes after
/// a delivery, repeated waits, coalescing, several receivers, two runtimes, cancellation, dispose, misuse.
/// </summary>
/// <remarks>
/// A "the wait blocks" assertion is exact: the wait is started with a token after every delivery has been counted
/// by the handler (<see cref="SignalSender.RaiseCounted"/>), it must not be complete, and it must end by
/// cancellation when the token is cancelled. No other test sends signals meanwhile (<see cref="SignalCollection"/>).
/// SIGWINCH and SIGCHLD may come from outside (a terminal, a child), so blocking assertions use SIGUSR1/SIGUSR2.
/// </remarks>
[Collection(SignalCollection.Name)]
public abstract class SignalReceiverTests : RuntimeTestBase
{
    public sealed class MultiThread : SignalReceiverTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : SignalReceiverTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    /// <summary>Asserts that a wait on <paramref name="receiver"/> is pending (no delivery to report), then cancels it.</summary>
    private static async Task AssertBlocksAsync(SignalReceiver receiver)
    {
        using var cts = new CancellationTokenSource();
        ValueTask<bool> pending = receiver.RecvAsync(cts.Token);
        Assert.False(pending.IsCompleted, "the wait completed without a new delivery");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
    }

    [Fact]
    public void Recv_AfterSignal_CompletesTrue()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined1);
            Assert.Equal(SignalKind.UserDefined1, rx.Kind);
            ValueTask<bool> wait = rx.RecvAsync();
            SignalSender.Raise(SignalKind.UserDefined1);
            Assert.True(await wait);
        });
    }

    [Fact]
    public void Recv_Repeated_EachDeliveryWakesOnce()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined2);
            for (int i = 0; i < 5; i++)
            {
                // The wait is pending before the signal is sent: the wake-up comes through the reactor.
                ValueTask<bool> wait = rx.RecvAsync();
                Assert.False(wait.IsCompleted);
                SignalSender.Raise(SignalKind.UserDefined2);
                Assert.True(await wait);
            }

            await AssertBlocksAsync(rx);
        });
    }

    [Fact]
    public void Recv_TwoDeliveriesBeforeWait_CoalesceIntoOneWakeUp()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined2);
            SignalSender.RaiseCounted(SignalKind.UserDefined2);
            SignalSender.RaiseCounted(SignalKind.UserDefined2);

            ValueTask<bool> first = rx.RecvAsync();
            Assert.True(first.IsCompleted, "deliveries already counted are reported at once");
            Assert.True(await first);
            await AssertBlocksAsync(rx);

            SignalSender.Raise(SignalKind.UserDefined2);
            Assert.True(await rx.RecvAsync());
        });
    }

    [Fact]
    public void Listen_AfterDelivery_DoesNotSeeIt()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver keeper = Signals.Listen(SignalKind.UserDefined1);
            SignalSender.RaiseCounted(SignalKind.UserDefined1);
            using SignalReceiver late = Signals.Listen(SignalKind.UserDefined1);
            await AssertBlocksAsync(late);
            Assert.True(await keeper.RecvAsync());
        });
    }

    [Fact]
    public void Recv_ManyReceivers_AllWake()
    {
        const int Receivers = 6;
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var receivers = new SignalReceiver[Receivers];
            var waits = new JoinHandle<bool>[Receivers];
            for (int i = 0; i < Receivers; i++)
            {
                SignalReceiver rx = receivers[i] = Signals.Listen(SignalKind.UserDefined1);
                waits[i] = KyotoTask.Spawn(async () => await rx.RecvAsync());
            }

            SignalSender.Raise(SignalKind.UserDefined1);
            foreach (JoinHandle<bool> wait in waits)
            {
                Assert.True(await wait);
            }

            foreach (SignalReceiver rx in receivers)
            {
                await AssertBlocksAsync(rx);
                rx.Dispose();
            }
        });
    }

    [Fact]
    public void Recv_ReceiversOnTwoRuntimes_BothWake()
    {
        using Runtime first = NewRuntime();
        using Runtime second = NewRuntime();
        using var listening = new CountdownEvent(2);
        using var counted = new ManualResetEventSlim();

        Task<bool> Waiter(Runtime rt) => Bounded.OnThread(() => rt.BlockOn(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined2);
            listening.Signal();
            bool got = await rx.RecvAsync();

            // Keep the receiver until the handler is done with the delivery (SignalSender's rule).
            await KyotoTask.SpawnBlocking(() => Bounded.Wait(counted, "the delivery to be counted"));
            return got;
        }));

        long before = Signals.DeliveryCount(SignalKind.UserDefined2);
        Task<bool> a = Waiter(first);
        Task<bool> b = Waiter(second);
        Bounded.Wait(listening, "both receivers");
        SignalSender.Raise(SignalKind.UserDefined2);
        SignalSender.WaitCounted(SignalKind.UserDefined2, before + 1);
        counted.Set();
        Assert.True(Bounded.Result(a, "the first runtime's receiver"));
        Assert.True(Bounded.Result(b, "the second runtime's receiver"));
    }

    [Fact]
    public void Recv_Cancelled_LeavesNoWaiterAndConsumesNothing()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined1);
            using var cts = new CancellationTokenSource();
            ValueTask<bool> pending = rx.RecvAsync(cts.Token);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);

            // A waiter left behind would make this wait fail with "another task already waits".
            ValueTask<bool> next = rx.RecvAsync();
            SignalSender.Raise(SignalKind.UserDefined1);
            Assert.True(await next);

            // A delivery that arrives while no wait is pending is kept for the next wait.
            using var cts2 = new CancellationTokenSource();
            ValueTask<bool> cancelled = rx.RecvAsync(cts2.Token);
            await cts2.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
            SignalSender.RaiseCounted(SignalKind.UserDefined1);
            Assert.True(await rx.RecvAsync());
        });
    }

    [Fact]
    public void Recv_SecondConcurrentWait_ThrowsInvalidOperation()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined2);
            ValueTask<bool> first = rx.RecvAsync();
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await rx.RecvAsync());
            SignalSender.Raise(SignalKind.UserDefined2);
            Assert.True(await first);
        });
    }

    [Fact]
    public void Recv_AlreadyCancelledToken_ThrowsEvenWithADelivery()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.UserDefined2);
            SignalSender.RaiseCounted(SignalKind.UserDefined2);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await rx.RecvAsync(new CancellationToken(true)));
            Assert.True(await rx.RecvAsync());
        });
    }

    [Fact]
    public void Dispose_WhileWaiting_WaitReturnsFalse_LaterCallsThrow()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            long listeners = Signals.ListenerCount(SignalKind.UserDefined1);
            SignalReceiver rx = Signals.Listen(SignalKind.UserDefined1);
            Assert.Equal(listeners + 1, Signals.ListenerCount(SignalKind.UserDefined1));
            ValueTask<bool> pending = rx.RecvAsync();
            Assert.False(pending.IsCompleted);
            rx.Dispose();
            Assert.False(await pending);
            Assert.Equal(listeners, Signals.ListenerCount(SignalKind.UserDefined1));
            Assert.Throws<ObjectDisposedException>(() => rx.RecvAsync());
            rx.Dispose();
        });
    }

    [Fact]
    public void Enumerate_YieldsPerWakeUp_EndsOnDispose()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            SignalReceiver rx = Signals.Listen(SignalKind.UserDefined1);
            await using IAsyncEnumerator<SignalKind> e = rx.GetAsyncEnumerator();
            for (int i = 0; i < 3; i++)
            {
                ValueTask<bool> step = e.MoveNextAsync();
                SignalSender.Raise(SignalKind.UserDefined1);
                Assert.True(await step);
                Assert.Equal(SignalKind.UserDefined1, e.Current);
            }

            ValueTask<bool> last = e.MoveNextAsync();
            rx.Dispose();
            Assert.False(await last);
        });
    }

    [Theory]
    [InlineData(15)] // SIGTERM: would run .NET's shutdown if not cancelled
    [InlineData(1)] // SIGHUP: would terminate
    [InlineData(3)] // SIGQUIT: would terminate with a core
    public void Recv_TerminatingSignal_WhileListening_DeliveredAndProcessSurvives(int number)
    {
        SignalKind kind = SignalKind.FromRaw(number);
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(kind);
            if (SignalSender.IsIgnoredByProcess(kind))
            {
                return; // inherited as ignored (see IsIgnoredByProcess): nothing can be observed
            }

            ValueTask<bool> wait = rx.RecvAsync();
            long before = Signals.DeliveryCount(kind);
            SignalSender.Raise(kind);
            Assert.True(await wait);
            SignalSender.WaitCounted(kind, before + 1);
        });
    }

    [Fact]
    public void Recv_WindowChange_Delivered()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using SignalReceiver rx = Signals.Listen(SignalKind.WindowChange);
            ValueTask<bool> wait = rx.RecvAsync();
            SignalSender.Raise(SignalKind.WindowChange);
            Assert.True(await wait);
        });
    }

    [Fact]
    public void RawNumber_SharesTheNamedKindsDeliveries()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            Assert.Equal(SignalKind.UserDefined1, SignalKind.FromRaw(10));
            using SignalReceiver named = Signals.Listen(SignalKind.UserDefined1);
            using SignalReceiver raw = Signals.Listen(SignalKind.FromRaw(10));
            SignalSender.RaiseCounted(SignalKind.UserDefined1);
            Assert.True(await named.RecvAsync());
            Assert.True(await raw.RecvAsync());
        });
    }

    [Fact]
    public void CtrlC_CompletesOnSigint()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            // A receiver besides CtrlCAsync's keeps SIGINT handled until the delivery is counted.
            using SignalReceiver keeper = Signals.Listen(SignalKind.Interrupt);
            if (SignalSender.IsIgnoredByProcess(SignalKind.Interrupt))
            {
                return; // inherited as ignored (see IsIgnoredByProcess): nothing can be observed
            }

            long before = Signals.DeliveryCount(SignalKind.Interrupt);
            ValueTask ctrlC = Signals.CtrlCAsync();
            Assert.False(ctrlC.IsCompleted);
            SignalSender.Raise(SignalKind.Interrupt);
            await ctrlC;
            SignalSender.WaitCounted(SignalKind.Interrupt, before + 1);
        });
    }

    [Fact]
    public void CtrlC_Cancelled_Throws()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            int listeners = Signals.ListenerCount(SignalKind.Interrupt);
            using var cts = new CancellationTokenSource();
            ValueTask ctrlC = Signals.CtrlCAsync(cts.Token);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await ctrlC);
            Assert.Equal(listeners, Signals.ListenerCount(SignalKind.Interrupt));
        });
    }

    [Fact]
    public void Listen_OnRuntimeWithoutIo_ThrowsInvalidOperation()
    {
        using Runtime rt = NewRuntime(b => b.EnableIo = false);
        rt.BlockOnBounded(() =>
        {
            Assert.Throws<InvalidOperationException>(() => Signals.Listen(SignalKind.UserDefined1));
            return Task.CompletedTask;
        });
    }
}
