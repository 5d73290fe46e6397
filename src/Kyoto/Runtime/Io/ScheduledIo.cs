// Invariants (ScheduledIo):
//  1. _state = readiness bits (0-7) | tick << 8 (32 bits) | shutdown bit 62. SetReadiness (the reactor, one thread)
//     ORs bits in and bumps the tick; ClearReadiness removes bits only if the tick is the one the caller observed
//     (Reactor.cs, invariant 2). Closed bits are never cleared; the error bit is cleared with the readiness a
//     call that got EAGAIN saw (a datagram socket's error, an ICMP report, is consumed by the call that returns
//     it, and a sticky error bit would make every later wait return at once: a busy loop).
//  2. At most one reader and one writer wait (like Tokio's split halves). A waiter is armed under _lock after a
//     re-check of _state under the same lock, and SetReadiness disarms under _lock after publishing the bits, so
//     readiness that arrives while a waiter arms is never missed.
//  3. Completions happen outside _lock. Shutdown (deregistration) fails armed waiters with ObjectDisposedException.
using Kyoto.Scheduling;

namespace Kyoto.Reactor;

/// <summary>The readiness of one registered descriptor and the tasks waiting for it.</summary>
internal sealed class ScheduledIo
{
    private const long ReadyMask = 0xFF;
    private const int TickShift = 8;
    private const long TickMask = 0xFFFF_FFFFL << TickShift;
    private const long ShutdownBit = 1L << 62;

    private readonly ReadinessWaiter _reader;
    private readonly ReadinessWaiter _writer;
    private long _state;
    private TinyLock _lock;
    private bool _readerArmed;
    private bool _writerArmed;
    private uint _generation;
    private int _fd = -1;

    internal ScheduledIo(IoReactor reactor, int index)
    {
        Reactor = reactor;
        Index = index;
        _reader = new ReadinessWaiter(this);
        _writer = new ReadinessWaiter(this);
    }

    internal IoReactor Reactor { get; }

    internal int Index { get; }

    /// <summary>The epoll data of the current registration: generation and slab index.</summary>
    internal ulong Token => ((ulong)Volatile.Read(ref _generation) << 32) | (uint)Index;

    internal long State => Volatile.Read(ref _state);

    internal static int ReadyBits(long state) => (int)(state & ReadyMask);

    internal static bool IsShutdown(long state) => (state & ShutdownBit) != 0;

    /// <summary>Starts a registration (under the reactor's slab lock).</summary>
    internal void Activate(int fd)
    {
        _generation++;
        Volatile.Write(ref _state, 0);
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
        bool reader = _readerArmed;
        bool writer = _writerArmed;
        _readerArmed = _writerArmed = false;
        _lock.Exit();
        if (reader)
        {
            _reader.TrySetException(new ObjectDisposedException("socket", "The descriptor was closed while a task waited for it."));
        }

        if (writer)
        {
            _writer.TrySetException(new ObjectDisposedException("socket", "The descriptor was closed while a task waited for it."));
        }

        return true;
    }

    /// <summary>Invalidates the registration's token (under the reactor's slab lock) before the slot is reused.</summary>
    internal void Retire() => _generation++;

    /// <summary>Publishes readiness from an epoll event and wakes the waiters it concerns (the reactor thread).</summary>
    internal void SetReadiness(int bits)
    {
        long state = Volatile.Read(ref _state);
        long next;
        while (true)
        {
            if (IsShutdown(state))
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
        bool reader = _readerArmed && (bits & Readiness.ReadInterest) != 0;
        bool writer = _writerArmed && (bits & Readiness.WriteInterest) != 0;
        _readerArmed &= !reader;
        _writerArmed &= !writer;
        _lock.Exit();
        if (reader)
        {
            _reader.TrySetResult(next);
        }

        if (writer)
        {
            _writer.TrySetResult(next);
        }
    }

    /// <summary>
    /// Clears <paramref name="bits"/> (readable and/or writable) if no event came since <paramref name="observed"/>
    /// was read: the caller's syscall returned EAGAIN after it saw that state.
    /// </summary>
    internal void ClearReadiness(long observed, int bits)
    {
        long clear = bits & (Readiness.Readable | Readiness.Writable | Readiness.Error);
        long state = Volatile.Read(ref _state);
        while ((state & TickMask) == (observed & TickMask) && (state & clear) != 0)
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
        return ReadyAsync(interest, cancellationToken);
    }

    /// <summary>
    /// The current state once any bit of <paramref name="interest"/> (<see cref="Readiness.ReadInterest"/> or
    /// <see cref="Readiness.WriteInterest"/>) is set: at once if it already is, else when an event brings it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The registration ended (before or during the wait).</exception>
    /// <exception cref="InvalidOperationException">Another task already waits in this direction.</exception>
    internal ValueTask<long> ReadyAsync(int interest, CancellationToken cancellationToken)
    {
        long state = State;
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

        bool read = interest == Readiness.ReadInterest;
        ReadinessWaiter waiter = read ? _reader : _writer;
        _lock.Enter();
        bool busy = read ? _readerArmed : _writerArmed;
        _lock.Exit();
        if (busy)
        {
            throw new InvalidOperationException($"Another task already waits for this socket to become {(read ? "readable" : "writable")}: one reader and one writer at a time.");
        }

        waiter.Reset();
        waiter.RegisterCancellation(cancellationToken);
        _lock.Enter();
        state = State;
        if ((ReadyBits(state) & interest) != 0 || IsShutdown(state) || cancellationToken.IsCancellationRequested)
        {
            _lock.Exit();
            waiter.DisposeRegistration();
            return IsShutdown(state) ? ValueTask.FromException<long>(new ObjectDisposedException("socket"))
                : (ReadyBits(state) & interest) != 0 ? new ValueTask<long>(state)
                : ValueTask.FromCanceled<long>(cancellationToken);
        }

        if (read)
        {
            _readerArmed = true;
        }
        else
        {
            _writerArmed = true;
        }

        _lock.Exit();
        return waiter.AsValueTask();
    }

    private void CancelWait(ReadinessWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        ref bool armed = ref waiter == _reader ? ref _readerArmed : ref _writerArmed;
        bool removed = armed && waiter.IsCurrentVersion(version);
        armed &= !removed;
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    /// <summary>The reusable wait of one direction.</summary>
    private sealed class ReadinessWaiter(ScheduledIo owner) : KyotoValueTaskSource<long>
    {
        protected override void OnCancellationRequested(Exception error, short version) => owner.CancelWait(this, error, version);
    }
}
