using Kyoto.Native;
using Kyoto.Reactor;

namespace Kyoto.Tests.Io;

/// <summary>
/// The epoll reactor on its own (not yet wired into the workers): readiness from real descriptors (a Unix socket
/// pair), the tick that keeps an edge from being lost, waits, cancellation, deregistration and wake-ups.
/// </summary>
public sealed unsafe class ReactorTests : IDisposable
{
    private static long Stamp(ScheduledIo io) => io.Stamp;

    private static readonly long Second = System.Diagnostics.Stopwatch.Frequency;
    private readonly IoReactor _reactor = new();
    private readonly List<int> _fds = new();

    public void Dispose()
    {
        _reactor.Dispose();
        foreach (int fd in _fds)
        {
            Libc.close(fd);
        }
    }

    private (int A, int B) SocketPair()
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, sv));
        _fds.Add(sv[0]);
        _fds.Add(sv[1]);
        return (sv[0], sv[1]);
    }

    private static void Write(int fd, byte value) => Assert.Equal(1, (int)Libc.write(fd, &value, 1));

    private static int Read(int fd)
    {
        byte b;
        nint n = Libc.read(fd, &b, 1);
        return n == 1 ? b : -1;
    }

    /// <summary>Turns the reactor until <paramref name="done"/> holds (each turn waits at most 100 ms), at most 5 s.</summary>
    private void TurnUntil(Func<bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the awaited readiness never came");
            _reactor.Turn(Second / 10);
        }
    }

    [Fact]
    public void Register_FreshSocket_BecomesWritableNotReadable()
    {
        var (a, _) = SocketPair();
        ScheduledIo io = _reactor.Register(a);
        TurnUntil(() => (ScheduledIo.ReadyBits(io.State) & Readiness.Writable) != 0);
        Assert.Equal(0, ScheduledIo.ReadyBits(io.State) & Readiness.Readable);
        Assert.Equal(1, _reactor.RegistrationCount);
    }

    [Fact]
    public void ReadyAsync_PendingUntilPeerWrites_ThenCompletesReadable()
    {
        var (a, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        ValueTask<long> ready = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io));
        Assert.False(ready.IsCompleted);
        Task<long> waiting = ready.AsTask();

        Write(a, 7);
        TurnUntil(() => waiting.IsCompleted);
        long state = waiting.Result;
        Assert.NotEqual(0, ScheduledIo.ReadyBits(state) & Readiness.Readable);
        Assert.Equal(7, Read(b));
    }

    [Fact]
    public void ClearReadiness_AfterANewerEvent_KeepsTheBits()
    {
        var (a, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        Write(a, 1);
        TurnUntil(() => (ScheduledIo.ReadyBits(io.State) & Readiness.Readable) != 0);
        long observed = io.State;
        Assert.Equal(1, Read(b));
        Assert.Equal(-1, Read(b)); // EAGAIN: the caller would now clear what it observed...

        Write(a, 2); // ...but an edge arrives first
        long before = io.State;
        TurnUntil(() => io.State != before);
        io.ClearReadiness(observed, Readiness.Readable);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(io.State) & Readiness.Readable);

        // With the current tick the clear does happen.
        Assert.Equal(2, Read(b));
        io.ClearReadiness(io.State, Readiness.Readable);
        Assert.Equal(0, ScheduledIo.ReadyBits(io.State) & Readiness.Readable);
    }

    [Fact]
    public void PeerClose_SetsReadClosed()
    {
        var (a, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        Task<long> waiting = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)).AsTask();
        Libc.close(a);
        _fds.Remove(a);
        TurnUntil(() => waiting.IsCompleted);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(waiting.Result) & Readiness.ReadClosed);
    }

    [Fact]
    public void ReadyAsync_Cancelled_LeavesNoWaiterBehind()
    {
        var (a, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        for (int i = 0; i < 1_000; i++)
        {
            using var cts = new CancellationTokenSource();
            ValueTask<long> ready = io.ReadyAsync(Readiness.ReadInterest, cts.Token, Stamp(io));
            cts.Cancel();
            Assert.True(ready.IsCompleted);
            Assert.ThrowsAny<OperationCanceledException>(() => ready.GetAwaiter().GetResult());
        }

        // A later wait is accepted (no waiter was left armed) and still completes.
        Task<long> waiting = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)).AsTask();
        Write(a, 3);
        TurnUntil(() => waiting.IsCompleted);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(waiting.Result) & Readiness.Readable);
    }

    [Fact]
    public void ReadyAsync_SecondReaderWhileOneWaits_Throws()
    {
        var (_, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        ValueTask<long> first = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io));
        Assert.Throws<InvalidOperationException>(() => io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)));
        _reactor.Deregister(io);
        Assert.Throws<ObjectDisposedException>(() => first.AsTask().GetAwaiter().GetResult());
    }

    /// <summary>Registers <paramref name="first"/>, deregisters it and registers <paramref name="second"/> in the same slot.</summary>
    private (ScheduledIo Io, uint EarlierGeneration) ReuseSlot(int first, int second)
    {
        ScheduledIo earlier = _reactor.Register(first);
        uint generation = earlier.Generation;
        _reactor.Deregister(earlier);
        ScheduledIo io = _reactor.Register(second);
        Assert.Same(earlier, io); // the free slot is reused
        Assert.NotEqual(generation, io.Generation);
        return (io, generation);
    }

    [Fact]
    public void SlotReused_AWaitOfTheEarlierRegistration_IsRefusedAndLeavesTheSlotFree()
    {
        var (_, b) = SocketPair();
        var (c, d) = SocketPair();
        (ScheduledIo io, uint earlier) = ReuseSlot(b, d);

        // A task of the disposed socket that reaches its wait only now must not arm in the new socket's slot...
        Assert.Throws<ObjectDisposedException>(() => io.ReadyAsync(Readiness.ReadInterest, default, ScheduledIo.StampOf(earlier)).GetAwaiter().GetResult());

        // ...so the new socket's own wait is not refused as busy, and completes.
        Task<long> waiting = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)).AsTask();
        Write(c, 5);
        TurnUntil(() => waiting.IsCompleted);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(waiting.Result) & Readiness.Readable);
    }

    [Fact]
    public void SlotReused_ReadinessObservedUnderTheEarlierRegistration_ClearsNothing()
    {
        var (_, b) = SocketPair();
        var (c, d) = SocketPair();
        (ScheduledIo io, uint earlier) = ReuseSlot(b, d);
        Write(c, 1);
        TurnUntil(() => (ScheduledIo.ReadyBits(io.State) & Readiness.Readable) != 0);

        // The same tick as now, under the earlier registration: each registration counts its ticks from 0.
        long now = io.State;
        long stale = now - ScheduledIo.StampIn(now) + ScheduledIo.StampOf(earlier);
        io.ClearReadiness(stale, Readiness.Readable);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(io.State) & Readiness.Readable);
        Assert.True(ScheduledIo.IsShutdown(io.StateFor(ScheduledIo.StampOf(earlier)))); // the earlier registration reads as ended
    }

    [Fact]
    public void SlotReused_AnEventOfTheEarlierRegistration_IsDropped()
    {
        var (_, b) = SocketPair();
        var (_, d) = SocketPair();
        (ScheduledIo io, uint earlier) = ReuseSlot(b, d);

        // The reactor matched the event's token before the slot was reused, then published it: the old
        // connection's hang-up would set closed bits on the new one, which nothing ever clears.
        io.SetReadiness(Readiness.ReadClosed | Readiness.WriteClosed, earlier);
        Assert.Equal(0, ScheduledIo.ReadyBits(io.State) & (Readiness.ReadClosed | Readiness.WriteClosed));
        io.SetReadiness(Readiness.ReadClosed, io.Generation);
        Assert.NotEqual(0, ScheduledIo.ReadyBits(io.State) & Readiness.ReadClosed);
    }

    [Fact]
    public void Deregister_FailsThePendingWaitAndFreesTheSlot()
    {
        var (_, b) = SocketPair();
        ScheduledIo io = _reactor.Register(b);
        Task<long> waiting = io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)).AsTask();
        _reactor.Deregister(io);
        Assert.Throws<ObjectDisposedException>(() => waiting.GetAwaiter().GetResult());
        Assert.Equal(0, _reactor.RegistrationCount);
        Assert.Throws<ObjectDisposedException>(() => io.ReadyAsync(Readiness.ReadInterest, default, Stamp(io)).GetAwaiter().GetResult());
        _reactor.Deregister(io); // twice is harmless
    }

    [Fact]
    public void RegisterDeregister_ManyTimes_ReusesSlotsAndStaleEventsAreDropped()
    {
        var (a, b) = SocketPair();
        ScheduledIo? last = null;
        for (int i = 0; i < 10_000; i++)
        {
            ScheduledIo io = _reactor.Register(b);
            if (last is not null)
            {
                Assert.Same(last, io); // the freed slot is reused
            }

            last = io;
            _reactor.Deregister(io);
        }

        Assert.Equal(0, _reactor.RegistrationCount);
        ScheduledIo fresh = _reactor.Register(b);
        Write(a, 9);
        TurnUntil(() => (ScheduledIo.ReadyBits(fresh.State) & Readiness.Readable) != 0);
    }

    [Fact]
    public void Wake_InterruptsATurnWithoutTimeout()
    {
        var turned = new ManualResetEventSlim();
        Task turner = Bounded.OnThread(() =>
        {
            _reactor.Turn(-1);
            turned.Set();
        });
        _reactor.Wake();
        Bounded.Wait(turned, "the reactor's turn to return after Wake");
        Bounded.Wait(turner, "the turning thread");
    }

    [Fact]
    public void Wake_BeforeTurn_MakesTheNextTurnReturnAtOnce()
    {
        _reactor.Wake();
        Assert.True(Bounded.Finishes(Bounded.OnThread(() => _reactor.Turn(-1)), TimeSpan.FromSeconds(10)));
    }
}
