using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// The shared state of an mpsc channel: the producers' side of a double buffer, the close state and the
/// receiver's wake-up. The receiver's side of the buffer lives in <see cref="MpscReceiver{T}"/>.
/// </summary>
/// <remarks>
/// <para>Design: producers append to <c>_in</c> under a spin lock (one CAS and a store per send). The single
/// receiver reads its own array without any lock and, when it runs dry, swaps its empty array with
/// <c>_in</c> under the lock, taking a whole batch at once. Both arrays are reused, so a warm channel allocates
/// nothing. Capacity (bounded channels) is a <see cref="BatchSemaphore"/>: a send takes a permit, each
/// receive returns one, so senders waiting for room are served in order.</para>
/// <para>Invariants:</para>
/// <list type="number">
/// <item><c>_in</c>, <c>_inCount</c>, <c>_closed</c> and <c>_receiverWaiting</c> change only under <c>_lock</c>.</item>
/// <item>The receiver parks (sets <c>_receiverWaiting</c>) only under the lock, after seeing <c>_in</c> empty and
/// the channel open. Whoever next appends or closes under the lock clears the flag and wakes it, so a wake-up
/// is never lost and never spurious: a woken receiver finds a value, or the channel closed.</item>
/// <item>Order: values enter <c>_in</c> in lock order and the receiver drains whole batches in order, so each
/// producer's values arrive in the order it sent them.</item>
/// <item>Once closed, no send is accepted (the caller keeps its value), except through a permit reserved
/// before closing; values already in the channel can still be received. The receiver sees "closed" only after
/// both buffers are empty and no reserved permit is outstanding (<c>_reserved</c>, also under the lock).</item>
/// <item>Room (bounded channels): the receiver of a channel of capacity 1024 or more returns room to the
/// semaphore in batches of 32 received values, counted with an interlocked increment. A sender that finds no
/// room takes that held-back room itself (<see cref="MpscReceiver{T}.ReclaimRoom"/>) after it has queued, and
/// the receiver reads the semaphore's waiter count after counting, so one of the two always returns it: a send
/// waits (or <c>TrySend</c> fails) only while the channel holds its capacity of unreceived values.</item>
/// </list>
/// </remarks>
internal sealed class MpscCore<T>
{
    private const int InitialBuffer = 16;

    private TinyLock _lock;
    private T[] _in = new T[InitialBuffer];
    private int _inCount;
    private bool _closed;
    private bool _receiverWaiting;
    private bool _receiverGone;
    private int _reserved;
    private int _senders = 1;
    private TaskCompletionSource? _closedSignal;

    internal MpscCore(int capacity)
    {
        Capacity = capacity > 0 ? new BatchSemaphore(capacity) : null;
        MaxCapacity = capacity;
        Waiter = new RecvWaiter(this);
    }

    /// <summary>The room of a bounded channel; null if unbounded.</summary>
    internal BatchSemaphore? Capacity { get; }

    internal int MaxCapacity { get; }

    internal RecvWaiter Waiter { get; }

    internal bool IsClosed => Volatile.Read(ref _closed);

    internal int InCount => Volatile.Read(ref _inCount);

