// Invariants (SetOnce):
// 1. `_isSet` goes false -> true once, under `_lock`, after `_value` was written; `_value` is never written
//    again. A lock-free reader that sees `_isSet` (volatile read) reads the whole value.
// 2. `_waiters` holds the callers waiting for the value; waiters are queued only while `_isSet` is false
//    (checked under the lock), and the setter takes them all (TakeAll) in the same critical section that sets
//    `_isSet`, so no waiter is left behind. Completions run after the lock is released.
// 3. A waiter leaves the queue exactly once, under the lock: released by the set, or removed by its own
//    cancellation (a cancellation that finds it no longer queued lost the race and does nothing).
// 4. A waiter's token is registered before it is queued, and queueing checks the token under the lock.
// 5. Waiters are pooled (WaiterPool, guarded by `_lock`), reset before reuse; a pooled waiter is never queued.
using System.Diagnostics.CodeAnalysis;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Sync;

/// <summary>
/// A value that is set once and that any number of tasks can wait for (Tokio's <c>SetOnce</c>).
/// </summary>
/// <remarks>
/// <para>The first <see cref="TrySet"/> wins and wakes every waiter; later sets fail. Waiting allocates
/// nothing once warm: waiters are pooled and resume on the awaiting task's runtime.</para>
/// <para>For a set-once signal without a value, use <see cref="OnceEvent"/>. For a value produced on demand
/// by whoever asks first, use <see cref="OnceCell{T}"/>.</para>
/// </remarks>
/// <typeparam name="T">The type of the value.</typeparam>
/// <example>
/// <code>
/// var config = new SetOnce&lt;Config&gt;();
/// KyotoTask.Spawn(async () =&gt; config.Set(await LoadConfigAsync()));
/// Config c = await config.WaitAsync(cancellationToken);
/// </code>
/// </example>
public sealed class SetOnce<T>
{
    private volatile bool _isSet;
    private T? _value;

    // Guarded by _lock.
    private TinyLock _lock;
    private WaiterQueue<T> _waiters;
    private WaiterPool<T> _pool;

    /// <summary>Creates an unset instance.</summary>
    public SetOnce()
    {
    }

    /// <summary>Creates an instance already set to <paramref name="value"/>.</summary>
    public SetOnce(T value)
    {
        _value = value;
        _isSet = true;
    }

    /// <summary>True once a value has been set.</summary>
    public bool IsSet => _isSet;

    /// <summary>How many callers are waiting (a snapshot).</summary>
    internal int WaiterCount => _waiters.Count; // a snapshot (a volatile read)

    /// <summary>Gets the value if it has been set.</summary>
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        if (_isSet)
        {
            value = _value!;
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>Sets the value if none was set yet, and wakes every waiter with it.</summary>
    /// <returns>True if this call set the value; false (and the value stays the caller's) if one was already set.</returns>
    public bool TrySet(T value)
    {
        if (_isSet)
        {
            return false;
        }

        _lock.Enter();
        if (_isSet)
        {
            _lock.Exit();
            return false;
        }

        _value = value;
        _isSet = true;
        LinkedWaiter<T>? chain = _waiters.TakeAll();
        _lock.Exit();

        // Completed after unlocking; read each link before completing (a completed waiter may be reused).
        WaiterChain.CompleteAll(chain, value);

        return true;
    }

    /// <summary>Sets the value and wakes every waiter.</summary>
    /// <exception cref="InvalidOperationException">A value was already set.</exception>
    public void Set(T value)
    {
        if (!TrySet(value))
        {
            throw new InvalidOperationException("The value was already set.");
        }
    }

    /// <summary>Waits until the value is set and returns it.</summary>
    /// <remarks>
    /// Completes at once if the value is already set (yielding first if the task's coop budget is spent).
    /// <para><b>Cancel safety:</b> a cancelled wait leaves the queue; the value, set or not, is unaffected, so
    /// nothing is lost.</para>
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the value was set.</exception>
    public ValueTask<T> WaitAsync(CancellationToken cancellationToken = default)
    {
        SetOnceWaiter? waiter = Wait(cancellationToken, out bool ready);
        return waiter is not null ? waiter.AsValueTask()
            : ready ? new ValueTask<T>(_value!)
            : ValueTask.FromCanceled<T>(cancellationToken);
    }

    /// <summary>As <see cref="WaitAsync"/> without the value (for <see cref="OnceEvent"/>).</summary>
    internal ValueTask WaitVoidAsync(CancellationToken cancellationToken)
    {
        SetOnceWaiter? waiter = Wait(cancellationToken, out bool ready);
        return waiter is not null ? waiter.AsValueTaskVoid()
            : ready ? ValueTask.CompletedTask
            : ValueTask.FromCanceled(cancellationToken);
    }

    /// <summary>
    /// Returns a waiter to await, or null with <paramref name="ready"/> true (the value is set: read it) or
    /// false (the token is cancelled).
    /// </summary>
    private SetOnceWaiter? Wait(CancellationToken cancellationToken, out bool ready)
    {
        if (_isSet)
        {
            if (Coop.TryConsume())
            {
                ready = true;
                return null;
            }

            // Out of budget: hand the value over only after a yield (queued at the back of the run queue).
            ready = false;
            SetOnceWaiter done = RentWaiter();
            done.SetResultAfterYield(_value!);
            return done;
        }

        ready = false;
        if (cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        SetOnceWaiter waiter = RentWaiter();
        waiter.RegisterCancellation(cancellationToken);

        _lock.Enter();
        if (!_isSet && !cancellationToken.IsCancellationRequested)
        {
            _waiters.PushBack(waiter);
            _lock.Exit();
            return waiter;
        }

        ready = _isSet;
        _lock.Exit();
        waiter.DisposeRegistration();
        ReturnWaiter(waiter);
        return null;
    }

    private void Cancel(SetOnceWaiter waiter, Exception error, short version)
    {
        _lock.Enter();
        bool removed = _waiters.Remove(waiter, version);
        _lock.Exit();
        if (removed)
        {
            waiter.TrySetException(error);
        }
    }

    private SetOnceWaiter RentWaiter() => (SetOnceWaiter?)_pool.TryRent(ref _lock) ?? new SetOnceWaiter(this);

    private void ReturnWaiter(SetOnceWaiter waiter) => _pool.Return(ref _lock, waiter);

    /// <summary>A pooled wait for the value. Nothing to give back if its task is aborted: the value stays set.</summary>
    private sealed class SetOnceWaiter(SetOnce<T> owner) : LinkedWaiter<T>
    {
        protected override void OnCancellationRequested(Exception error, short version) => owner.Cancel(this, error, version);

        protected override void OnConsumed() => owner.ReturnWaiter(this);
    }
}
