using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// The single receiving end of an <see cref="Mpsc"/> channel (bounded or unbounded). Values arrive in the order
/// each sender sent them. Enumerate it with <c>await foreach</c> to receive until the channel closes.
/// </summary>
/// <remarks>
/// One receive at a time: the receiver is single-consumer, and a second receive started while one is pending
/// throws <see cref="InvalidOperationException"/>. The receiver's side of the buffer is read without locks;
/// see <see cref="MpscCore{T}"/> for the protocol.
/// </remarks>
public sealed class MpscReceiver<T> : IAsyncEnumerable<T>, IDisposable
{
    private readonly MpscCore<T> _core;
    private T[] _out = new T[16];
    private int _outPos;
    private int _outCount;
    private bool _disposed;
    private ManySource? _many;
    private readonly BatchSemaphore? _room;
    private readonly int _releaseBatch;
    private int _unreleased; // room taken but not yet returned (capacity >= 1024: returned in batches); shared, see ReclaimRoom

    internal MpscReceiver(MpscCore<T> core)
    {
        _core = core;
        core.Waiter.Receiver = this;
        _room = core.Capacity;
        _releaseBatch = core.MaxCapacity >= 1024 ? 32 : 1;
    }

    /// <summary>True once the channel is closed to new values (values already sent may still be received).</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>How many values are waiting to be received (a snapshot).</summary>
    public int Count => _outCount - _outPos + _core.InCount;

    /// <summary>True if no value is waiting (a snapshot).</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>The capacity of a bounded channel; <see cref="int.MaxValue"/> if unbounded.</summary>
    public int MaxCapacity => _core.Capacity is null ? int.MaxValue : _core.MaxCapacity;

    /// <summary>Receives the next value, waiting for one if the channel is empty.</summary>
    /// <remarks><b>Cancel safety:</b> safe. A cancelled receive takes nothing: a value that arrives meanwhile stays in the channel for the next receive.</remarks>
    /// <exception cref="ClosedChannelException">The channel is closed and every value has been received.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another receive on this receiver is still pending.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public ValueTask<T> RecvAsync(CancellationToken cancellationToken = default)
    {
        MpscCore<T>.RecvWaiter waiter = Enter();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        switch (Poll(waiter, cancellationToken))
        {
            case MpscCore<T>.Take.Taken:
                return new ValueTask<T>(TakeLocal());
            case MpscCore<T>.Take.Closed:
                return ValueTask.FromException<T>(Closed());
            default:
                return new ValueTask<T>(waiter, waiter.Version);
        }
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length values at once, waiting until at least one is available.
    /// </summary>
    /// <returns>How many values were written to the start of <paramref name="buffer"/>; 0 once the channel is closed and drained (or if the buffer is empty).</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled call takes nothing.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another receive on this receiver is still pending.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public ValueTask<int> RecvManyAsync(Memory<T> buffer, CancellationToken cancellationToken = default)
    {
        MpscCore<T>.RecvWaiter waiter = Enter();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (buffer.IsEmpty)
        {
            return new ValueTask<int>(0);
        }

        switch (Poll(waiter, cancellationToken))
        {
            case MpscCore<T>.Take.Taken:
                return new ValueTask<int>(Fill(buffer.Span));
            case MpscCore<T>.Take.Closed:
                return new ValueTask<int>(0);
            default:
                ManySource many = _many ??= new ManySource(this);
                many.Buffer = buffer;
                return new ValueTask<int>(many, waiter.Version);
        }
    }

    /// <summary>Takes the next value if one is waiting, without waiting.</summary>
    /// <returns>False if the channel is empty (check <see cref="IsClosed"/> to tell whether more may come).</returns>
    /// <exception cref="InvalidOperationException">Another receive on this receiver is still pending.</exception>
    /// <exception cref="ObjectDisposedException">The receiver was disposed.</exception>
    public bool TryRecv(out T value)
    {
        Enter();
        if (HasLocal() || Refill() == MpscCore<T>.Take.Taken)
        {
            value = TakeLocal();
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>Blocks the calling thread until a value arrives: for synchronous code outside the runtime.</summary>
    /// <exception cref="ClosedChannelException">The channel is closed and every value has been received.</exception>
    /// <exception cref="InvalidOperationException">Called on a runtime worker thread, or another receive is pending.</exception>
    public T BlockingRecv()
    {
        BlockingWait.ThrowIfOnWorker(nameof(BlockingRecv));
        return BlockingWait.Wait(RecvAsync());
    }

    /// <summary>
    /// Closes the channel to new values: senders fail from now on (a send waiting for room fails with
    /// <see cref="ClosedChannelException"/>), but values already sent, and values sent through permits reserved
    /// before the close, can still be received. Receiving then ends with <see cref="ClosedChannelException"/>.
    /// </summary>
    public void Close() => _core.Close();

    /// <summary>Closes the channel and drops every value not yet received.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _core.Close(receiverGone: true);
        _core.ClearIn();
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(_out);
        }

        _outPos = _outCount = 0;
    }

    /// <summary>Enumerates the values until the channel is closed and drained.</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled <c>MoveNextAsync</c> takes nothing.</remarks>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) => new Enumerator(this, cancellationToken);

    private MpscCore<T>.RecvWaiter Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MpscCore<T>.RecvWaiter waiter = _core.Waiter;
        if (waiter.Busy)
        {
            throw new InvalidOperationException("Another receive on this mpsc receiver is still pending: an mpsc channel has a single consumer, one receive at a time.");
        }

        return waiter;
    }

