// A broadcast receiver: a cursor (_next, the position of the next value to read) and one reusable waiter.
//
// Invariants:
//  1. The cursor follows the core's rule (BroadcastCore invariant 3): it changes only under the lock of the slot
//     it points at, after being re-read there. A receive therefore takes a value at most once even if misused
//     from two threads, and Dispose takes the cursor for good (LeftCursor) without racing a receive.
//  2. A receiver is single-consumer. While a receive waits on the waiter (queued, woken but not yet consumed, or
//     about to yield), _pending is 1; any other receive on this receiver meanwhile throws
//     InvalidOperationException. _pending is set before the waiter can be seen and cleared last in GetResult.
//  3. The waiter carries no value: a send or close only wakes it, and GetResult reads the ring. So a wake-up
//     that is never consumed (cancelled, task aborted) loses nothing, and a value is never handed to an await
//     that cannot take it.
//  4. Dispose happens once (_disposed): it claims the cursor, fails a queued waiter, and leaves the channel
//     (uncount, release the unread values) at once. A receive still in flight then finds the cursor claimed
//     and fails with ObjectDisposedException; it reads nothing.
using System.Threading.Tasks.Sources;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// Receives every value sent on a <see cref="Broadcast"/> channel after it subscribed. Enumerate it with
/// <c>await foreach</c>, or call <see cref="RecvAsync"/>.
/// </summary>
/// <remarks>
/// <para>A receiver is single-consumer: one receive at a time (a receive started while another waits throws
/// <see cref="InvalidOperationException"/>). Give each consumer its own receiver with <see cref="Resubscribe"/>
/// or <see cref="BroadcastSender{T}.Subscribe"/>. <see cref="Dispose"/> may be called from any thread, also
/// while a receive waits.</para>
/// <para>Dispose a receiver you no longer read: until then, senders count it and the ring keeps the values it
/// has not read (until they are overwritten).</para>
/// </remarks>
/// <typeparam name="T">The value type.</typeparam>
public sealed class BroadcastReceiver<T> : IDisposable, IAsyncEnumerable<T>
{
    private readonly BroadcastCore<T> _core;
    private readonly RecvWaiter _waiter;
    // The cursor: see invariant 1 (and BroadcastCore.LeftCursor once disposed).
    private long _next;
    private int _pending;
    private int _disposed;

    internal BroadcastReceiver(BroadcastCore<T> core, long next)
    {
        _core = core;
        _next = next;
        _waiter = new RecvWaiter(this);
    }

    /// <summary>How many values the channel retains (a power of two).</summary>
    public int Capacity => _core.Capacity;

    /// <summary>
    /// How many values were sent that this receiver has not received yet (a snapshot). Above
    /// <see cref="Capacity"/>, the receiver has fallen behind: its next receive reports a lag.
    /// </summary>
    public long Len
    {
        get
        {
            long next = Volatile.Read(ref _next);
            return next == BroadcastCore<T>.LeftCursor ? 0 : Math.Max(0, _core.TailPos - next);
        }
    }

    /// <summary>True if this receiver has received every value sent so far (a snapshot).</summary>
    public bool IsEmpty => Len == 0;

    /// <summary>True once every sender is disposed. Values not yet received can still be received.</summary>
    public bool IsClosed => _core.IsClosed;

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Test hook: the channel's shared state.</summary>
    internal BroadcastCore<T> Core => _core;

    /// <summary>
    /// Waits for the next value.
    /// </summary>
    /// <remarks>
    /// <para>Returns at once (no allocation) when a value is ready; otherwise waits on the receiver's reusable
    /// waiter (no allocation either). When the running task has used up its coop budget, a ready value is
    /// returned after a trip through the run queue.</para>
    /// <para><b>Cancel safety:</b> cancelling (the token, or aborting the awaiting task) loses no value: a value
    /// is taken from the ring only when the await returns it, so the next receive gets it.</para>
    /// </remarks>
    /// <exception cref="BroadcastLaggedException">The receiver fell behind by more than <see cref="Capacity"/>
    /// values; <see cref="BroadcastLaggedException.SkippedCount"/> says how many it missed. The next receive
    /// continues from the oldest value still retained.</exception>
    /// <exception cref="ClosedChannelException">Every sender is disposed and every value was received.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another receive on this receiver is waiting.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed (before or during the wait).</exception>
    public ValueTask<T> RecvAsync(CancellationToken cancellationToken = default)
    {
        BroadcastOutcome outcome = StartRecv(cancellationToken, out T value, out long skipped, out short version);
        return outcome switch
        {
            BroadcastOutcome.Received => new ValueTask<T>(value),
            BroadcastOutcome.Pending => new ValueTask<T>(_waiter, version),
            _ => ValueTask.FromException<T>(Failure(outcome, skipped, cancellationToken)),
        };
    }

