// A watch sender: thread-safe writes to the shared value, and one reusable waiter for ClosedAsync.
//
// Invariants:
//  1. Each sender instance counts once in the channel's sender count; Dispose uncounts it once (the last one
//     closes the channel).
//  2. ClosedAsync is single-waiter per sender instance: the Busy bit of _state is held from its start until its
//     result is read; a second concurrent ClosedAsync on the same instance throws InvalidOperationException
//     (Clone gives another instance its own waiter). Disposing the sender fails a pending ClosedAsync.
using System.Threading.Tasks.Sources;
using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>
/// Writes the value of a <see cref="Watch"/> channel. Thread-safe: any number of threads may send through one
/// sender, and <see cref="Clone"/> makes more senders.
/// </summary>
/// <remarks>
/// Writes never wait for receivers: each replaces (or modifies) the one value and wakes every receiver waiting
/// for a change. Each sender instance counts once towards keeping the channel open: the channel closes when
/// the last one is disposed.
/// </remarks>
/// <typeparam name="T">The value type.</typeparam>
public sealed class WatchSender<T> : IDisposable
{
    private const int Busy = 1;
    private const int Disposed = 2;

    private readonly WatchCore<T> _core;
    private readonly ClosedWaiter _closedWaiter;
    private int _state;

    internal WatchSender(WatchCore<T> core)
    {
        _core = core;
        _closedWaiter = new ClosedWaiter(this);
    }

    internal bool IsDisposeRequested => (Volatile.Read(ref _state) & Disposed) != 0;

    /// <summary>How many receivers exist now (a snapshot).</summary>
    public int ReceiverCount => _core.ReceiverCount;

    /// <summary>True if no receiver exists now (a snapshot): <see cref="Send"/> would fail.</summary>
    public bool IsClosed => _core.ReceiverCount == 0;

    /// <summary>
    /// Stores <paramref name="value"/> and wakes the receivers waiting for a change, unless no receiver exists.
    /// </summary>
    /// <returns>False if no receiver exists: nothing was stored (use <see cref="SendReplace"/> to store anyway).</returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a modifier running on this channel.</exception>
    public bool TrySend(T value)
    {
        ThrowIfDisposed();
        if (_core.ReceiverCount == 0)
        {
            return false;
        }

        _core.Replace(value);
        return true;
    }

    /// <summary>Stores <paramref name="value"/> and wakes the receivers waiting for a change.</summary>
    /// <exception cref="ClosedChannelException">No receiver exists: nothing was stored. Use <see cref="TrySend"/> to test instead.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a modifier running on this channel.</exception>
    public void Send(T value)
    {
        if (!TrySend(value))
        {
            throw new ClosedChannelException("The watch channel has no receiver: the value was not stored.");
        }
    }

    /// <summary>Stores <paramref name="value"/> even if no receiver exists, and wakes the waiting receivers.</summary>
    /// <returns>The value it replaced.</returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a modifier running on this channel.</exception>
    public T SendReplace(T value)
    {
        ThrowIfDisposed();
        return _core.Replace(value);
    }

    /// <summary>
    /// Modifies the value in place with <paramref name="modify"/> (even if no receiver exists), then wakes the
    /// waiting receivers.
    /// </summary>
    /// <remarks>
    /// <paramref name="modify"/> runs under the channel's write lock: keep it short, do not block or await in it,
    /// and do not write to this channel from it. Readers arriving meanwhile wait for it. If it throws, what it
    /// changed stays but no receiver is notified, and the exception propagates.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="modify"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a modifier running on this channel.</exception>
    /// <example>
    /// <code>
    /// counters.SendModify((ref Stats s) =&gt; s.Requests++);
    /// </code>
    /// </example>
    public void SendModify(WatchModifier<T> modify)
    {
        ArgumentNullException.ThrowIfNull(modify);
        ThrowIfDisposed();
        _core.Modify(modify);
    }

    /// <summary>
    /// Modifies the value in place with <paramref name="modify"/> (even if no receiver exists); wakes the waiting
    /// receivers only if it returns true.
    /// </summary>
    /// <remarks>As <see cref="SendModify"/>: <paramref name="modify"/> runs under the write lock; if it throws, nobody is notified.</remarks>
    /// <returns>What <paramref name="modify"/> returned.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modify"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from a modifier running on this channel.</exception>
    /// <example>
    /// <code>
    /// bool raised = limits.SendIfModified((ref int max) =&gt; { if (max &gt;= 10) return false; max = 10; return true; });
    /// </code>
    /// </example>
    public bool SendIfModified(WatchConditionalModifier<T> modify)
    {
        ArgumentNullException.ThrowIfNull(modify);
        ThrowIfDisposed();
        return _core.ModifyIf(modify);
    }

