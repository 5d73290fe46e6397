// A watch receiver: the last version it has seen (_seen) and one reusable waiter.
//
// Invariants:
//  1. A receiver is single-consumer: _seen is read and written by its one consumer only. While a change wait
//     waits on the waiter (queued, woken but not yet consumed, or about to yield), _pending is 1, and every
//     operation that moves _seen (ChangedAsync, BorrowAndUpdate, WaitForAsync, MarkChanged/MarkUnchanged, an
//     enumerator's MoveNextAsync) throws InvalidOperationException meanwhile. _pending is set before the waiter
//     can be seen and cleared last in GetResult. Borrow, HasChanged and IsClosed only read, at any time.
//     Misuse from two threads can only confuse this receiver's own _seen, never other receivers.
//  2. The waiter carries no value: a write or close only wakes it, and GetResult compares the channel's version
//     with _seen then (a wake-up means the version moved or the channel closed). An abandoned wake-up
//     (cancelled, task aborted) therefore loses nothing: the change stays unseen for the next wait.
//  3. Disposal happens once (_disposed): the receiver is uncounted at once; a wait in flight has its queued
//     waiter failed with ObjectDisposedException (or, already woken, fails in GetResult). A wait being queued
//     concurrently sees _disposed under the channel's lock and is refused.
using System.Threading.Tasks.Sources;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// Observes the value of a <see cref="Watch"/> channel: read the latest with <see cref="Borrow"/>, wait for a
/// newer one with <see cref="ChangedAsync"/> or <see cref="WaitForAsync"/>, or enumerate the changes.
/// </summary>
/// <remarks>
/// <para>The receiver remembers the version it has seen last; the initial value (or the value when it was
/// subscribed) counts as seen. A receiver is single-consumer: one wait at a time (a second concurrent one
/// throws <see cref="InvalidOperationException"/>); <see cref="Clone"/> gives another consumer its own
/// receiver. <see cref="Borrow"/> may be called from any thread at any time.</para>
/// <para>Dispose a receiver you no longer use: senders count receivers (<see cref="WatchSender{T}.ReceiverCount"/>,
/// <see cref="WatchSender{T}.ClosedAsync"/>).</para>
/// </remarks>
/// <typeparam name="T">The value type.</typeparam>
public sealed class WatchReceiver<T> : IDisposable, IAsyncEnumerable<T>
{
    private readonly WatchCore<T> _core;
    private readonly ChangeWaiter _waiter;
    // Touched by the consumer only (invariant 1).
    private long _seen;
    private int _pending;
    private int _disposed;

    internal WatchReceiver(WatchCore<T> core, long seenVersion)
    {
        _core = core;
        _seen = seenVersion;
        _waiter = new ChangeWaiter(this);
    }

    internal bool IsDisposeRequested => Volatile.Read(ref _disposed) != 0;

    /// <summary>Test hook: the channel's shared state.</summary>
    internal WatchCore<T> Core => _core;

    /// <summary>True once every sender is disposed (the last value stays readable).</summary>
    public bool IsClosed => WatchCore<T>.IsClosedState(_core.State);

    /// <summary>True if a value newer than the last one this receiver has seen exists (a snapshot).</summary>
    /// <exception cref="ClosedChannelException">Every sender is disposed (as Tokio's <c>has_changed</c>, even if a value is unseen).</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public bool HasChanged
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
            long state = _core.State;
            if (WatchCore<T>.IsClosedState(state))
            {
                throw new ClosedChannelException("The watch channel is closed: every sender was disposed.");
            }

