using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// The reusable completion behind Kyoto's awaitables: a <see cref="IValueTaskSource{TResult}"/> whose
/// continuation is queued straight onto the runtime of the awaiting code (never the .NET thread pool,
/// never <see cref="SynchronizationContext.Post"/>), tagged with the awaiting task so that abort and the
/// coop budget follow it.
/// </summary>
/// <remarks>
/// <para>Invariants:</para>
/// <list type="number">
/// <item>One await per <see cref="Version"/>: <see cref="Reset"/> bumps the version; a stale token throws.</item>
/// <item>Exactly one completion wins (<c>_completed</c> 0 → 1 by CAS); it writes the result, then publishes
/// it (<c>_completed</c> = 2, release) before <c>_continuation</c> swaps to the sentinel (full fence). Readers
/// (<see cref="IsCompleted"/>, <see cref="GetResult"/>) trust only state 2, so a value is never read half
/// written. The continuation is queued by whichever of completion and registration comes second.</item>
/// <item>Once queued, the source touches none of its fields after invoking the continuation: the continuation
/// may call <see cref="GetResult"/>, which may return the source to a pool.</item>
/// <item>Abort of the owning task (<see cref="IAbortable.AbortWaiter"/>) and cancellation of the token go through
/// <see cref="OnCancellationRequested"/>, which a primitive overrides to take its waiter out of its queue under
/// its own lock before completing, so a cancelled wait leaves no waiter behind and a concurrent hand-off
/// either wins (the waiter gets the value) or sees the waiter gone.</item>
/// <item>The running task's own token is not registered (<see cref="RegisterCancellation"/>): its only canceller
/// is the task's abort, which cancels it and then wakes the wait the task is parked on
/// (<see cref="IAbortable.AbortWaiter"/>; <c>SetParkedOn</c> catches an abort that came before the await). If
/// another task awaits, <see cref="OnCompleted"/> registers the token after all. Saves a registration and an
/// unregistration (a lock each) per wait when code passes <c>KyotoTask.CancellationToken</c>.</item>
/// <item>A token callback from an earlier await is ignored: it carries its token, which must equal the
/// token registered for the current await (a cancelled token is refused before arming, so reuse is safe),
/// and the version it read first, which the primitive compares under its lock before it removes a waiter.</item>
/// </list>
/// </remarks>
/// <typeparam name="T">The result type.</typeparam>
internal class KyotoValueTaskSource<T> : IValueTaskSource<T>, IValueTaskSource, IWorkItem, IAbortable
{
    private static readonly Action<object?> s_completedSentinel = static _ => Debug.Fail("sentinel invoked");

    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _executionContext;
    private TaskCore? _owner;
    private Scheduler? _scheduler;
    private int _completed;
    private bool _yieldFirst;
    private T? _result;
    // Completions are always fresh, never-thrown exceptions (cancellation, abort, closed channel), so a plain
    // `throw` at GetResult gives them their stack; no ExceptionDispatchInfo capture is needed.
    private Exception? _error;
    private short _version;
    private CancellationTokenRegistration _registration;
    private CancellationToken _registeredToken;

    // Set when the token is the registering task's own (invariant 5): not registered, unless another task awaits.
    private TaskCore? _tokenTask;

    /// <summary>The token of the current await.</summary>
    internal short Version => _version;

    private const int Pending = 0;
    private const int Completing = 1;
    private const int Completed = 2;

    /// <summary>True once a completion has been published (its result is readable).</summary>
    internal bool IsCompleted => Volatile.Read(ref _completed) == Completed;

    /// <summary>A <see cref="ValueTask{TResult}"/> over the current version.</summary>
    internal ValueTask<T> AsValueTask() => new(this, _version);

    /// <summary>A <see cref="ValueTask"/> over the current version.</summary>
    internal ValueTask AsValueTaskVoid() => new(this, _version);

    /// <summary>Prepares the source for another await.</summary>
    internal void Reset()
    {
        _version++;
        _completed = 0;
        _yieldFirst = false;
        _continuation = null;
        _continuationState = null;
        _executionContext = null;
        _owner = null;
        _scheduler = null;
        _result = default;
        _error = null;
        _registration = default;
        _registeredToken = default;
        _tokenTask = null;
    }