    /// <summary>
    /// Looks for a value: <see cref="MpscCore{T}.Take.Taken"/> (one is in the local buffer and the caller may
    /// take it now), <see cref="MpscCore{T}.Take.Closed"/>, or <see cref="MpscCore{T}.Take.Empty"/> with
    /// <paramref name="waiter"/> armed: its await completes when a value arrives, the channel closes or the
    /// token is cancelled. An out-of-budget task also gets an armed (already completed) waiter, so it yields.
    /// </summary>
    private MpscCore<T>.Take Poll(MpscCore<T>.RecvWaiter waiter, CancellationToken cancellationToken)
    {
        if (!HasLocal())
        {
            waiter.Reset();
            waiter.Busy = true;
            waiter.RegisterCancellation(cancellationToken);
            ReturnRoom();
            MpscCore<T>.Take take = _core.Swap(ref _out, out int count, park: true);
            if (take == MpscCore<T>.Take.Empty)
            {
                // Parked. A cancellation that ran before the park found nothing to undo: undo it here.
                if (cancellationToken.IsCancellationRequested && _core.Unpark(waiter.Version))
                {
                    waiter.TrySetException(new OperationCanceledException(cancellationToken));
                }

                return take;
            }

            waiter.DisposeRegistration();
            waiter.Busy = false;
            if (take == MpscCore<T>.Take.Closed)
            {
                return take;
            }

            _outPos = 0;
            _outCount = count;
        }

        if (Coop.TryConsume())
        {
            return MpscCore<T>.Take.Taken;
        }

        // Out of budget: complete the waiter at once, so the caller yields before it takes the value.
        waiter.Reset();
        waiter.Busy = true;
        waiter.SetResultAfterYield(true);
        return MpscCore<T>.Take.Empty;
    }

    private bool HasLocal() => _outPos < _outCount;

    /// <summary>Returns the room of the values taken so far to the senders.</summary>
    private void ReturnRoom() => ReclaimRoom();