    /// <summary>Appends <paramref name="value"/>; false (nothing stored) if the channel is closed.</summary>
    /// <param name="value">The value.</param>
    /// <param name="reserved">The sender holds a permit reserved before the close: accept while the receiver lives.</param>
    internal bool TryPush(T value, bool reserved = false)
    {
        _lock.Enter();
        if (_closed && (!reserved || _receiverGone))
        {
            bool finish = reserved && --_reserved == 0 && _receiverWaiting;
            _receiverWaiting &= !finish;
            _lock.Exit();
            if (finish)
            {
                Waiter.TrySetResult(false);
            }

            return false;
        }

        T[] buffer = _in;
        int count = _inCount;
        if ((uint)count >= (uint)buffer.Length)
        {
            buffer = Grow();
        }

        buffer[count] = value;
        _inCount = count + 1;
        if (reserved)
        {
            _reserved--;
        }

        bool wake = _receiverWaiting;
        _receiverWaiting = false;
        _lock.Exit();
        if (wake)
        {
            Waiter.TrySetResult(true);
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private T[] Grow()
    {
        // Under the lock; the copy runs only while the buffer grows to its working size.
        var bigger = new T[_in.Length * 2];
        Array.Copy(_in, bigger, _inCount);
        _in = bigger;
        return bigger;
    }

    internal enum Take
    {
        Taken,
        Empty,
        Closed,
    }

    /// <summary>
    /// The receiver's swap: if values are waiting, exchanges its drained <paramref name="buffer"/> for them and
    /// returns their count; otherwise reports closed, or (when <paramref name="park"/>) marks the receiver parked.
    /// </summary>
    internal Take Swap(ref T[] buffer, out int count, bool park)
    {
        _lock.Enter();
        count = _inCount;
        if (count > 0)
        {
            T[] full = _in;
            _in = buffer;
            _inCount = 0;
            _lock.Exit();
            buffer = full;
            return Take.Taken;
        }

        if (_closed && _reserved == 0)
        {
            _lock.Exit();
            return Take.Closed;
        }

        if (park)
        {
            _receiverWaiting = true;
        }

        _lock.Exit();
        return Take.Empty;
    }

    /// <summary>Counts a reserved slot (a permit) that may still send after a close; false if already closed.</summary>
    internal bool AddReservation()
    {
        _lock.Enter();
        bool open = !_closed;
        if (open)
        {
            _reserved++;
        }

        _lock.Exit();
        return open;
    }

    /// <summary>A reserved slot was given up unused; the last one of a closed channel lets the receiver finish.</summary>
    internal void ReleaseReservation()
    {
        _lock.Enter();
        bool wake = --_reserved == 0 && _closed && _receiverWaiting;
        _receiverWaiting &= !wake;
        _lock.Exit();
        if (wake)
        {
            Waiter.TrySetResult(false);
        }
    }

    /// <summary>
    /// Un-parks the receiver if no producer woke it yet and its waiter is still armed for the await of
    /// <paramref name="version"/>; true if this call took the flag back.
    /// </summary>
    internal bool Unpark(short version)
    {
        _lock.Enter();
        bool wasWaiting = _receiverWaiting && Waiter.IsCurrentVersion(version);
        _receiverWaiting &= !wasWaiting;
        _lock.Exit();
        return wasWaiting;
    }

    /// <summary>Closes the channel to new sends and wakes a parked receiver; false if it was closed already.</summary>
    internal bool Close(bool receiverGone = false)
    {
        _lock.Enter();
        bool first = !_closed;
        _closed = true;
        _receiverGone |= receiverGone;

        // With a reserved permit still out, the receiver keeps waiting: the permit's send or disposal wakes it.
        bool wake = _receiverWaiting && _reserved == 0;
        _receiverWaiting &= !wake;
        _lock.Exit();
        if (wake)
        {
            Waiter.TrySetResult(false);
        }

        if (first)
        {
            Capacity?.Close(static () => new ClosedChannelException("The channel is closed: the receiver closed it."));
            Volatile.Read(ref _closedSignal)?.TrySetResult();
        }

        return first;
    }

    /// <summary>Drops every value still in the producers' buffer (the receiver is gone).</summary>
    internal void ClearIn()
    {
        _lock.Enter();
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            Array.Clear(_in, 0, _inCount);
        }

        _inCount = 0;
        _lock.Exit();
    }

    /// <summary>Completes when the channel closes; created on first use and shared.</summary>
    internal Task ClosedTask
    {
        get
        {
            if (Volatile.Read(ref _closedSignal) is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (Interlocked.CompareExchange(ref _closedSignal, created, null) is null && IsClosed)
                {
                    created.TrySetResult();
                }
            }

            return _closedSignal!.Task;
        }
    }

    internal void AddSender()
    {
        int n = Volatile.Read(ref _senders);
        while (true)
        {
            if (n == 0)
            {
                throw new ObjectDisposedException("MpscSender", "Every sender of this channel has been disposed.");
            }

            int seen = Interlocked.CompareExchange(ref _senders, n + 1, n);
            if (seen == n)
            {
                return;
            }

            n = seen;
        }
    }

    internal void RemoveSender()
    {
        if (Interlocked.Decrement(ref _senders) == 0)
        {
            Close();
        }
    }

    /// <summary>
    /// The receiver's one reusable waiter. It carries no value: a wake means "look again", and the value is
    /// taken by the receiver when the await resumes (so an abort or cancellation loses nothing: the value
    /// simply stays in the channel).
    /// </summary>
    internal sealed class RecvWaiter(MpscCore<T> core) : KyotoValueTaskSource<bool>, IValueTaskSource<T>
    {
        private readonly MpscCore<T> _core = core;
        internal MpscReceiver<T>? Receiver;
        internal volatile bool Busy;

        protected override void OnCancellationRequested(Exception error, short version)
        {
            // A producer that already took the flag will complete us with a value that stays in the channel.
            if (_core.Unpark(version))
            {
                TrySetException(error);
            }
        }

        protected override void OnConsumed() => Busy = false;

        T IValueTaskSource<T>.GetResult(short token)
        {
            MpscReceiver<T> receiver = Receiver!;
            GetResult(token);
            return receiver.TakeAfterWake();
        }

        ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }
}
