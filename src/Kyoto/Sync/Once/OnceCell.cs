// Invariants (OnceCell):
// 1. `_state` moves Empty -> Initializing -> (Empty | Set) and Empty -> Set; Set is final. It changes only
//    under `_lock`; it is read without the lock only to test for Set (the fast path).
// 2. `_value` is written once, under the lock, before `_state` becomes Set (a volatile write), and never
//    again: whoever reads Set (volatile read) reads the whole value.
// 3. While `_state` is Initializing exactly one caller holds the "initializer permit" and runs its
//    initializer; `_waiters` holds the other callers, FIFO. Waiters exist only while Initializing.
// 4. The permit moves only under the lock: an initializer that fails (or is cancelled) hands it to the head
//    waiter (completed with `false`), or returns the cell to Empty if nobody waits; a successful one sets the
//    value and releases every waiter (completed with `true`). Completions run after the lock is released.
// 5. A waiter leaves the queue exactly once, under the lock: handed the permit, released by the value, or
//    removed by its own cancellation. A cancellation that finds it no longer queued lost the race and does
//    nothing; if the waiter had been handed the permit and its task is then aborted before it could use it,
//    the permit is handed on again (OnResultDropped), so the permit is never lost.
// 6. A waiter's token is registered before it is queued, and queueing checks the token under the lock.
using System.Diagnostics.CodeAnalysis;
using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>
/// A cell written at most once, typically by an asynchronous initializer that runs once however many callers
/// ask for the value concurrently (Tokio's <c>OnceCell</c>).
/// </summary>
/// <remarks>
/// <para><see cref="GetOrInitAsync(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/> runs the
/// caller's initializer only if the cell is empty and nobody else is initializing it; concurrent callers wait
/// (first in, first out). If the initializer throws, or is cancelled, its caller gets the exception and the next
/// waiter runs its own initializer. Once a value is set, every waiter gets it, and later calls return it at
/// once without allocating.</para>
/// <para>Unlike <see cref="Lazy{T}"/>, a failed initialization is not cached, and waiters can be cancelled.</para>
/// </remarks>
/// <typeparam name="T">The type of the value.</typeparam>
/// <example>
/// <code>
/// private readonly OnceCell&lt;DbConnection&gt; _connection = new();
///
/// public ValueTask&lt;DbConnection&gt; ConnectionAsync(CancellationToken ct) =&gt;
///     _connection.GetOrInitAsync(static async ct =&gt; await OpenConnectionAsync(ct), ct);
/// </code>
/// </example>
public sealed class OnceCell<T>
{
    private const int StateEmpty = 0;
    private const int StateInitializing = 1;
    private const int StateSet = 2;

    private static readonly Func<Func<CancellationToken, ValueTask<T>>, CancellationToken, ValueTask<T>> s_invoke =
        static (init, ct) => init(ct);

    private volatile int _state;
    private T? _value;

    // Guarded by _lock.
    private TinyLock _lock;
    private WaiterQueue<bool> _waiters;

    /// <summary>Creates an empty cell.</summary>
    public OnceCell()
    {
    }

    /// <summary>Creates a cell that already holds <paramref name="value"/>.</summary>
    public OnceCell(T value)
    {
        _value = value;
        _state = StateSet;
    }

    /// <summary>True once the cell holds a value.</summary>
    public bool IsInitialized => _state == StateSet;

    /// <summary>The value.</summary>
    /// <exception cref="InvalidOperationException">The cell holds no value yet.</exception>
    public T Value => _state == StateSet ? _value! : throw new InvalidOperationException("The OnceCell holds no value yet.");

    /// <summary>How many callers are waiting for a running initializer (a snapshot).</summary>
    internal int WaiterCount => _waiters.Count; // a snapshot (a volatile read)

    /// <summary>True while some caller's initializer holds the cell (a snapshot).</summary>
    internal bool IsInitializing => _state == StateInitializing;