    /// <summary>
    /// Returns the room of the values taken since the last return (any thread: a sender that finds no room calls
    /// it, so room the receiver holds back for its batch never keeps a sender waiting). True if any was returned.
    /// </summary>
    /// <remarks>
    /// A sender that waits is queued (the semaphore's waiter count raised, a full fence) before it calls this; the
    /// receiver counts a value (an interlocked increment, a full fence) before it reads that waiter count. So
    /// either the sender's exchange sees the count, or the receiver sees the waiter and returns the room itself.
    /// </remarks>
    internal bool ReclaimRoom()
    {
        int n = Interlocked.Exchange(ref _unreleased, 0);
        if (n == 0)
        {
            return false;
        }

        _room!.Release(n);
        return true;
    }

    private MpscCore<T>.Take Refill()
    {
        ReturnRoom();
        MpscCore<T>.Take take = _core.Swap(ref _out, out int count, park: false);
        if (take == MpscCore<T>.Take.Taken)
        {
            _outPos = 0;
            _outCount = count;
        }

        return take;
    }

    private T TakeLocal()
    {
        int pos = _outPos;
        T value = _out[pos];
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            _out[pos] = default!;
        }

        _outPos = pos + 1;
        if (_room is { } room)
        {
            if (_releaseBatch == 1)
            {
                room.Release(1);
            }
            else if (Interlocked.Increment(ref _unreleased) >= _releaseBatch || room.WaiterCount != 0)
            {
                ReturnRoom();
            }
        }

        return value;
    }

    private int Fill(Span<T> buffer)
    {
        int n = 0;
        while (n < buffer.Length && (HasLocal() || Refill() == MpscCore<T>.Take.Taken))
        {
            buffer[n++] = TakeLocal();
        }

        return n;
    }

    /// <summary>After a wake: takes the value that is now there, or throws if the channel closed empty.</summary>
    internal T TakeAfterWake()
    {
        if (HasLocal() || Refill() == MpscCore<T>.Take.Taken)
        {
            return TakeLocal();
        }

        throw Closed();
    }

    /// <summary>After a wake: true (a value is in the local buffer) or false (closed and drained).</summary>
    private bool HasValueAfterWake() => HasLocal() || Refill() == MpscCore<T>.Take.Taken;

    private static ClosedChannelException Closed() => new("The channel is closed and every value has been received.");

    /// <summary>Completes <see cref="RecvManyAsync"/> from the receiver's waiter.</summary>
    private sealed class ManySource(MpscReceiver<T> receiver) : IValueTaskSource<int>
    {
        internal Memory<T> Buffer;

        public int GetResult(short token)
        {
            Memory<T> buffer = Buffer;
            Buffer = default;
            receiver._core.Waiter.GetResult(token);
            return receiver.HasValueAfterWake() ? receiver.Fill(buffer.Span) : 0;
        }

        public ValueTaskSourceStatus GetStatus(short token) => receiver._core.Waiter.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            receiver._core.Waiter.OnCompleted(continuation, state, token, flags);
    }

    private sealed class Enumerator(MpscReceiver<T> receiver, CancellationToken cancellationToken) : IAsyncEnumerator<T>, IValueTaskSource<bool>
    {
        public T Current { get; private set; } = default!;

        public ValueTask<bool> MoveNextAsync()
        {
            MpscCore<T>.RecvWaiter waiter = receiver.Enter();
            cancellationToken.ThrowIfCancellationRequested();
            switch (receiver.Poll(waiter, cancellationToken))
            {
                case MpscCore<T>.Take.Taken:
                    Current = receiver.TakeLocal();
                    return new ValueTask<bool>(true);
                case MpscCore<T>.Take.Closed:
                    Current = default!;
                    return new ValueTask<bool>(false);
                default:
                    return new ValueTask<bool>(this, waiter.Version);
            }
        }

        public bool GetResult(short token)
        {
            receiver._core.Waiter.GetResult(token);
            if (receiver.HasValueAfterWake())
            {
                Current = receiver.TakeLocal();
                return true;
            }

            Current = default!;
            return false;
        }

        public ValueTaskSourceStatus GetStatus(short token) => receiver._core.Waiter.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            receiver._core.Waiter.OnCompleted(continuation, state, token, flags);

        public ValueTask DisposeAsync() => default;
    }
}