    /// <summary>Takes the next value if one is ready, without waiting.</summary>
    /// <param name="value">The value when the result is <see cref="BroadcastRecvStatus.Received"/>; default otherwise.</param>
    /// <returns>What happened; on <see cref="BroadcastRecvStatus.Lagged"/> the receiver has moved to the oldest retained value.</returns>
    /// <exception cref="InvalidOperationException">A receive on this receiver is waiting.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public BroadcastRecvStatus TryRecv(out T value) => TryRecv(out value, out _);

    /// <summary>Takes the next value if one is ready, without waiting; reports how many values a lag skipped.</summary>
    /// <param name="value">The value when the result is <see cref="BroadcastRecvStatus.Received"/>; default otherwise.</param>
    /// <param name="skippedCount">On <see cref="BroadcastRecvStatus.Lagged"/>, how many values were missed; 0 otherwise.</param>
    /// <returns>What happened; on <see cref="BroadcastRecvStatus.Lagged"/> the receiver has moved to the oldest retained value.</returns>
    /// <exception cref="InvalidOperationException">A receive on this receiver is waiting.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public BroadcastRecvStatus TryRecv(out T value, out long skippedCount)
    {
        ThrowIfUnavailable();
        switch (_core.TryRecv(ref _next, out value, out skippedCount))
        {
            case BroadcastOutcome.Received:
                return BroadcastRecvStatus.Received;
            case BroadcastOutcome.Lagged:
                return BroadcastRecvStatus.Lagged;
            case BroadcastOutcome.Closed:
                return BroadcastRecvStatus.Closed;
            case BroadcastOutcome.Disposed:
                throw new ObjectDisposedException(GetType().FullName);
            default:
                return BroadcastRecvStatus.Empty;
        }
    }