    /// <summary>
    /// Makes <paramref name="token"/> complete this await with <see cref="OperationCanceledException"/>. The
    /// running task's own token (<c>KyotoTask.CancellationToken</c>) is not registered: only the task's abort
    /// cancels it, and the abort wakes the wait itself (invariant 5).
    /// </summary>
    internal void RegisterCancellation(CancellationToken token)
    {
        if (!token.CanBeCanceled)
        {
            return;
        }

        _registeredToken = token;
        if (RuntimeContext.CurrentOrNull?.CurrentTask is { } task && task.IsOwnToken(token))
        {
            _tokenTask = task;
            return;
        }

        Register(token);
    }

    private void Register(CancellationToken token) =>
        _registration = token.UnsafeRegister(static (s, t) => ((KyotoValueTaskSource<T>)s!).CancelFromToken(t), this);

    /// <summary>Drops the token registration of an await that will not be waited on after all.</summary>
    internal void DisposeRegistration()
    {
        _registration.Dispose();
        _registration = default;
        _registeredToken = default;
        _tokenTask = null;
    }

    private void CancelFromToken(CancellationToken token)
    {
        // The version is read before the token is compared: a callback of an earlier await that passes the
        // comparison just before the source is reset carries the old version, which the primitive refuses.
        short version = Volatile.Read(ref _version);
        if (token == _registeredToken && !IsCompleted)
        {
            OnCancellationRequested(new OperationCanceledException(token), version);
        }
    }

    /// <summary>True if <paramref name="version"/> is the current await (the source was not reset since).</summary>
    internal bool IsCurrentVersion(short version) => Volatile.Read(ref _version) == version;

    /// <summary>Completes with a result; false if already completed.</summary>
    internal bool TrySetResult(T result)
    {
        if (!TryClaim())
        {
            return false;
        }

        _result = result;
        Publish();
        return true;
    }

    /// <summary>Completes with a fresh (never thrown) exception; false if already completed.</summary>
    internal bool TrySetException(Exception error)
    {
        if (!TryClaim())
        {
            return false;
        }

        _error = error;
        Publish();
        return true;
    }

    /// <summary>
    /// Completes with a result that the awaiting task may take only after a yield: its await does not complete
    /// synchronously but queues the continuation at the back of the run queue. This is how a primitive whose
    /// operation is ready spends no more of an exhausted coop budget (Tokio returns pending and wakes the task).
    /// Call it on a source that nobody can see yet.
    /// </summary>
    internal void SetResultAfterYield(T result)
    {
        _yieldFirst = true;
        TrySetResult(result);
    }

    /// <summary>
    /// Completes with a result (or, if <paramref name="error"/> is set, with that fresh exception) and, when the
    /// await is already registered for this thread's runtime, runs its continuation right here instead of queueing
    /// it: for a work item that did the awaited work itself (a socket call retried on a worker), so the task is
    /// one queue hop from the event, as a Tokio task poll is. Call it only at the top of a work item's
    /// <see cref="IWorkItem.Execute"/>: the continuation runs on this stack. False if already completed.
    /// </summary>
    internal bool TryCompleteInline(T result, Exception? error, RuntimeContext ctx)
    {
        if (!TryClaim())
        {
            return false;
        }

        if (error is null)
        {
            _result = result;
        }
        else
        {
            _error = error;
        }

        Publish(inline: ctx);
        return true;
    }

    private bool TryClaim() => Interlocked.CompareExchange(ref _completed, Completing, Pending) == Pending;

    /// <summary>
    /// Publishes the completion and hands the continuation on if the await already registered (else the await
    /// queues it when it registers). With <paramref name="inline"/>, a continuation for that worker's runtime runs
    /// right here (<see cref="TryCompleteInline"/>); otherwise it is queued.
    /// </summary>
    private void Publish(RuntimeContext? inline = null)
    {
        Volatile.Write(ref _completed, Completed);
        _registration.Unregister();
        Action<object?>? previous = Interlocked.CompareExchange(ref _continuation, s_completedSentinel, null);
        if (previous is null)
        {
            return;
        }

        if (inline is not null && !_yieldFirst && _scheduler is { } scheduler && ReferenceEquals(inline.Worker?.Scheduler, scheduler))
        {
            Execute(inline);
        }
        else
        {
            Dispatch();
        }
    }

