// Invariants (bounded sender): room is a permit of the channel's BatchSemaphore (its invariants hold). A send
// holds its permit from the acquire until its value is in the channel; a send that waited pushes its value as
// the awaiting task resumes (SendWaiter.GetResult), and if that task was aborted first the permit goes back
// (OnResultDropped), so room is never lost. A permit that cannot be used (the channel closed) is released at once.
// A reserved MpscPermit is counted in MpscCore._reserved until it sends or is disposed. Dispose counts once per
// sender (Interlocked.Exchange on _disposed).
using System.Threading.Tasks.Sources;
using Kyoto.Time;

namespace Kyoto.Sync;

/// <summary>
/// A sending end of a bounded <see cref="Mpsc"/> channel. A send waits while the channel is full; senders
/// waiting for room are served in order. Dispose it when done: the channel closes when its last sender is
/// disposed.
/// </summary>
public sealed class MpscSender<T> : IDisposable
{
    private static readonly Func<BatchSemaphore, SendWaiter> s_createWaiter = static s => new SendWaiter(s);

    private readonly MpscCore<T> _core;
    private int _disposed;

    internal MpscSender(MpscCore<T> core) => _core = core;

    private BatchSemaphore Room => _core.Capacity!;

    /// <summary>True once the receiver has closed the channel (or every sender is disposed): sends fail.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>
    /// Room left right now (a snapshot). With a capacity of 1024 or more, the receiver hands room back in small
    /// batches (at most 31 values behind) while no sender waits, so this may read slightly low; a sender that
    /// waits for room gets it back as soon as the receiver takes its next value.
    /// </summary>
    public int Capacity => Room.AvailablePermits;

    /// <summary>The channel's capacity.</summary>
    public int MaxCapacity => _core.MaxCapacity;

    /// <summary>Sends <paramref name="value"/>, waiting for room if the channel is full.</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> if the wait is cancelled the value was not sent, and the caller still holds it;
    /// the place in the queue is lost. To keep a place while preparing the value, use <see cref="ReserveAsync"/>.
    /// </remarks>
    /// <exception cref="ClosedChannelException">The channel is closed; the value was not sent.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public ValueTask SendAsync(T value, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        SendWaiter? waiter = Room.Acquire(1, cancellationToken, s_createWaiter, out BatchSemaphore.Outcome outcome);
        if (waiter is not null)
        {
            // Waiting for room (or yielding first): the value goes in as the sender resumes.
            waiter.Bind(_core, value);
            ReclaimRoom();
            return new ValueTask(waiter, waiter.Version);
        }

