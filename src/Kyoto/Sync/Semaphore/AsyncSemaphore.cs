// Invariants: the waiting and hand-off rules are BatchSemaphore's (see its header). A permit releases its count
// exactly once: the struct permit clears its own fields, the owned permit by Interlocked.Exchange.
using System.Threading.Tasks.Sources;

namespace Kyoto.Sync;

/// <summary>
/// A fair (first in, first out) asynchronous counting semaphore: Tokio's <c>Semaphore</c>.
/// </summary>
/// <remarks>
/// <para>Waiters are served strictly in arrival order, and a request for several permits at the head of the
/// queue holds back smaller requests behind it (unlike <see cref="SemaphoreSlim"/>, whose waiters are not
/// ordered). Releasing a permit hands it straight to the next waiter.</para>
/// <para>Waiting allocates nothing once warm: waiters are pooled and resume on the awaiting task's runtime.</para>
/// </remarks>
/// <example>
/// <code>
/// var limit = new AsyncSemaphore(10);
/// using (await limit.AcquireAsync(cancellationToken))
/// {
///     await CallBackendAsync();
/// }
/// </code>
/// </example>
public sealed class AsyncSemaphore
{
    private static readonly Func<BatchSemaphore, PermitWaiter> s_createWaiter = static s => new PermitWaiter(s);

    private readonly BatchSemaphore _core;

    /// <summary>Creates a semaphore holding <paramref name="permits"/> permits.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permits"/> is negative or above <see cref="MaxPermits"/>.</exception>
    public AsyncSemaphore(int permits) => _core = new BatchSemaphore(permits);

    /// <summary>The most permits a semaphore can hold.</summary>
    public static int MaxPermits => BatchSemaphore.MaxPermits;

    /// <summary>Permits available right now.</summary>
    public int AvailablePermits => _core.AvailablePermits;

    /// <summary>True once <see cref="Close"/> was called.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>Waits for one permit.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled wait leaves the queue; permits it had been given pass to the next waiter. Nothing is lost.</remarks>
    /// <exception cref="SemaphoreClosedException">The semaphore is closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<SemaphorePermit> AcquireAsync(CancellationToken cancellationToken = default) => AcquireAsync(1, cancellationToken);

    /// <summary>Waits for <paramref name="permits"/> permits, taken together.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled wait leaves the queue; permits it had been given pass to the next waiter. Nothing is lost.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permits"/> is negative or above <see cref="MaxPermits"/>.</exception>
    /// <exception cref="SemaphoreClosedException">The semaphore is closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<SemaphorePermit> AcquireAsync(int permits, CancellationToken cancellationToken = default)
    {
        PermitWaiter? waiter = Acquire(permits, cancellationToken, out BatchSemaphore.Outcome outcome);
        return waiter is not null ? new ValueTask<SemaphorePermit>(waiter, waiter.Version)
            : outcome == BatchSemaphore.Outcome.Acquired ? new ValueTask<SemaphorePermit>(new SemaphorePermit(_core, permits))
            : Failed<SemaphorePermit>(outcome, cancellationToken);
    }

    /// <summary>
    /// Waits for <paramref name="permits"/> permits and returns them as an object that can be stored, passed to
    /// another task and disposed more than once safely.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="AcquireAsync(int, CancellationToken)"/>.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permits"/> is negative or above <see cref="MaxPermits"/>.</exception>
    /// <exception cref="SemaphoreClosedException">The semaphore is closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public ValueTask<OwnedSemaphorePermit> AcquireOwnedAsync(int permits = 1, CancellationToken cancellationToken = default)
    {
        PermitWaiter? waiter = Acquire(permits, cancellationToken, out BatchSemaphore.Outcome outcome);
        return waiter is not null ? new ValueTask<OwnedSemaphorePermit>(waiter, waiter.Version)
            : outcome == BatchSemaphore.Outcome.Acquired ? new ValueTask<OwnedSemaphorePermit>(new OwnedSemaphorePermit(_core, permits))
            : Failed<OwnedSemaphorePermit>(outcome, cancellationToken);
    }