            return WatchCore<T>.VersionOf(state) != Volatile.Read(ref _seen);
        }
    }

    /// <summary>
    /// The current value, without marking it seen. No lock is held afterwards: for a reference type this is the
    /// channel's object itself (do not mutate it; use <see cref="WatchSender{T}.SendModify"/>), for a struct a
    /// consistent copy.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public T Borrow()
    {
        ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
        _core.Read(out T value, out _);
        return value;
    }

    /// <summary>The current value, marked seen: <see cref="ChangedAsync"/> then waits for a newer one.</summary>
    /// <exception cref="InvalidOperationException">A wait on this receiver is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public T BorrowAndUpdate()
    {
        ThrowIfUnavailable();
        _core.Read(out T value, out long state);
        Volatile.Write(ref _seen, WatchCore<T>.VersionOf(state));
        return value;
    }

    /// <summary>Marks the current value unseen: the next <see cref="ChangedAsync"/> returns at once.</summary>
    /// <exception cref="InvalidOperationException">A wait on this receiver is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public void MarkChanged()
    {
        ThrowIfUnavailable();
        Volatile.Write(ref _seen, -1); // no version is negative
    }

    /// <summary>Marks the current value seen without reading it.</summary>
    /// <exception cref="InvalidOperationException">A wait on this receiver is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public void MarkUnchanged()
    {
        ThrowIfUnavailable();
        Volatile.Write(ref _seen, WatchCore<T>.VersionOf(_core.State));
    }

    /// <summary>
    /// Waits until a value newer than the last one seen exists, and marks it seen (read it with
    /// <see cref="Borrow"/>). Several sends since the last wait count as one change.
    /// </summary>
    /// <remarks>
    /// <para>Returns at once (no allocation) when a newer value already exists; otherwise waits on the
    /// receiver's reusable waiter (no allocation either). When the running task has used up its coop budget,
    /// a ready change is reported after a trip through the run queue.</para>
    /// <para><b>Cancel safety:</b> cancelling (the token, or aborting the awaiting task) loses nothing: a change
    /// is marked seen only when the await returns, so the next wait reports it.</para>
    /// </remarks>
    /// <exception cref="ClosedChannelException">Every sender is disposed and no unseen value is left.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another wait on this receiver is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed (before or during the wait).</exception>
    public ValueTask ChangedAsync(CancellationToken cancellationToken = default)
    {
        WatchOutcome outcome = StartChange(cancellationToken, readValue: false, out _, out short version);
        return outcome switch
        {
            WatchOutcome.Ready => default,
            WatchOutcome.Pending => new ValueTask(_waiter, version),
            _ => ValueTask.FromException(Failure(outcome, cancellationToken)),
        };
    }

    /// <summary>
    /// Returns the first value, the current one included, for which <paramref name="predicate"/> is true, waiting
    /// for changes as needed; every value it examines is marked seen.
    /// </summary>
    /// <remarks>
    /// <para><paramref name="predicate"/> runs on the calling task, outside any lock, on a consistent copy (for
    /// a reference type, the channel's object). Values replaced before the receiver could look at them are
    /// skipped, as with <see cref="ChangedAsync"/>. Completes synchronously without allocating when the current
    /// value matches; a call that has to wait allocates its async state once.</para>
    /// <para><b>Cancel safety:</b> cancelling loses nothing but the predicate evaluations already done: the
    /// values examined stay marked seen, later ones are still unseen.</para>
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    /// <exception cref="ClosedChannelException">Every sender is disposed and no remaining value matched.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another wait on this receiver is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public ValueTask<T> WaitForAsync(Func<T, bool> predicate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ThrowIfUnavailable();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        // The current value first, as Tokio: examined unless the channel is closed and it was seen already.
        _core.Read(out T value, out long state);
        long version = WatchCore<T>.VersionOf(state);
        bool changed = version != _seen;
        Volatile.Write(ref _seen, version);
        bool closed = WatchCore<T>.IsClosedState(state);
        if ((!closed || changed) && predicate(value))
        {
            return new ValueTask<T>(value);
        }

        return closed
            ? ValueTask.FromException<T>(new ClosedChannelException("The watch channel is closed and no value matched."))
            : WaitForChangesAsync(predicate, cancellationToken);
    }

    private async ValueTask<T> WaitForChangesAsync(Func<T, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Throws ClosedChannelException once closed with nothing unseen.
            await ChangedAsync(cancellationToken).ConfigureAwait(false);
            T value = BorrowAndUpdate();
            if (predicate(value))
            {
                return value;
            }
        }
    }

    /// <summary>Creates another receiver on the same channel that has seen what this one has seen.</summary>
    /// <exception cref="ObjectDisposedException">This receiver was disposed.</exception>
    public WatchReceiver<T> Clone()
    {
        ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
        return _core.AddReceiver(Volatile.Read(ref _seen));
    }

    /// <summary>
    /// Enumerates the value each time it changes: first the current value if this receiver has not seen it,
    /// then each newer value as it is seen (values replaced in between are skipped). Ends when the channel is
    /// closed and nothing unseen remains.
    /// </summary>
    /// <remarks>
    /// One enumeration at a time (the receiver is single-consumer); disposing the enumerator leaves the receiver
    /// open. <b>Cancel safety:</b> as <see cref="ChangedAsync"/>: a cancelled <c>MoveNextAsync</c> loses nothing.
    /// </remarks>
    /// <param name="cancellationToken">Cancels every wait of the enumeration.</param>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
        return new Enumerator(this, cancellationToken);
    }

    /// <summary>
    /// Stops observing: senders stop counting this receiver. A wait in flight fails with
    /// <see cref="ObjectDisposedException"/>. Later calls do nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Invariant 3: a wait queued now fails; one being queued sees _disposed under the channel's lock.
        _core.CancelWait(_waiter, new ObjectDisposedException(GetType().FullName, "The watch receiver was disposed while waiting."), closedWaiter: false, _waiter.Version);
        _core.RemoveReceiver();
    }

    /// <summary>
    /// Starts a change wait: Ready (marked seen; with <paramref name="readValue"/>, <paramref name="value"/> is
    /// the value read with that version), Closed/Cancelled/Disposed, or Pending with the waiter armed at
    /// <paramref name="version"/> (the receiver is pending until GetResult).
    /// </summary>
    private WatchOutcome StartChange(CancellationToken cancellationToken, bool readValue, out T value, out short version)
    {
        ThrowIfUnavailable();
        value = default!;
        version = 0;
        if (cancellationToken.IsCancellationRequested)
        {
            return WatchOutcome.Cancelled;
        }

        ChangeWaiter waiter = _waiter;
        long seen = _seen;
        long state = _core.State;
        if (WatchCore<T>.VersionOf(state) != seen)
        {
            if (Coop.TryConsume())
            {
                MarkSeenUnsynchronized(readValue, out value);
                return WatchOutcome.Ready;
            }

            // Out of budget: the await resumes from the back of the run queue; GetResult marks the change then.
            waiter.Reset();
            version = waiter.Version;
            Volatile.Write(ref _pending, 1);
            waiter.SetResultAfterYield(true);
            return WatchOutcome.Pending;
        }

        if (WatchCore<T>.IsClosedState(state))
        {
            return WatchOutcome.Closed;
        }

        // Arm the waiter before it can be seen, then queue it unless something happened meanwhile.
        waiter.Reset();
        version = waiter.Version;
        Volatile.Write(ref _pending, 1);
        waiter.RegisterCancellation(cancellationToken);
        WatchOutcome outcome = _core.EnqueueChange(waiter, seen, this, cancellationToken);
        if (outcome == WatchOutcome.Pending)
        {
            return outcome;
        }

        waiter.DisposeRegistration();
        if (outcome == WatchOutcome.Ready)
        {
            MarkSeenUnsynchronized(readValue, out value);
        }

        Volatile.Write(ref _pending, 0);
        return outcome;
    }

    /// <summary>By the consumer: marks the current version seen (reading the value with it when asked).</summary>
    private void MarkSeenUnsynchronized(bool readValue, out T value)
    {
        long state;
        if (readValue)
        {
            _core.Read(out value, out state);
        }
        else
        {
            value = default!;
            state = _core.State;
        }

        Volatile.Write(ref _seen, WatchCore<T>.VersionOf(state));
    }

    private Exception Failure(WatchOutcome outcome, CancellationToken cancellationToken) => outcome switch
    {
        WatchOutcome.Closed => new ClosedChannelException("The watch channel is closed: every sender was disposed."),
        WatchOutcome.Cancelled => new OperationCanceledException(cancellationToken),
        _ => new ObjectDisposedException(GetType().FullName, "The watch receiver was disposed while waiting."),
    };

    /// <summary>
    /// Ends a pending change wait, from GetResult: consumes the wake-up (throws its cancellation, abort or
    /// disposal) and marks the change seen. False when the channel closed with nothing unseen.
    /// </summary>
    private bool FinishWait(short token, bool readValue, out T value)
    {
        ChangeWaiter waiter = _waiter;
        if (token != waiter.Version || !waiter.IsCompleted)
        {
            // A stale or premature GetResult: touch nothing (the wait in flight is someone else's).
            throw new InvalidOperationException("This ValueTask was already awaited or is not complete: a ValueTask may be awaited only once.");
        }

        try
        {
            waiter.GetResult(token);
            ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
            if (WatchCore<T>.VersionOf(_core.State) != _seen)
            {
                MarkSeenUnsynchronized(readValue, out value);
                return true;
            }

            value = default!;
            if (IsClosed)
            {
                return false;
            }

            throw new InvalidOperationException("A watch receiver was woken without a change: it was used concurrently.");
        }
        finally
        {
            // A second GetResult with this token now fails the version check; then the receiver is free.
            waiter.Reset();
            Volatile.Write(ref _pending, 0);
        }
    }

    private void ThrowIfUnavailable()
    {
        ObjectDisposedException.ThrowIf(IsDisposeRequested, this);
        if (Volatile.Read(ref _pending) != 0)
        {
            throw new InvalidOperationException("A wait on this watch receiver is in flight: a receiver is single-consumer (use Clone for another consumer).");
        }
    }

    /// <summary>The receiver's one waiter: a wake-up whose GetResult checks the version (invariant 2).</summary>
    private sealed class ChangeWaiter(WatchReceiver<T> receiver) : LinkedWaiter<bool>, IValueTaskSource
    {
        protected override void OnCancellationRequested(Exception error, short version) => receiver._core.CancelWait(this, error, closedWaiter: false, version);

        void IValueTaskSource.GetResult(short token)
        {
            if (!receiver.FinishWait(token, readValue: false, out _))
            {
                throw new ClosedChannelException("The watch channel is closed: every sender was disposed.");
            }
        }
    }

    /// <summary>An enumeration: MoveNextAsync is a change wait whose pending form completes through the receiver's waiter.</summary>
    private sealed class Enumerator(WatchReceiver<T> receiver, CancellationToken cancellationToken) : IAsyncEnumerator<T>, IValueTaskSource<bool>
    {
        private T _current = default!;

        public T Current => _current;

        public ValueTask<bool> MoveNextAsync()
        {
            WatchOutcome outcome = receiver.StartChange(cancellationToken, readValue: true, out T value, out short version);
            switch (outcome)
            {
                case WatchOutcome.Ready:
                    _current = value;
                    return new ValueTask<bool>(true);
                case WatchOutcome.Pending:
                    return new ValueTask<bool>(this, version);
                case WatchOutcome.Closed:
                    _current = default!;
                    return new ValueTask<bool>(false);
                default:
                    return ValueTask.FromException<bool>(receiver.Failure(outcome, cancellationToken));
            }
        }

        public ValueTask DisposeAsync() => default;

        bool IValueTaskSource<bool>.GetResult(short token)
        {
            bool changed = receiver.FinishWait(token, readValue: true, out T value);
            _current = value;
            return changed;
        }

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => receiver._waiter.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            receiver._waiter.OnCompleted(continuation, state, token, flags);
    }
}
