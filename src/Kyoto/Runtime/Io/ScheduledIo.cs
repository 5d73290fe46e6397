// Invariants (ScheduledIo):
//  1. _state = readiness bits (0-7) | tick << 8 (32 bits) | stamp << 40 (22 bits) | shutdown bit 62. SetReadiness
//     (the reactor, one thread) ORs bits in and bumps the tick; ClearReadiness removes bits only if the tick and
//     the stamp are the ones the caller observed (Reactor.cs, invariant 2). Closed bits are never cleared; the
//     error bit is cleared with the readiness a call that got EAGAIN saw (a datagram socket's error, an ICMP
//     report, is consumed by the call that returns it, and a sticky error bit would make every later wait return
//     at once: a busy loop).
//  2. At most one listener per direction (like Tokio's split halves): a task's readiness wait, or a socket
//     operation that retries its syscall when woken. A listener is armed under _lock after a re-check of _state
//     (and of its token) under the same lock, and SetReadiness disarms under _lock after publishing the bits, so
//     readiness (or a cancellation) that arrives while a listener arms is never missed.
//  3. Listeners are called outside _lock, once per arming: OnReady after an event concerns them, OnShutdown when
//     the registration ends. Disarm (cancellation) removes a listener under _lock only for the version it was
//     armed for, so a late cancellation of an earlier await never disarms the next one.
//  4. The reusable readiness waiters belong to one registration: created on first use, dropped by Activate. A
//     wait failed by Deactivate may still be on its way to its task when the slot serves the next descriptor,
//     and that descriptor's first wait must not reset it (the first task would then await someone else's wait).
//  5. The stamp (the registration's generation, low 22 bits) is written by Activate and names the registration in
//     the state itself, so everything that acts for one registration checks it atomically with what it does:
//     SetReadiness drops an event of an earlier registration that raced its slot's reuse (it would set closed
//     bits nothing clears), ClearReadiness ignores readiness observed under an earlier one, and TryArm and
//     ReadyAsync refuse a listener or a wait of an earlier one (a task of a disposed socket would otherwise arm
//     in the next socket's slot and make that socket's own reads fail as busy). Callers hold their stamp
//     (Stamp when they registered) and read the state through StateFor.
using Kyoto.Scheduling;

namespace Kyoto.Reactor;

/// <summary>The readiness of one registered descriptor and the tasks waiting for it.</summary>
internal sealed class ScheduledIo
{
    private const long ReadyMask = 0xFF;
    private const int TickShift = 8;
    private const long TickMask = 0xFFFF_FFFFL << TickShift;
    private const int StampShift = 40;
    private const long StampMask = 0x3F_FFFFL << StampShift;
    private const long ShutdownBit = 1L << 62;

    // The reusable readiness waits of the current registration, created on first use. Activate drops them: a wait
    // failed by a deactivation may still be waking its task when the slot is reused, and reusing (resetting) that
    // waiter for the next descriptor's task would leave the first task's await pointing at someone else's wait.
    private ReadinessWaiter? _reader;
    private ReadinessWaiter? _writer;
    private long _state;
    private TinyLock _lock;
    private IReadinessListener? _readListener;  // under _lock
    private IReadinessListener? _writeListener; // under _lock
    private uint _generation;
    private int _fd = -1;

    internal ScheduledIo(IoReactor reactor, int index)
    {
        Reactor = reactor;
        Index = index;
    }

    internal IoReactor Reactor { get; }

    internal int Index { get; }

    /// <summary>The epoll data of the current registration: generation and slab index.</summary>
    internal ulong Token => ((ulong)Volatile.Read(ref _generation) << 32) | (uint)Index;

    /// <summary>The generation of the current registration (changes when the slot is retired and reused).</summary>
    internal uint Generation => Volatile.Read(ref _generation);

    internal long State => Volatile.Read(ref _state);

    internal static int ReadyBits(long state) => (int)(state & ReadyMask);

    internal static bool IsShutdown(long state) => (state & ShutdownBit) != 0;

    /// <summary>The stamp of the registration of <paramref name="generation"/>, as it stands in the state (invariant 5).</summary>
    internal static long StampOf(uint generation) => ((long)generation << StampShift) & StampMask;

    /// <summary>The stamp of the current registration: what its owner keeps (read it right after registering).</summary>
    internal long Stamp => StampOf(Generation);