    /// <summary>Gets the value if the cell holds one.</summary>
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        if (_state == StateSet)
        {
            value = _value!;
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>
    /// Stores <paramref name="value"/> if the cell is empty and no initializer is running. Every waiter then
    /// gets it.
    /// </summary>
    /// <returns>
    /// False, and the value stays the caller's, if the cell already holds a value or an initializer is running
    /// (as Tokio's <c>set</c>, which fails with <c>InitializingError</c>: the running initializer's value is not
    /// thrown away).
    /// </returns>
    public bool TrySet(T value)
    {
        if (_state != StateEmpty)
        {
            return false;
        }

        _lock.Enter();
        if (_state != StateEmpty)
        {
            _lock.Exit();
            return false;
        }

        // Empty means no initializer and hence no waiter: nobody to wake.
        _value = value;
        _state = StateSet;
        _lock.Exit();
        return true;
    }

    /// <summary>Stores <paramref name="value"/>; see <see cref="TrySet"/>.</summary>
    /// <exception cref="InvalidOperationException">The cell already holds a value, or an initializer is running.</exception>
    public void Set(T value)
    {
        if (!TrySet(value))
        {
            throw new InvalidOperationException(_state == StateSet
                ? "The OnceCell already holds a value."
                : "The OnceCell is being initialized.");
        }
    }

    /// <summary>
    /// Returns the value, running <paramref name="init"/> to produce it if the cell is empty and no other caller
    /// is initializing it; otherwise waits for the running initializer.
    /// </summary>
    /// <param name="init">
    /// Produces the value; it receives <paramref name="cancellationToken"/>. It runs at most once at a time per
    /// cell. It must not wait for this cell (it would wait for itself).
    /// </param>
    /// <param name="cancellationToken">Cancels this caller's wait, and is passed to its initializer.</param>
    /// <remarks>
    /// When the cell holds a value this completes synchronously and allocates nothing.
    /// <para><b>Cancel safety:</b> a cancelled waiter leaves the queue and nothing else changes. A cancelled
    /// initializer (its token, or its task aborted) leaves the cell empty and hands the turn to the next waiter,
    /// which runs its own initializer. Nothing is lost except the cancelled initializer's own work.</para>
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the cell held a value.</exception>
    /// <exception cref="Exception">Whatever this caller's own <paramref name="init"/> threw.</exception>
    public ValueTask<T> GetOrInitAsync(Func<CancellationToken, ValueTask<T>> init, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(init);
        return _state == StateSet ? new ValueTask<T>(_value!) : GetOrInitSlowAsync(init, s_invoke, cancellationToken);
    }

    /// <summary>
    /// As <see cref="GetOrInitAsync(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>, passing
    /// <paramref name="state"/> to <paramref name="init"/> so it can be a static lambda (no closure).
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="GetOrInitAsync(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the cell held a value.</exception>
    public ValueTask<T> GetOrInitAsync<TState>(TState state, Func<TState, CancellationToken, ValueTask<T>> init, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(init);
        return _state == StateSet ? new ValueTask<T>(_value!) : GetOrInitSlowAsync(state, init, cancellationToken);
    }

    private async ValueTask<T> GetOrInitSlowAsync<TState>(TState state, Func<TState, CancellationToken, ValueTask<T>> init, CancellationToken cancellationToken)
    {
        if (_state != StateSet)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        OnceWaiter? waiter = null;
        while (true)
        {
            _lock.Enter();
            int s = _state;
            if (s == StateSet)
            {
                _lock.Exit();
                waiter?.DisposeRegistration();
                return _value!;
            }

            if (s == StateEmpty)
            {
                // Take the initializer permit.
                _state = StateInitializing;
                _lock.Exit();
                waiter?.DisposeRegistration();
                break;
            }

            if (waiter is null)
            {
                // Someone is initializing: prepare a waiter (token registered before it can be queued) and retry.
                _lock.Exit();
                waiter = new OnceWaiter(this);
                waiter.RegisterCancellation(cancellationToken);
                continue;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                _lock.Exit();
                waiter.DisposeRegistration();
                throw new OperationCanceledException(cancellationToken);
            }

            _waiters.PushBack(waiter);
            _lock.Exit();

            // True: the value is set. False: the previous initializer failed and the permit is now ours.
            bool isSet = await waiter.AsValueTask().ConfigureAwait(true);
            if (isSet)
            {
                return _value!;
            }

            break;
        }

        T value;
        try
        {
            value = await init(state, cancellationToken).ConfigureAwait(true);
        }
        catch
        {
            ReleasePermit();
            throw;
        }

        Publish(value);
        return value;
    }

    /// <summary>The permit holder succeeded: store the value and release every waiter.</summary>
    private void Publish(T value)
    {
        _lock.Enter();
        System.Diagnostics.Debug.Assert(_state == StateInitializing, "only the permit holder publishes, and TrySet refuses while initializing");
        _value = value;
        _state = StateSet;
        LinkedWaiter<bool>? chain = _waiters.TakeAll();
        _lock.Exit();

        WaiterChain.CompleteAll(chain, true);
    }

    /// <summary>The permit holder failed or gave up: hand the permit to the next waiter, or empty the cell.</summary>
    private void ReleasePermit()
    {
        _lock.Enter();
        System.Diagnostics.Debug.Assert(_state == StateInitializing, "the permit is released only by its holder");
        LinkedWaiter<bool>? next = _waiters.PopFront();
        if (next is null)
        {
            _state = StateEmpty;
        }

        _lock.Exit();

        // Popped under the lock, so its cancellation can no longer complete it: this completion always wins.
        next?.TrySetResult(false);
    }

    private void Cancel(OnceWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        bool removed = _waiters.Remove(waiter, version);
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    /// <summary>A caller waiting while another caller's initializer runs.</summary>
    private sealed class OnceWaiter(OnceCell<T> cell) : LinkedWaiter<bool>
    {
        protected override void OnCancellationRequested(Exception error, short version) => cell.Cancel(this, error, version);

        protected override void OnResultDropped(bool isSet)
        {
            if (!isSet)
            {
                // Handed the permit, but the task was aborted before it could run its initializer: pass it on.
                cell.ReleasePermit();
            }
        }
    }
}
