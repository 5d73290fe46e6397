using System.Threading.Tasks.Sources;

namespace Kyoto.Sync;

/// <summary>
/// A fair, write-preferring asynchronous reader-writer lock that owns the value it protects (Tokio's
/// <c>RwLock</c>): many readers or one writer at a time.
/// </summary>
/// <remarks>
/// <para>Requests are served in arrival order: a waiting writer holds back every reader that arrives after it,
/// so writers are never starved, and readers queued behind a writer enter together once it leaves.</para>
/// <para>Built on the FIFO waiter queue of <see cref="AsyncSemaphore"/>: the lock holds
/// <see cref="MaxReaders"/> permits, a reader takes one and a writer takes them all.</para>
/// </remarks>
/// <typeparam name="T">The protected value.</typeparam>
/// <example>
/// <code>
/// var config = new AsyncRwLock&lt;Settings&gt;(Settings.Load());
/// using (var read = await config.ReadAsync()) { Use(read.Value); }
/// using (var write = await config.WriteAsync()) { write.Value = await Settings.FetchAsync(); }
/// </code>
/// </example>
public sealed class AsyncRwLock<T>
{
    private static readonly Func<BatchSemaphore, GuardWaiter> s_createWaiter = static s => new GuardWaiter(s);

    private readonly BatchSemaphore _core;
    internal T _value;

    /// <summary>Creates an unlocked reader-writer lock holding <paramref name="value"/>.</summary>
    /// <param name="value">The protected value.</param>
    /// <param name="maxReaders">How many readers may hold the lock at once (default: no practical limit).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxReaders"/> is below 1 or above <see cref="AsyncSemaphore.MaxPermits"/>.</exception>
    public AsyncRwLock(T value, int maxReaders = BatchSemaphore.MaxPermits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReaders, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxReaders, BatchSemaphore.MaxPermits);
        _core = new BatchSemaphore(maxReaders);
        _value = value;
        MaxReaders = maxReaders;
    }

    /// <summary>How many readers may hold the lock at once.</summary>
    public int MaxReaders { get; }

    /// <summary>Waits for shared (read) access.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled wait leaves the queue and hands on anything it was given. Nothing is lost.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<ReadGuard<T>> ReadAsync(CancellationToken cancellationToken = default)
    {
        GuardWaiter? waiter = Acquire(1, cancellationToken, out bool acquired);
        return waiter is not null ? new ValueTask<ReadGuard<T>>(waiter, waiter.Version)
            : acquired ? new ValueTask<ReadGuard<T>>(new ReadGuard<T>(this))
            : ValueTask.FromCanceled<ReadGuard<T>>(cancellationToken);
    }

    /// <summary>Waits for exclusive (write) access.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled wait leaves the queue and hands on the read permits it had gathered. Nothing is lost.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<WriteGuard<T>> WriteAsync(CancellationToken cancellationToken = default)
    {
        GuardWaiter? waiter = Acquire(MaxReaders, cancellationToken, out bool acquired);
        return waiter is not null ? new ValueTask<WriteGuard<T>>(waiter, waiter.Version)
            : acquired ? new ValueTask<WriteGuard<T>>(new WriteGuard<T>(this))
            : ValueTask.FromCanceled<WriteGuard<T>>(cancellationToken);
    }

    private GuardWaiter? Acquire(int permits, CancellationToken cancellationToken, out bool acquired)
    {
        // The lock is never closed: the outcome is acquired, cancelled, or a waiter to await.
        GuardWaiter? waiter = _core.Acquire(permits, cancellationToken, s_createWaiter, out BatchSemaphore.Outcome outcome);
        acquired = outcome == BatchSemaphore.Outcome.Acquired;
        if (waiter is not null)
        {
            waiter.Lock = this;
        }

        return waiter;
    }

    /// <summary>Takes shared access if no writer holds or waits for the lock, without waiting.</summary>
    public bool TryRead(out ReadGuard<T> guard)
    {
        if (_core.TryAcquire(1) == BatchSemaphore.Outcome.Acquired)
        {
            guard = new ReadGuard<T>(this);
            return true;
        }

        guard = default;
        return false;
    }

    /// <summary>Takes exclusive access if the lock is free, without waiting.</summary>
    public bool TryWrite(out WriteGuard<T> guard)
    {
        if (_core.TryAcquire(MaxReaders) == BatchSemaphore.Outcome.Acquired)
        {
            guard = new WriteGuard<T>(this);
            return true;
        }

        guard = default;
        return false;
    }

    /// <summary>Blocks the calling thread until shared access is taken: for synchronous code outside the runtime.</summary>
    /// <exception cref="InvalidOperationException">Called on a runtime worker thread.</exception>
    public ReadGuard<T> BlockingRead()
    {
        BlockingWait.ThrowIfOnWorker(nameof(BlockingRead));
        return BlockingWait.Wait(ReadAsync());
    }

    /// <summary>Blocks the calling thread until exclusive access is taken: for synchronous code outside the runtime.</summary>
    /// <exception cref="InvalidOperationException">Called on a runtime worker thread.</exception>
    public WriteGuard<T> BlockingWrite()
    {
        BlockingWait.ThrowIfOnWorker(nameof(BlockingWrite));
        return BlockingWait.Wait(WriteAsync());
    }

    internal void Release(int permits) => _core.Release(permits);

    private sealed class GuardWaiter(BatchSemaphore semaphore) : SemaphoreWaiter(semaphore),
        IValueTaskSource<ReadGuard<T>>, IValueTaskSource<WriteGuard<T>>
    {
        protected override void ReturnToPool() => BatchSemaphore.ReturnWaiter(this);

        internal AsyncRwLock<T>? Lock;

        ReadGuard<T> IValueTaskSource<ReadGuard<T>>.GetResult(short token)
        {
            AsyncRwLock<T> rw = Lock!;
            GetResult(token);
            return new ReadGuard<T>(rw);
        }

        WriteGuard<T> IValueTaskSource<WriteGuard<T>>.GetResult(short token)
        {
            AsyncRwLock<T> rw = Lock!;
            GetResult(token);
            return new WriteGuard<T>(rw);
        }

        ValueTaskSourceStatus IValueTaskSource<ReadGuard<T>>.GetStatus(short token) => GetStatus(token);

        ValueTaskSourceStatus IValueTaskSource<WriteGuard<T>>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource<ReadGuard<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);

        void IValueTaskSource<WriteGuard<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>