    private void Dispatch()
    {
        Scheduler? scheduler = _scheduler;
        if (scheduler is not null)
        {
            scheduler.Schedule(this, isYield: _yieldFirst);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => ((KyotoValueTaskSource<T>)s!).Execute(RuntimeContext.Current), this, preferLocal: false);
        }
    }

    /// <summary>
    /// The await of <paramref name="version"/> is cancelled (token or abort). The default completes with
    /// <paramref name="error"/> if that await is still current; a primitive overrides it to remove its waiter
    /// under its lock first, checking there that the waiter is still queued for that same
    /// <paramref name="version"/> (a pooled waiter may have been reused since the cancellation began), and
    /// completes only then.
    /// </summary>
    protected virtual void OnCancellationRequested(Exception error, short version)
    {
        if (IsCurrentVersion(version))
        {
            TrySetException(error);
        }
    }

    /// <summary>
    /// The awaiting task was aborted after this await succeeded, so <paramref name="result"/> will never reach
    /// it: a primitive gives back what it handed over (permits, a reserved slot). Runs before
    /// <see cref="OnConsumed"/>.
    /// </summary>
    protected virtual void OnResultDropped(T result)
    {
    }

    /// <summary>Called after the result was read; a pooled source returns itself here.</summary>
    protected virtual void OnConsumed()
    {
    }

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token)
    {
        ValidateToken(token);
        Action<object?>? continuation = Volatile.Read(ref _continuation);
        if (continuation is null || !IsCompleted || (_yieldFirst && ReferenceEquals(continuation, s_completedSentinel)))
        {
            // A yield-first result reads as pending until the await registers (and is queued at the back).
            return ValueTaskSourceStatus.Pending;
        }

        return _error is null ? ValueTaskSourceStatus.Succeeded
            : _error is OperationCanceledException ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        ValidateToken(token);
        Action<object?>? existing = Volatile.Read(ref _continuation);
        if (existing is not null && !ReferenceEquals(existing, s_completedSentinel))
        {
            // Misuse (a second concurrent await): refuse before touching the first waiter's state.
            throw new InvalidOperationException("This Kyoto awaitable is already being awaited; a ValueTask may be awaited only once.");
        }

        _scheduler = RuntimeContext.ContinuationScheduler(out _owner);
        if (_tokenTask is { } tokenTask && !ReferenceEquals(tokenTask, _owner))
        {
            // Awaited by another task than the one whose token it carries: that task's abort would not reach
            // this wait, so the token is registered after all (a token already cancelled completes it here).
            _tokenTask = null;
            Register(_registeredToken);
        }

        if (_scheduler is null && (flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0)
        {
            RuntimeContext.WrapForForeignContext(ref continuation, ref state);
        }
        if ((flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0)
        {
            _executionContext = ExecutionContext.Capture();
        }

        _continuationState = state;
        Action<object?>? previous = Interlocked.CompareExchange(ref _continuation, continuation, null);
        if (previous is null)
        {
            _owner?.SetParkedOn(this);
            return;
        }

        if (!ReferenceEquals(previous, s_completedSentinel))
        {
            throw new InvalidOperationException("This Kyoto awaitable is already being awaited; a ValueTask may be awaited only once.");
        }

        // Completed before registration: queue the continuation now.
        _continuation = continuation;
        Dispatch();
    }

    /// <inheritdoc />
    public T GetResult(short token)
    {
        ValidateToken(token);
        if (!IsCompleted)
        {
            throw new InvalidOperationException("The operation has not completed; await the ValueTask instead of reading its result.");
        }

        Exception? error = _error;
        T result = _result!;
        if (error is null && Coop.AbortedTaskId() is { } aborted)
        {
            // Abort is sticky: an aborted task's Kyoto awaits throw even when their value was ready, as Tokio
            // drops a future at its next await. What the await was handed (a permit, a message) goes back.
            OnResultDropped(result);
            OnConsumed();
            throw new TaskAbortedException(aborted);
        }

        OnConsumed();
        if (error is not null)
        {
            throw error;
        }

        return result;
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    private void ValidateToken(short token)
    {
        if (token != _version)
        {
            throw new InvalidOperationException("This ValueTask was already awaited: its source has moved on. A ValueTask may be awaited only once.");
        }
    }

    /// <inheritdoc />
    public void Execute(RuntimeContext ctx)
    {
        Action<object?> continuation = _continuation!;
        object? state = _continuationState;
        ExecutionContext? ec = _executionContext;
        Scheduler? scheduler = _scheduler;
        if (scheduler is not null)
        {
            ctx.EnterTask(_owner, scheduler);
        }

        ActionCallbacks.Run(continuation, state, ec);
    }

    /// <inheritdoc />
    public void Discard()
    {
    }

    /// <inheritdoc />
    void IAbortable.AbortWaiter(TaskCore owner)
    {
        short version = Volatile.Read(ref _version);
        if (ReferenceEquals(_owner, owner) && !IsCompleted)
        {
            OnCancellationRequested(new TaskAbortedException(new TaskId(owner.Id)), version);
        }
    }
}