        switch (outcome)
        {
            case BatchSemaphore.Outcome.Acquired:
                if (_core.TryPush(value))
                {
                    return default;
                }

                Room.Release(1);
                return ValueTask.FromException(ClosedChannelException.Unsent(value));
            case BatchSemaphore.Outcome.Cancelled:
                return ValueTask.FromCanceled(cancellationToken);
            default:
                return ValueTask.FromException(ClosedChannelException.Unsent(value));
        }
    }

    /// <summary>Sends <paramref name="value"/>, waiting at most <paramref name="timeout"/> for room.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="SendAsync(T, CancellationToken)"/>: on timeout or cancellation the value was not sent.</remarks>
    /// <exception cref="ElapsedException">No room came within <paramref name="timeout"/>; the value was not sent.</exception>
    /// <exception cref="ClosedChannelException">The channel is closed; the value was not sent.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask SendAsync(T value, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ValueTask fast = TrySend(value) ? default : IsClosed ? ValueTask.FromException(ClosedChannelException.Unsent(value)) : SlowWithTimeout();
        return fast;

        ValueTask SlowWithTimeout() => KyotoTime.Timeout(timeout, ct => SendAsync(value, ct), cancellationToken);
    }

    /// <summary>Sends <paramref name="value"/> if there is room now, without waiting.</summary>
    /// <returns>False if the channel is full or closed (see <see cref="IsClosed"/>): the value was not sent.</returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public bool TrySend(T value)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (TryAcquireRoom() != BatchSemaphore.Outcome.Acquired)
        {
            return false;
        }

        if (_core.TryPush(value))
        {
            return true;
        }

        Room.Release(1);
        return false;
    }

    /// <summary>Blocks the calling thread until <paramref name="value"/> is sent: for synchronous code outside the runtime.</summary>
    /// <exception cref="ClosedChannelException">The channel is closed; the value was not sent.</exception>
    /// <exception cref="InvalidOperationException">Called on a runtime worker thread.</exception>
    public void BlockingSend(T value)
    {
        BlockingWait.ThrowIfOnWorker(nameof(BlockingSend));
        BlockingWait.Wait(SendAsync(value));
    }

    /// <summary>
    /// Waits for room for one value and reserves it: the returned permit sends without waiting, or gives the
    /// room back when disposed unused. Reserve first when producing the value is costly or must not be lost.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled reservation leaves the queue and holds nothing.</remarks>
    /// <exception cref="ClosedChannelException">The channel is closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public ValueTask<MpscPermit<T>> ReserveAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        SendWaiter? waiter = Room.Acquire(1, cancellationToken, s_createWaiter, out BatchSemaphore.Outcome outcome);
        if (waiter is not null)
        {
            waiter.Bind(_core, default!);
            ReclaimRoom();
            return new ValueTask<MpscPermit<T>>(waiter, waiter.Version);
        }

        return outcome switch
        {
            BatchSemaphore.Outcome.Acquired => Permit(_core),
            BatchSemaphore.Outcome.Cancelled => ValueTask.FromCanceled<MpscPermit<T>>(cancellationToken),
            _ => ValueTask.FromException<MpscPermit<T>>(new ClosedChannelException("The channel is closed: the receiver closed it.")),
        };
    }

    /// <summary>
    /// Takes room for one value now if there is any, counting the room the receiver holds back for its batch (a
    /// channel of capacity 1024 or more returns room every 32 values): a full channel is one whose values are
    /// all unreceived.
    /// </summary>
    private BatchSemaphore.Outcome TryAcquireRoom()
    {
        BatchSemaphore.Outcome outcome = Room.TryAcquire(1);
        return outcome == BatchSemaphore.Outcome.NoPermits && ReclaimRoom() ? Room.TryAcquire(1) : outcome;
    }

    /// <summary>Has the receiver return the room it holds back (after this sender queued, or found none).</summary>
    private bool ReclaimRoom() => _core.Waiter.Receiver?.ReclaimRoom() ?? false;

    private static ValueTask<MpscPermit<T>> Permit(MpscCore<T> core)
    {
        if (core.AddReservation())
        {
            return new ValueTask<MpscPermit<T>>(new MpscPermit<T>(core));
        }

        core.Capacity!.Release(1);
        return ValueTask.FromException<MpscPermit<T>>(new ClosedChannelException("The channel is closed: the receiver closed it."));
    }

    /// <summary>Reserves room for one value if there is room now, without waiting.</summary>
    /// <returns>False if the channel is full or closed.</returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public bool TryReserve(out MpscPermit<T> permit)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        permit = default;
        if (TryAcquireRoom() != BatchSemaphore.Outcome.Acquired)
        {
            return false;
        }

        if (!_core.AddReservation())
        {
            Room.Release(1);
            return false;
        }

        permit = new MpscPermit<T>(_core);
        return true;
    }

    /// <summary>Completes when the channel closes (the receiver closed it or was disposed).</summary>
    /// <remarks><b>Cancel safety:</b> waiting can be abandoned freely; nothing is lost.</remarks>
    public Task ClosedAsync() => _core.ClosedTask;

    /// <summary>Another sender on the same channel; the channel stays open until every sender is disposed.</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public MpscSender<T> Clone()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _core.AddSender();
        return new MpscSender<T>(_core);
    }

    /// <summary>Gives up this sender; the last one closes the channel. Later calls do nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _core.RemoveSender();
        }
    }

    /// <summary>
    /// A send (or a reservation) waiting for room. When room is granted, the awaiting sender pushes its value as
    /// it resumes (in <c>GetResult</c>), or turns the room into a permit; if it was aborted meanwhile, the room
    /// goes back.
    /// </summary>
    private sealed class SendWaiter(BatchSemaphore semaphore) : SemaphoreWaiter(semaphore), IValueTaskSource, IValueTaskSource<MpscPermit<T>>
    {
        protected override void ReturnToPool() => BatchSemaphore.ReturnWaiter(this);

        private MpscCore<T>? _core;
        private T _value = default!;

        internal void Bind(MpscCore<T> core, T value)
        {
            _core = core;
            _value = value;
        }

        void IValueTaskSource.GetResult(short token)
        {
            MpscCore<T> core = _core!;
            T value = _value;
            _value = default!;
            try
            {
                GetResult(token);
            }
            catch (ClosedChannelException)
            {
                // The receiver closed the channel while this send waited for room.
                throw ClosedChannelException.Unsent(value);
            }

            if (!core.TryPush(value))
            {
                core.Capacity!.Release(1);
                throw ClosedChannelException.Unsent(value);
            }
        }

        MpscPermit<T> IValueTaskSource<MpscPermit<T>>.GetResult(short token)
        {
            MpscCore<T> core = _core!;
            GetResult(token);
            if (!core.AddReservation())
            {
                core.Capacity!.Release(1);
                throw new ClosedChannelException("The channel is closed: the receiver closed it.");
            }

            return new MpscPermit<T>(core);
        }

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => GetStatus(token);

        ValueTaskSourceStatus IValueTaskSource<MpscPermit<T>>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);

        void IValueTaskSource<MpscPermit<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>
/// Room reserved in a bounded <see cref="Mpsc"/> channel for one value: <see cref="Send"/> uses it without
/// waiting, <see cref="Dispose"/> gives it back unused. Use it once, from the variable it was received in.
/// </summary>
public struct MpscPermit<T> : IDisposable
{
    private MpscCore<T>? _core;

    internal MpscPermit(MpscCore<T> core) => _core = core;

    /// <summary>
    /// Sends <paramref name="value"/> into the reserved room. It is delivered even if the receiver closed the
    /// channel after the reservation; it is dropped only if the receiver was disposed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The permit was already used or disposed.</exception>
    public void Send(T value)
    {
        MpscCore<T> core = _core ?? throw new InvalidOperationException("This mpsc permit was already used or disposed.");
        _core = null;
        if (!core.TryPush(value, reserved: true))
        {
            core.Capacity!.Release(1);
        }
    }

    /// <summary>Gives the reserved room back if it was not used.</summary>
    public void Dispose()
    {
        MpscCore<T>? core = _core;
        if (core is not null)
        {
            _core = null;
            core.ReleaseReservation();
            core.Capacity!.Release(1);
        }
    }
}