/// Shared (read) access to an <see cref="AsyncRwLock{T}"/>; disposing releases it. Dispose it once, from the
/// variable it was received in: copies share the same access.
/// </summary>
public struct ReadGuard<T> : IDisposable
{
    private AsyncRwLock<T>? _lock;

    internal ReadGuard(AsyncRwLock<T> rwLock) => _lock = rwLock;

    /// <summary>The protected value, read-only.</summary>
    /// <exception cref="ObjectDisposedException">The guard was disposed.</exception>
    public readonly ref readonly T Value
    {
        get
        {
            AsyncRwLock<T>? rw = _lock;
            ObjectDisposedException.ThrowIf(rw is null, typeof(ReadGuard<T>));
            return ref rw._value;
        }
    }

    /// <summary>Releases the shared access.</summary>
    public void Dispose()
    {
        AsyncRwLock<T>? rw = _lock;
        if (rw is not null)
        {
            _lock = null;
            rw.Release(1);
        }
    }
}

/// <summary>
/// Exclusive (write) access to an <see cref="AsyncRwLock{T}"/>; disposing releases it. Dispose it once, from
/// the variable it was received in: copies share the same access.
/// </summary>
public struct WriteGuard<T> : IDisposable
{
    private AsyncRwLock<T>? _lock;

    internal WriteGuard(AsyncRwLock<T> rwLock) => _lock = rwLock;

    /// <summary>The protected value.</summary>
    /// <exception cref="ObjectDisposedException">The guard was disposed or downgraded.</exception>
    public readonly ref T Value
    {
        get
        {
            AsyncRwLock<T>? rw = _lock;
            ObjectDisposedException.ThrowIf(rw is null, typeof(WriteGuard<T>));
            return ref rw._value;
        }
    }

    /// <summary>
    /// Turns exclusive access into shared access without letting another writer in between; readers waiting
    /// behind this writer may then enter. This guard is spent; dispose the returned one.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The guard was disposed or downgraded.</exception>
    public ReadGuard<T> Downgrade()
    {
        AsyncRwLock<T>? rw = _lock;
        ObjectDisposedException.ThrowIf(rw is null, typeof(WriteGuard<T>));
        _lock = null;
        rw.Release(rw.MaxReaders - 1);
        return new ReadGuard<T>(rw);
    }

    /// <summary>Releases the exclusive access.</summary>
    public void Dispose()
    {
        AsyncRwLock<T>? rw = _lock;
        if (rw is not null)
        {
            _lock = null;
            rw.Release(rw.MaxReaders);
        }
    }
}
