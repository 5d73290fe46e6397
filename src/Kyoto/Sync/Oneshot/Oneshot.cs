using System.Runtime.CompilerServices;
using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>
/// A channel for a single value from one sender to one receiver (Tokio's <c>oneshot</c>).
/// </summary>
/// <example>
/// <code>
/// var (tx, rx) = Oneshot.Create&lt;int&gt;();
/// KyotoTask.Spawn(async () =&gt; { await KyotoTask.Yield(); tx.TrySend(42); });
/// int answer = await rx;
/// </code>
/// </example>
public static class Oneshot
{
    /// <summary>Creates a connected sender and receiver.</summary>
    public static (OneshotSender<T> Sender, OneshotReceiver<T> Receiver) Create<T>()
    {
        var core = new OneshotCore<T>();
        return (new OneshotSender<T>(core), new OneshotReceiver<T>(core));
    }
}

/// <summary>
/// The shared state of a oneshot: itself the completion the receiver awaits (one allocation per channel).
/// </summary>
/// <remarks>
/// Invariants: the value travels by the source's single winning completion (<see cref="KyotoValueTaskSource{T}.TrySetResult"/>):
/// a send, the sender's disposal (closed) and the receiver's close or cancellation race for it and exactly
/// one wins. <c>_receiverClosed</c> is set before the receiver's completion attempt, so a sender that
/// loses the race learns it from <see cref="OneshotSender{T}.TrySend"/> returning false and keeps its value.
/// The one completion is read once: <see cref="Consumed"/> is set when the result has been read (by an await or
/// <see cref="OneshotReceiver{T}.TryRecv"/>), after which the receiver reports the channel closed instead of
/// handing the same value out again.
/// </remarks>
internal sealed class OneshotCore<T> : KyotoValueTaskSource<T>
{
    internal volatile bool ReceiverClosed;
    internal volatile bool SenderDone;
    internal volatile bool Consumed;
    private TaskCompletionSource? _closed;

    /// <summary>Completes when the receiver closes; created on first use, shared by every caller.</summary>
    internal Task Closed
    {
        get
        {
            if (Volatile.Read(ref _closed) is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (Interlocked.CompareExchange(ref _closed, created, null) is null && ReceiverClosed)
                {
                    created.TrySetResult();
                }
            }

            return _closed!.Task;
        }
    }

    internal void CloseReceiver() => CloseReceiver(new ClosedChannelException("The receiver closed the channel."));

    private void CloseReceiver(Exception error)
    {
        ReceiverClosed = true;
        TrySetException(error);
        Volatile.Read(ref _closed)?.TrySetResult();
    }

    // A oneshot is never reset, so every cancellation is for its one await.
    protected override void OnCancellationRequested(Exception error, short version) => CloseReceiver(error);

    protected override void OnConsumed() => Consumed = true;

    /// <summary>The error of a receive after the value (or the closing error) was already read.</summary>
    internal static ClosedChannelException AlreadyReceived() => new("The oneshot was already received from: its value (or its closing) is read once.");
}

/// <summary>Sends the one value of a <see cref="Oneshot"/> channel. Disposing it without sending closes the channel.</summary>
public sealed class OneshotSender<T> : IDisposable
{
    private readonly OneshotCore<T> _core;

    internal OneshotSender(OneshotCore<T> core) => _core = core;

    /// <summary>True once the receiver has closed the channel (or stopped waiting): a send would fail.</summary>
    public bool IsClosed => _core.ReceiverClosed;

    /// <summary>
    /// Sends <paramref name="value"/>. Returns false, and the value stays the caller's, if the receiver has
    /// closed the channel.
    /// </summary>
    /// <exception cref="InvalidOperationException">A value was already sent, or the sender was disposed.</exception>
    public bool TrySend(T value)
    {
        if (_core.SenderDone)
        {
            throw new InvalidOperationException("This oneshot sender has already sent its value or been disposed.");
        }

        _core.SenderDone = true;
        return !_core.ReceiverClosed && _core.TrySetResult(value);
    }

    /// <summary>Completes when the receiver closes the channel or stops waiting.</summary>
    /// <remarks><b>Cancel safety:</b> waiting can be abandoned freely; nothing is lost.</remarks>
    public Task ClosedAsync() => _core.Closed;

    /// <summary>Closes the channel if no value was sent: the receiver then throws <see cref="ClosedChannelException"/>.</summary>
    public void Dispose()
    {
        if (!_core.SenderDone)
        {
            _core.SenderDone = true;
            _core.TrySetException(new ClosedChannelException());
        }
    }
}

/// <summary>
/// Receives the one value of a <see cref="Oneshot"/> channel. Await it directly, or use <see cref="RecvAsync"/>
/// to pass a cancellation token.
/// </summary>
public sealed class OneshotReceiver<T> : IDisposable
{
    private readonly OneshotCore<T> _core;

    internal OneshotReceiver(OneshotCore<T> core) => _core = core;

    /// <summary>Waits for the value.</summary>
    /// <exception cref="ClosedChannelException">The sender was disposed without sending, or the value was already received.</exception>
#pragma warning disable CA2012 // the awaiter is the one consumer of this ValueTask
    public ValueTaskAwaiter<T> GetAwaiter() =>
        (_core.Consumed ? ValueTask.FromException<T>(OneshotCore<T>.AlreadyReceived()) : _core.AsValueTask()).GetAwaiter();
#pragma warning restore CA2012

    /// <summary>Waits for the value, or until <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> cancelling closes the channel: a value sent afterwards is refused
    /// (<see cref="OneshotSender{T}.TrySend"/> returns false and the sender keeps it); a value already sent is
    /// dropped with the channel.
    /// </remarks>
    /// <exception cref="ClosedChannelException">The sender was disposed without sending, or the value was already received.</exception>
    public ValueTask<T> RecvAsync(CancellationToken cancellationToken = default)
    {
        if (_core.Consumed)
        {
            return ValueTask.FromException<T>(OneshotCore<T>.AlreadyReceived());
        }

        if (cancellationToken.IsCancellationRequested)
        {
            _core.CloseReceiver();
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        _core.RegisterCancellation(cancellationToken);
        return _core.AsValueTask();
    }

    /// <summary>Takes the value if it has been sent, without waiting.</summary>
    /// <exception cref="ClosedChannelException">The channel is closed and holds no value (its value was already received, for one).</exception>
    public bool TryRecv(out T value)
    {
        if (_core.Consumed)
        {
            throw OneshotCore<T>.AlreadyReceived();
        }

        if (!_core.IsCompleted)
        {
            value = default!;
            return false;
        }

        value = _core.GetResult(_core.Version);
        return true;
    }

    /// <summary>Closes the channel: the sender's <see cref="OneshotSender{T}.TrySend"/> fails from now on.</summary>
    public void Close() => _core.CloseReceiver();

    /// <summary>Closes the channel.</summary>
    public void Dispose() => Close();
}