    /// <summary>The stamp of the registration a state was read under.</summary>
    internal static long StampIn(long state) => state & StampMask;

    /// <summary>
    /// The state of the registration of <paramref name="stamp"/>: the current state while that registration lasts,
    /// and once the slot serves another, a shut-down state of its own that matches nothing.
    /// </summary>
    internal long StateFor(long stamp)
    {
        long state = State;
        return StampIn(state) == stamp ? state : stamp | ShutdownBit;
    }

    /// <summary>Starts a registration (under the reactor's slab lock).</summary>
    internal void Activate(int fd)
    {
        _generation++;
        Volatile.Write(ref _reader, null);
        Volatile.Write(ref _writer, null);
        Volatile.Write(ref _state, StampOf(_generation));
        Volatile.Write(ref _fd, fd);
    }

    /// <summary>Ends the registration: marks it shut down and fails its waiters. False if already ended.</summary>
    internal bool Deactivate(out int fd)
    {
        fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0)
        {
            return false;
        }

        long state = Volatile.Read(ref _state);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref _state, state | ShutdownBit, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        _lock.Enter();
        IReadinessListener? reader = _readListener;
        IReadinessListener? writer = _writeListener;
        _readListener = _writeListener = null;
        _lock.Exit();
        reader?.OnShutdown();
        writer?.OnShutdown();
        return true;
    }

    /// <summary>Invalidates the registration's token (under the reactor's slab lock) before the slot is reused.</summary>
    internal void Retire() => _generation++;

    /// <summary>
    /// Publishes readiness from an epoll event of the registration of <paramref name="generation"/> and wakes the
    /// waiters it concerns (the reactor thread). An event of an earlier registration is dropped (invariant 5).
    /// </summary>
    internal void SetReadiness(int bits, uint generation)
    {
        long stamp = StampOf(generation);
        long state = Volatile.Read(ref _state);
        long next;
        while (true)
        {
            if (IsShutdown(state) || StampIn(state) != stamp)
            {
                return;
            }

            long tick = ((state & TickMask) + (1L << TickShift)) & TickMask;
            next = (state & ~TickMask) | tick | (uint)bits;
            long seen = Interlocked.CompareExchange(ref _state, next, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        _lock.Enter();
        IReadinessListener? reader = null, writer = null;
        if ((bits & Readiness.ReadInterest) != 0)
        {
            reader = _readListener;
            _readListener = null;
        }

        if ((bits & Readiness.WriteInterest) != 0)
        {
            writer = _writeListener;
            _writeListener = null;
        }

        _lock.Exit();
        reader?.OnReady(next);
        writer?.OnReady(next);
    }

    /// <summary>
    /// Clears <paramref name="bits"/> (readable and/or writable) if no event came since <paramref name="observed"/>
    /// was read: the caller's syscall returned EAGAIN after it saw that state.
    /// </summary>
    internal void ClearReadiness(long observed, int bits)
    {
        long clear = bits & (Readiness.Readable | Readiness.Writable | Readiness.Error);
        long state = Volatile.Read(ref _state);
        while ((state & (TickMask | StampMask)) == (observed & (TickMask | StampMask)) && (state & clear) != 0)
        {
            long seen = Interlocked.CompareExchange(ref _state, state & ~clear, state);
            if (seen == state)
            {
                return;
            }

            state = seen;
        }
    }

    /// <summary>
    /// The step of every readiness loop after a call returned EAGAIN: clears the readiness observed before the
    /// call (unless a newer edge came) and waits for the next one in that direction.
    /// </summary>
    internal ValueTask<long> WaitAfterWouldBlockAsync(long observed, int interest, CancellationToken cancellationToken)
    {
        ClearReadiness(observed, (interest == Readiness.ReadInterest ? Readiness.Readable : Readiness.Writable) | Readiness.Error);
        return ReadyAsync(interest, cancellationToken, StampIn(observed));
    }

    /// <summary>
    /// The current state once any bit of <paramref name="interest"/> (<see cref="Readiness.ReadInterest"/> or
    /// <see cref="Readiness.WriteInterest"/>) is set: at once if it already is, else when an event brings it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The registration of <paramref name="stamp"/> ended (before or during the wait).</exception>
    /// <exception cref="InvalidOperationException">Another task already waits in this direction.</exception>
    internal ValueTask<long> ReadyAsync(int interest, CancellationToken cancellationToken, long stamp)
    {
        long state = StateFor(stamp);
        if (IsShutdown(state))
        {
            return ValueTask.FromException<long>(new ObjectDisposedException("socket"));
        }

        if ((ReadyBits(state) & interest) != 0)
        {
            return new ValueTask<long>(state);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<long>(cancellationToken);
        }

        ref ReadinessWaiter? field = ref interest == Readiness.ReadInterest ? ref _reader : ref _writer;
        ReadinessWaiter? cached = Volatile.Read(ref field);
        ReadinessWaiter waiter = cached is not null && cached.Stamp == stamp ? cached : CreateWaiter(ref field, cached, interest, stamp);
        if (IsArmed(waiter, interest))
        {
            throw BusyError(interest);
        }

        waiter.Reset();
        waiter.RegisterCancellation(cancellationToken);
        ArmResult armed;
        try
        {
            armed = TryArm(interest, waiter, cancellationToken, stamp);
        }
        catch (InvalidOperationException)
        {
            waiter.DisposeRegistration(); // a socket call of another task is armed in this direction
            throw;
        }

        switch (armed)
        {
            case ArmResult.Armed:
                return waiter.AsValueTask();
            case ArmResult.Ready:
                waiter.DisposeRegistration();
                return new ValueTask<long>(StateFor(stamp));
            case ArmResult.Shutdown:
                waiter.DisposeRegistration();
                return ValueTask.FromException<long>(new ObjectDisposedException("socket"));
            default:
                waiter.DisposeRegistration();
                return ValueTask.FromCanceled<long>(cancellationToken);
        }
    }

    /// <summary>
    /// Like <see cref="ReadyAsync"/>, and <paramref name="mask"/> may hold both directions: then it races a wait
    /// in each (rare; the race allocates) and returns the state once either fires, the other wait withdrawn.
    /// </summary>
    internal ValueTask<long> ReadyAnyAsync(int mask, CancellationToken cancellationToken, long stamp) =>
        mask == (Readiness.ReadInterest | Readiness.WriteInterest) ? ReadyEitherAsync(cancellationToken, stamp) : ReadyAsync(mask, cancellationToken, stamp);

    private async ValueTask<long> ReadyEitherAsync(CancellationToken cancellationToken, long stamp)
    {
        long state = StateFor(stamp);
        ObjectDisposedException.ThrowIf(IsShutdown(state), this);
        if ((ReadyBits(state) & (Readiness.ReadInterest | Readiness.WriteInterest)) != 0)
        {
            return state;
        }

        // Select cancels the slower wait and waits for it to leave its slot before returning.
        await Kyoto.Sync.Select.AnyAsync(
            ct => ReadyAsync(Readiness.ReadInterest, ct, stamp),
            ct => ReadyAsync(Readiness.WriteInterest, ct, stamp),
            Kyoto.Sync.SelectOrder.Biased,
            cancellationToken).ConfigureAwait(true);
        return StateFor(stamp);
    }

    // A waiter of another registration in the field (invariant 5: a task of an earlier one put it there while the
    // slot was reused) is replaced; if another wait of this registration got there first, that waiter serves.
    private ReadinessWaiter CreateWaiter(ref ReadinessWaiter? field, ReadinessWaiter? seen, int interest, long stamp)
    {
        var created = new ReadinessWaiter(this, interest, stamp);
        ReadinessWaiter? raced = Interlocked.CompareExchange(ref field, created, seen);
        return ReferenceEquals(raced, seen) || raced is null || raced.Stamp != stamp ? created : raced;
    }

    private bool IsArmed(IReadinessListener listener, int interest)
    {
        _lock.Enter();
        bool armed = ReferenceEquals(interest == Readiness.ReadInterest ? _readListener : _writeListener, listener);
        _lock.Exit();
        return armed;
    }

    internal static InvalidOperationException BusyError(int interest) => new(
        $"Another task already waits for this socket to become {(interest == Readiness.ReadInterest ? "readable" : "writable")}: one reader and one writer at a time.");

    /// <summary>
    /// Arms <paramref name="listener"/> for the next event in <paramref name="interest"/>'s direction, unless
    /// (re-checked under the lock) that readiness is already set, the registration ended, or
    /// <paramref name="cancellationToken"/> is cancelled; the result says which.
    /// </summary>
    /// <remarks>
    /// Arming a listener that is already armed here leaves it armed once (idempotent). A socket operation was once
    /// seen, under a full test suite's load, to find its direction's slot taken when it armed (issue 5's note);
    /// if the holder was the operation itself, this keeps the await correct.
    /// <paramref name="stamp"/> names the registration the listener belongs to (invariant 5).
    /// </remarks>
    /// <exception cref="InvalidOperationException">Another listener is armed in this direction.</exception>
    internal ArmResult TryArm(int interest, IReadinessListener listener, CancellationToken cancellationToken, long stamp)
    {
        bool read = interest == Readiness.ReadInterest;
        _lock.Enter();
        long state = State;
        // A listener of an earlier registration (its socket disposed, this slot since reused) never arms here.
        ArmResult result = IsShutdown(state) || StampIn(state) != stamp ? ArmResult.Shutdown
            : (ReadyBits(state) & interest) != 0 ? ArmResult.Ready
            : cancellationToken.IsCancellationRequested || listener.IsCancellationPending ? ArmResult.Cancelled
            : ArmResult.Armed;
        if (result == ArmResult.Armed)
        {
            ref IReadinessListener? slot = ref read ? ref _readListener : ref _writeListener;
            if (slot is not null && !ReferenceEquals(slot, listener))
            {
                _lock.Exit();
                throw BusyError(interest);
            }

            slot = listener;
        }

        _lock.Exit();
        return result;
    }

    /// <summary>
    /// Takes <paramref name="listener"/> out of its slot if it is still armed for the await of
    /// <paramref name="version"/> (a cancellation); false if an event or the shutdown got there first.
    /// </summary>
    internal bool Disarm(IReadinessListener listener, int interest, short version)
    {
        _lock.Enter();
        ref IReadinessListener? slot = ref interest == Readiness.ReadInterest ? ref _readListener : ref _writeListener;
        bool removed = ReferenceEquals(slot, listener) && listener.IsCurrentVersion(version);
        if (removed)
        {
            slot = null;
        }

        _lock.Exit();
        return removed;
    }

    /// <summary>The reusable wait of one direction.</summary>
    private sealed class ReadinessWaiter(ScheduledIo owner, int interest, long stamp) : KyotoValueTaskSource<long>, IReadinessListener
    {
        /// <summary>The registration this waiter belongs to.</summary>
        public long Stamp => stamp;

        public void OnReady(long state) => TrySetResult(state);

        public void OnShutdown() => TrySetException(new ObjectDisposedException("socket", "The descriptor was closed while a task waited for it."));

        bool IReadinessListener.IsCurrentVersion(short version) => IsCurrentVersion(version);

        // Armed only by the awaiting task itself, before its await, and never re-armed by a retry: an abort or a
        // cancellation always finds it armed or completed.
        bool IReadinessListener.IsCancellationPending => false;

        protected override void OnCancellationRequested(Exception error, short version)
        {
            if (owner.Disarm(this, interest, version))
            {
                TrySetException(error);
            }
        }
    }
}

/// <summary>What <see cref="ScheduledIo.TryArm"/> did.</summary>
internal enum ArmResult
{
    /// <summary>The listener waits for the next event.</summary>
    Armed,

    /// <summary>Not armed: the readiness is already there (retry the call).</summary>
    Ready,

    /// <summary>Not armed: the registration ended.</summary>
    Shutdown,

    /// <summary>Not armed: the token is cancelled.</summary>
    Cancelled,
}

/// <summary>Something armed on a <see cref="ScheduledIo"/> direction (ScheduledIo invariant 3).</summary>
internal interface IReadinessListener
{
    /// <summary>An event concerning the armed direction arrived (the listener is disarmed). Called outside the lock, often on the reactor's thread.</summary>
    void OnReady(long state);

    /// <summary>The registration ended while armed.</summary>
    void OnShutdown();

    /// <summary>True if <paramref name="version"/> is the listener's current await.</summary>
    bool IsCurrentVersion(short version);

    /// <summary>
    /// True if a cancellation (token or abort) of the current await came while the listener was not armed; checked
    /// under the lock when it arms, so that cancellation is not lost.
    /// </summary>
    bool IsCancellationPending { get; }
}
