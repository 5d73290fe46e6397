// Invariants: the lock is one permit of a BatchSemaphore (its header states the queue's invariants). A guard
// releases the permit exactly once: the struct guard clears its own field, the owned guard by
// Interlocked.Exchange. A pooled waiter is bound to this mutex (Mutex field) before its await can complete.
using System.Threading.Tasks.Sources;

namespace Kyoto.Sync;

/// <summary>
/// A fair asynchronous mutual-exclusion lock that owns the value it protects (Tokio's <c>Mutex</c>): the
/// value is reachable only through the guard, so it cannot be touched without holding the lock.
/// </summary>
/// <remarks>
/// <para>Waiters get the lock in arrival order (first in, first out). The lock is not reentrant: a task that
/// locks it twice waits for itself forever. Use it when the lock must be held across an <c>await</c>; for a
/// short critical section with no await, <see cref="Lock"/> is faster.</para>
/// <para>Built on the same FIFO waiter queue as <see cref="AsyncSemaphore"/> (one permit).</para>
/// </remarks>
/// <typeparam name="T">The protected value.</typeparam>
/// <example>
/// <code>
/// var counts = new AsyncMutex&lt;Dictionary&lt;string, int&gt;&gt;(new());
/// using (var guard = await counts.LockAsync())
/// {
///     guard.Value["hits"] = guard.Value.GetValueOrDefault("hits") + 1;
///     await SaveAsync(guard.Value);
/// }
/// </code>
/// </example>
public sealed class AsyncMutex<T>
{
    private static readonly Func<BatchSemaphore, GuardWaiter> s_createWaiter = static s => new GuardWaiter(s);

    private readonly BatchSemaphore _core = new(1);
    internal T _value;

    /// <summary>Creates an unlocked mutex holding <paramref name="value"/>.</summary>
    public AsyncMutex(T value)
    {
        _value = value;
    }

    /// <summary>True while some caller holds the lock (a snapshot).</summary>
    public bool IsLocked => _core.AvailablePermits == 0;

    /// <summary>Waits for the lock.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled wait leaves the queue; if the lock had just been handed to it, it passes to the next waiter. Nothing is lost.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<MutexGuard<T>> LockAsync(CancellationToken cancellationToken = default)
    {
        GuardWaiter? waiter = Acquire(cancellationToken, out bool acquired);
        return waiter is not null ? new ValueTask<MutexGuard<T>>(waiter, waiter.Version)
            : acquired ? new ValueTask<MutexGuard<T>>(new MutexGuard<T>(this))
            : ValueTask.FromCanceled<MutexGuard<T>>(cancellationToken);
    }

    /// <summary>Waits for the lock and returns a guard object that can be stored or handed to another task.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="LockAsync"/>.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<OwnedMutexGuard<T>> LockOwnedAsync(CancellationToken cancellationToken = default)
    {
        GuardWaiter? waiter = Acquire(cancellationToken, out bool acquired);
        return waiter is not null ? new ValueTask<OwnedMutexGuard<T>>(waiter, waiter.Version)
            : acquired ? new ValueTask<OwnedMutexGuard<T>>(new OwnedMutexGuard<T>(this))
            : ValueTask.FromCanceled<OwnedMutexGuard<T>>(cancellationToken);
    }

    private GuardWaiter? Acquire(CancellationToken cancellationToken, out bool acquired)
    {
        // The mutex is never closed: the outcome is acquired, cancelled, or a waiter to await.
        GuardWaiter? waiter = _core.Acquire(1, cancellationToken, s_createWaiter, out BatchSemaphore.Outcome outcome);
        acquired = outcome == BatchSemaphore.Outcome.Acquired;
        if (waiter is not null)
        {
            waiter.Mutex = this;
        }

        return waiter;
    }

    /// <summary>Takes the lock if it is free now, without waiting.</summary>
    public bool TryLock(out MutexGuard<T> guard)
    {
        if (_core.TryAcquire(1) == BatchSemaphore.Outcome.Acquired)
        {
            guard = new MutexGuard<T>(this);
            return true;
        }

        guard = default;
        return false;
    }