    /// <summary>The current value (a consistent copy for a struct; the channel's object for a reference type).</summary>
    public T Borrow()
    {
        _core.Read(out T value, out _);
        return value;
    }

    /// <summary>Creates a receiver that has seen the current value: it waits for the next change.</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public WatchReceiver<T> Subscribe()
    {
        ThrowIfDisposed();
        return _core.Subscribe();
    }

    /// <summary>Creates another sender on the same channel; the channel stays open until both are disposed.</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public WatchSender<T> Clone()
    {
        ThrowIfDisposed();
        _core.AddSender();
        return new WatchSender<T>(_core);
    }

    /// <summary>Waits until no receiver is left (at once if none is left now).</summary>
    /// <remarks>
    /// <para>One wait at a time per sender instance (use <see cref="Clone"/> for another); waiting allocates
    /// nothing once warm. A receiver subscribed afterwards reopens the channel for <see cref="Send"/>.</para>
    /// <para><b>Cancel safety:</b> waiting can be abandoned freely; nothing is lost.</para>
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidOperationException">Another ClosedAsync on this sender is in flight.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed (before or during the wait).</exception>
    public ValueTask ClosedAsync(CancellationToken cancellationToken = default)
    {
        int state = Interlocked.CompareExchange(ref _state, Busy, 0);
        if (state != 0)
        {
            ObjectDisposedException.ThrowIf((state & Disposed) != 0, this);
            throw new InvalidOperationException("A ClosedAsync on this watch sender is in flight (use Clone for another waiter).");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            EndWait();
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (_core.ReceiverCount == 0)
        {
            EndWait();
            return default;
        }

        ClosedWaiter waiter = _closedWaiter;
        waiter.Reset();
        short version = waiter.Version;
        waiter.RegisterCancellation(cancellationToken);
        WatchOutcome outcome = _core.EnqueueClosed(waiter, this, cancellationToken);
        if (outcome == WatchOutcome.Pending)
        {
            return new ValueTask(waiter, version);
        }

        waiter.DisposeRegistration();
        EndWait();
        return outcome switch
        {
            WatchOutcome.Ready => default,
            WatchOutcome.Cancelled => ValueTask.FromCanceled(cancellationToken),
            _ => ValueTask.FromException(new ObjectDisposedException(GetType().FullName, "The watch sender was disposed while waiting.")),
        };
    }

    /// <summary>
    /// Stops this sender. When it is the last one, the channel closes: receivers keep the last value and their
    /// change waits fail with <see cref="ClosedChannelException"/>. A pending <see cref="ClosedAsync"/> on this
    /// sender fails with <see cref="ObjectDisposedException"/>. Later calls do nothing.
    /// </summary>
    public void Dispose()
    {
        int previous = Interlocked.Or(ref _state, Disposed);
        if ((previous & Disposed) != 0)
        {
            return;
        }

        if ((previous & Busy) != 0)
        {
            _core.CancelWait(_closedWaiter, new ObjectDisposedException(GetType().FullName, "The watch sender was disposed while waiting."), closedWaiter: true, _closedWaiter.Version);
        }

        _core.RemoveSender();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposeRequested, this);

    private void EndWait() => Interlocked.And(ref _state, ~Busy);

    private void FinishWait(short token)
    {
        ClosedWaiter waiter = _closedWaiter;
        if (token != waiter.Version || !waiter.IsCompleted)
        {
            throw new InvalidOperationException("This ValueTask was already awaited or is not complete: a ValueTask may be awaited only once.");
        }

        try
        {
            waiter.GetResult(token);
        }
        finally
        {
            waiter.Reset();
            EndWait();
        }
    }

    /// <summary>The sender's one ClosedAsync waiter.</summary>
    private sealed class ClosedWaiter(WatchSender<T> sender) : LinkedWaiter<bool>, IValueTaskSource
    {
        protected override void OnCancellationRequested(Exception error, short version) => sender._core.CancelWait(this, error, closedWaiter: true, version);

        void IValueTaskSource.GetResult(short token) => sender.FinishWait(token);
    }
}