    /// <summary>Creates another receiver on the same channel, which sees only the values sent after this call.</summary>
    /// <remarks>Works after the channel closed too: the new receiver is then closed and empty.</remarks>
    /// <exception cref="ObjectDisposedException">This receiver was disposed.</exception>
    public BroadcastReceiver<T> Resubscribe()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return _core.Subscribe();
    }

    /// <summary>
    /// Enumerates the values as they arrive; the enumeration ends when the channel is closed and drained.
    /// </summary>
    /// <remarks>
    /// <para>A lag surfaces as <see cref="BroadcastLaggedException"/> from <c>MoveNextAsync</c> (ending an
    /// <c>await foreach</c>); the receiver has already moved to the oldest retained value, so catching it and
    /// enumerating again (or calling <c>MoveNextAsync</c> again) continues from there. One enumeration at a
    /// time (the receiver is single-consumer). Disposing the enumerator leaves the receiver open.
    /// Enumerating allocates the enumerator once, nothing per value.</para>
    /// <para><b>Cancel safety:</b> as <see cref="RecvAsync"/>: a cancelled <c>MoveNextAsync</c> loses no value.</para>
    /// </remarks>
    /// <param name="cancellationToken">Cancels every wait of the enumeration.</param>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return new Enumerator(this, cancellationToken);
    }

    /// <summary>
    /// Leaves the channel: senders stop counting this receiver and the values it had not read are released.
    /// A receive waiting at the time fails with <see cref="ObjectDisposedException"/>. Thread-safe; later calls
    /// do nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Invariant 4: claim the cursor (no receive can take a value after this), fail a queued wait, leave.
        long next = _core.ClaimCursor(ref _next);
        _core.CancelWait(_waiter, new ObjectDisposedException(GetType().FullName, "The broadcast receiver was disposed while receiving."), _waiter.Version);
        if (next != BroadcastCore<T>.LeftCursor)
        {
            _core.Unsubscribe(next);
        }
    }

    private void ThrowIfUnavailable()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (Volatile.Read(ref _pending) != 0)
        {
            throw new InvalidOperationException("A receive on this broadcast receiver is already waiting: a receiver is single-consumer (use Resubscribe for another consumer).");
        }
    }

    /// <summary>
    /// Starts a receive: a ready value (Received), a lag, closed, cancelled or disposed outcome, or Pending with
    /// the waiter armed at <paramref name="version"/> (the receiver is pending until GetResult).
    /// </summary>
    private BroadcastOutcome StartRecv(CancellationToken cancellationToken, out T value, out long skipped, out short version)
    {
        ThrowIfUnavailable();
        version = 0;
        skipped = 0;
        if (cancellationToken.IsCancellationRequested)
        {
            value = default!;
            return BroadcastOutcome.Cancelled;
        }

        bool hasBudget = Coop.TryConsume();
        if (hasBudget)
        {
            BroadcastOutcome fast = _core.TryReadSlot(ref _next, out value);
            if (fast != BroadcastOutcome.Empty)
            {
                return fast;
            }
        }

        // Nothing in the slot (or a lag, or closed), or out of budget: arm the waiter before it can be seen.
        RecvWaiter waiter = _waiter;
        waiter.Reset();
        version = waiter.Version;
        Volatile.Write(ref _pending, 1);
        waiter.RegisterCancellation(cancellationToken);
        BroadcastOutcome outcome = _core.RecvSlow(ref _next, out value, out skipped, waiter, yieldIfReady: !hasBudget, cancellationToken);
        if (outcome == BroadcastOutcome.Pending)
        {
            return outcome;
        }

        waiter.DisposeRegistration();
        if (outcome == BroadcastOutcome.Yield)
        {
            // Out of budget with something ready: the await resumes from the back of the run queue, then reads.
            waiter.SetResultAfterYield(true);
            return BroadcastOutcome.Pending;
        }

        Volatile.Write(ref _pending, 0);
        return outcome;
    }

    private Exception Failure(BroadcastOutcome outcome, long skipped, CancellationToken cancellationToken) => outcome switch
    {
        BroadcastOutcome.Lagged => new BroadcastLaggedException(skipped),
        BroadcastOutcome.Closed => new ClosedChannelException(),
        BroadcastOutcome.Cancelled => new OperationCanceledException(cancellationToken),
        _ => new ObjectDisposedException(GetType().FullName, "The broadcast receiver was disposed while receiving."),
    };

    /// <summary>
    /// Ends a pending receive, from GetResult: consumes the wake-up (throws its cancellation, abort or disposal)
    /// and reads the value from the ring. False when the channel is closed and drained.
    /// </summary>
    private bool FinishWait(short token, out T value)
    {
        RecvWaiter waiter = _waiter;
        if (token != waiter.Version || !waiter.IsCompleted)
        {
            // A stale or premature GetResult: touch nothing (the receive in flight is someone else's).
            throw new InvalidOperationException("This ValueTask was already awaited or is not complete: a ValueTask may be awaited only once.");
        }

        try
        {
            waiter.GetResult(token);
            switch (_core.TryRecv(ref _next, out value, out long skipped))
            {
                case BroadcastOutcome.Received:
                    return true;
                case BroadcastOutcome.Closed:
                    return false;
                case BroadcastOutcome.Lagged:
                    throw new BroadcastLaggedException(skipped);
                case BroadcastOutcome.Disposed:
                    throw new ObjectDisposedException(GetType().FullName, "The broadcast receiver was disposed while receiving.");
                default:
                    throw new InvalidOperationException("A broadcast receiver was woken with nothing to receive: it was used by two consumers at once.");
            }
        }
        finally
        {
            // A second GetResult with this token now fails the version check; then the receiver is free.
            waiter.Reset();
            Volatile.Write(ref _pending, 0);
        }
    }

    /// <summary>The receiver's one waiter: a wake-up whose GetResult reads the value (invariant 3).</summary>
    private sealed class RecvWaiter(BroadcastReceiver<T> receiver) : LinkedWaiter<bool>, IValueTaskSource<T>
    {
        protected override void OnCancellationRequested(Exception error, short version) => receiver._core.CancelWait(this, error, version);

        T IValueTaskSource<T>.GetResult(short token) =>
            receiver.FinishWait(token, out T value) ? value : throw new ClosedChannelException();

        ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }

    /// <summary>An enumeration: MoveNextAsync is a receive whose pending form completes through the receiver's waiter.</summary>
    private sealed class Enumerator(BroadcastReceiver<T> receiver, CancellationToken cancellationToken) : IAsyncEnumerator<T>, IValueTaskSource<bool>
    {
        private T _current = default!;

        public T Current => _current;

        public ValueTask<bool> MoveNextAsync()
        {
            BroadcastOutcome outcome = receiver.StartRecv(cancellationToken, out T value, out long skipped, out short version);
            switch (outcome)
            {
                case BroadcastOutcome.Received:
                    _current = value;
                    return new ValueTask<bool>(true);
                case BroadcastOutcome.Pending:
                    return new ValueTask<bool>(this, version);
                case BroadcastOutcome.Closed:
                    _current = default!;
                    return new ValueTask<bool>(false);
                default:
                    return ValueTask.FromException<bool>(receiver.Failure(outcome, skipped, cancellationToken));
            }
        }

        public ValueTask DisposeAsync() => default;

        bool IValueTaskSource<bool>.GetResult(short token)
        {
            bool received = receiver.FinishWait(token, out T value);
            _current = value;
            return received;
        }

        ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => receiver._waiter.GetStatus(token);

        void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            receiver._waiter.OnCompleted(continuation, state, token, flags);
    }
}