    /// <summary>Blocks the calling thread until the lock is taken: for synchronous code outside the runtime.</summary>
    /// <exception cref="InvalidOperationException">Called on a runtime worker thread.</exception>
    public MutexGuard<T> BlockingLock()
    {
        BlockingWait.ThrowIfOnWorker(nameof(BlockingLock));
        return TryLock(out MutexGuard<T> guard) ? guard : BlockingWait.Wait(LockAsync());
    }

    internal void Unlock() => _core.Release(1);

    private sealed class GuardWaiter(BatchSemaphore semaphore) : SemaphoreWaiter(semaphore),
        IValueTaskSource<MutexGuard<T>>, IValueTaskSource<OwnedMutexGuard<T>>
    {
        protected override void ReturnToPool() => BatchSemaphore.ReturnWaiter(this);

        internal AsyncMutex<T>? Mutex;

        MutexGuard<T> IValueTaskSource<MutexGuard<T>>.GetResult(short token)
        {
            AsyncMutex<T> mutex = Mutex!;
            GetResult(token);
            return new MutexGuard<T>(mutex);
        }

        OwnedMutexGuard<T> IValueTaskSource<OwnedMutexGuard<T>>.GetResult(short token)
        {
            AsyncMutex<T> mutex = Mutex!;
            GetResult(token);
            return new OwnedMutexGuard<T>(mutex);
        }

        ValueTaskSourceStatus IValueTaskSource<MutexGuard<T>>.GetStatus(short token) => GetStatus(token);

        ValueTaskSourceStatus IValueTaskSource<OwnedMutexGuard<T>>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource<MutexGuard<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);

        void IValueTaskSource<OwnedMutexGuard<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>
/// Holds an <see cref="AsyncMutex{T}"/> locked; <see cref="Value"/> reaches the protected value and disposing
/// unlocks. Dispose it once, from the variable it was received in: copies share the same lock.
/// </summary>
public struct MutexGuard<T> : IDisposable
{
    private AsyncMutex<T>? _mutex;

    internal MutexGuard(AsyncMutex<T> mutex) => _mutex = mutex;

    /// <summary>The protected value.</summary>
    /// <exception cref="ObjectDisposedException">The guard was disposed (the lock is released).</exception>
    public readonly ref T Value
    {
        get
        {
            AsyncMutex<T>? mutex = _mutex;
            ObjectDisposedException.ThrowIf(mutex is null, typeof(MutexGuard<T>));
            return ref mutex._value;
        }
    }

    /// <summary>Releases the lock to the next waiter.</summary>
    public void Dispose()
    {
        AsyncMutex<T>? mutex = _mutex;
        if (mutex is not null)
        {
            _mutex = null;
            mutex.Unlock();
        }
    }
}

/// <summary>
/// Holds an <see cref="AsyncMutex{T}"/> locked, as an object that can be stored or handed to another task;
/// disposing it more than once unlocks once.
/// </summary>
public sealed class OwnedMutexGuard<T> : IDisposable
{
    private AsyncMutex<T>? _mutex;

    internal OwnedMutexGuard(AsyncMutex<T> mutex)
    {
        _mutex = mutex;
        Mutex = mutex;
    }

    /// <summary>The mutex this guard holds.</summary>
    public AsyncMutex<T> Mutex { get; }

    /// <summary>The protected value.</summary>
    /// <exception cref="ObjectDisposedException">The guard was disposed (the lock is released).</exception>
    public ref T Value
    {
        get
        {
            AsyncMutex<T>? mutex = Volatile.Read(ref _mutex);
            ObjectDisposedException.ThrowIf(mutex is null, this);
            return ref mutex._value;
        }
    }

    /// <summary>Releases the lock to the next waiter; later calls do nothing.</summary>
    public void Dispose() => Interlocked.Exchange(ref _mutex, null)?.Unlock();
}