    private PermitWaiter? Acquire(int permits, CancellationToken cancellationToken, out BatchSemaphore.Outcome outcome)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permits, MaxPermits);
        return _core.Acquire(permits, cancellationToken, s_createWaiter, out outcome);
    }

    private static ValueTask<T> Failed<T>(BatchSemaphore.Outcome outcome, CancellationToken cancellationToken) =>
        outcome == BatchSemaphore.Outcome.Cancelled ? ValueTask.FromCanceled<T>(cancellationToken)
            : ValueTask.FromException<T>(new SemaphoreClosedException());

    /// <summary>Takes one permit if one is available now, without waiting.</summary>
    /// <returns>False if no permit is available or the semaphore is closed.</returns>
    public bool TryAcquire(out SemaphorePermit permit) => TryAcquire(1, out permit);

    /// <summary>Takes <paramref name="permits"/> permits if they are available now, without waiting.</summary>
    /// <returns>False if too few permits are available or the semaphore is closed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permits"/> is negative or above <see cref="MaxPermits"/>.</exception>
    public bool TryAcquire(int permits, out SemaphorePermit permit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(permits, MaxPermits);
        if (_core.TryAcquire(permits) == BatchSemaphore.Outcome.Acquired)
        {
            permit = new SemaphorePermit(_core, permits);
            return true;
        }

        permit = default;
        return false;
    }

    /// <summary>Adds <paramref name="permits"/> permits; waiters are served first, in order.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permits"/> is negative.</exception>
    /// <exception cref="SemaphoreFullException">The semaphore would hold more than <see cref="MaxPermits"/>.</exception>
    public void AddPermits(int permits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permits);
        _core.Release(permits);
    }

    /// <summary>Removes up to <paramref name="permits"/> available permits for good.</summary>
    /// <returns>How many permits were removed (fewer if fewer were available).</returns>
    public int ForgetPermits(int permits) => _core.Forget(permits);

    /// <summary>
    /// Closes the semaphore: every waiter, and every later acquire, fails with <see cref="SemaphoreClosedException"/>.
    /// Permits already held stay valid and may still be released.
    /// </summary>
    public void Close() => _core.Close(static () => new SemaphoreClosedException());

    /// <summary>The pooled waiter of an <see cref="AsyncSemaphore"/>; it yields either kind of permit.</summary>
    private sealed class PermitWaiter(BatchSemaphore semaphore) : SemaphoreWaiter(semaphore),
        IValueTaskSource<SemaphorePermit>, IValueTaskSource<OwnedSemaphorePermit>
    {
        protected override void ReturnToPool() => BatchSemaphore.ReturnWaiter(this);

        SemaphorePermit IValueTaskSource<SemaphorePermit>.GetResult(short token)
        {
            BatchSemaphore semaphore = Semaphore;
            return new SemaphorePermit(semaphore, GetResult(token));
        }

        OwnedSemaphorePermit IValueTaskSource<OwnedSemaphorePermit>.GetResult(short token)
        {
            BatchSemaphore semaphore = Semaphore;
            return new OwnedSemaphorePermit(semaphore, GetResult(token));
        }

        ValueTaskSourceStatus IValueTaskSource<SemaphorePermit>.GetStatus(short token) => GetStatus(token);

        ValueTaskSourceStatus IValueTaskSource<OwnedSemaphorePermit>.GetStatus(short token) => GetStatus(token);

        void IValueTaskSource<SemaphorePermit>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);

        void IValueTaskSource<OwnedSemaphorePermit>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>
/// Permits taken from an <see cref="AsyncSemaphore"/>; disposing returns them. Dispose it once, from the
/// variable it was received in: copies of this struct share the same permits.
/// </summary>
public struct SemaphorePermit : IDisposable
{
    private BatchSemaphore? _semaphore;
    private int _count;

    internal SemaphorePermit(BatchSemaphore semaphore, int count)
    {
        _semaphore = semaphore;
        _count = count;
    }

    /// <summary>How many permits this holds.</summary>
    public readonly int Count => _count;

    /// <summary>Keeps the permits out of the semaphore for good: disposing afterwards returns nothing.</summary>
    public void Forget()
    {
        _semaphore = null;
        _count = 0;
    }

    /// <summary>Moves <paramref name="count"/> of these permits into a new permit.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative or more than <see cref="Count"/>.</exception>
    public SemaphorePermit Split(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _count);
        _count -= count;
        return new SemaphorePermit(_semaphore!, count);
    }

    /// <summary>Returns the permits to the semaphore (to its first waiter, if any).</summary>
    public void Dispose()
    {
        BatchSemaphore? semaphore = _semaphore;
        if (semaphore is not null)
        {
            _semaphore = null;
            int count = _count;
            _count = 0;
            semaphore.Release(count);
        }
    }
}

/// <summary>
/// Permits taken from an <see cref="AsyncSemaphore"/> as an object: it can be stored and handed to another
/// task, and disposing it more than once returns the permits once.
/// </summary>
public sealed class OwnedSemaphorePermit : IDisposable
{
    private BatchSemaphore? _semaphore;

    internal OwnedSemaphorePermit(BatchSemaphore semaphore, int count)
    {
        _semaphore = semaphore;
        Count = count;
    }

    /// <summary>How many permits this holds.</summary>
    public int Count { get; }

    /// <summary>Keeps the permits out of the semaphore for good: disposing afterwards returns nothing.</summary>
    public void Forget() => Interlocked.Exchange(ref _semaphore, null);

    /// <summary>Returns the permits to the semaphore; later calls do nothing.</summary>
    public void Dispose() => Interlocked.Exchange(ref _semaphore, null)?.Release(Count);
}

/// <summary>Thrown by an acquire on a closed <see cref="AsyncSemaphore"/>.</summary>
public sealed class SemaphoreClosedException : InvalidOperationException
{
    /// <summary>Creates the exception with the default message.</summary>
    public SemaphoreClosedException()
        : base("The semaphore is closed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public SemaphoreClosedException(string message)
        : base(message)
    {
    }
}
