using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>The outcome of one task of a <see cref="JoinSet{T}"/>: its value, or why it has none.</summary>
/// <typeparam name="T">The tasks' result type.</typeparam>
public readonly struct JoinResult<T>
{
    private readonly T _value;

    internal JoinResult(TaskId id, T value, JoinException? exception)
    {
        Id = id;
        _value = value;
        Exception = exception;
    }

    /// <summary>The task's id.</summary>
    public TaskId Id { get; }

    /// <summary>True when the task produced a value.</summary>
    public bool IsSuccess => Exception is null;

    /// <summary>Why the task has no value (cancelled or failed), or null.</summary>
    public JoinException? Exception { get; }

    /// <summary>The task's value.</summary>
    /// <exception cref="JoinException">The task was cancelled or failed.</exception>
    public T Value => Exception is null ? _value : throw Exception;
}

/// <summary>
/// A set of tasks of the same result type, joined in the order they finish (Tokio's <c>JoinSet</c>).
/// Disposing the set aborts every task still in it.
/// </summary>
/// <remarks>
/// <para>Invariants: every task of the set is in exactly one of <c>_running</c> (not finished) and
/// <c>_ready</c> (finished, not yet joined), or has been handed to the armed waiter (<c>_handedOver</c>, until the
/// waiting task reads it); all change only under <c>_lock</c>, except that the reader clears <c>_handedOver</c>
/// (it was set before the waiter's completion, so the clear always comes after). A finishing task is handed straight to an armed
/// waiter, so a cancelled <see cref="JoinNextAsync"/> never loses a result: it either got it or the task is still
/// in <c>_ready</c>; and a waiting task aborted after the hand-over gives the task back to <c>_ready</c>.</para>
/// <para>One <see cref="JoinNextAsync"/> may be pending at a time (the set has a single consumer).</para>
/// </remarks>
/// <example>
/// <code>
/// using var set = new JoinSet&lt;int&gt;();
/// for (int i = 0; i &lt; 10; i++) { int n = i; set.Spawn(async () =&gt; { await KyotoTask.Yield(); return n; }); }
/// while (await set.JoinNextAsync() is { } done) Console.WriteLine(done.Value);
/// </code>
/// </example>
/// <typeparam name="T">The tasks' result type.</typeparam>
public sealed class JoinSet<T> : IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<TaskCore<T>> _running = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<TaskCore<T>> _ready = new();
    private TaskCore<T>? _handedOver; // a finished task handed to the waiter and not yet read by it (guarded by _lock, cleared by its reader)
    private readonly Listener _listener;
    private readonly Waiter _waiter;
    private bool _waiterArmed;
    private bool _disposed;

    /// <summary>Creates an empty set.</summary>
    public JoinSet()
    {
        _listener = new Listener(this);
        _waiter = new Waiter(this);
    }

    /// <summary>Tasks in the set: running, or finished and not yet joined.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _running.Count + _ready.Count;
            }
        }
    }

    /// <summary>True when the set holds no task.</summary>
    public bool IsEmpty => Count == 0;

    /// <summary>Spawns <paramref name="body"/> on the current runtime into the set.</summary>
    /// <exception cref="InvalidOperationException">There is no current runtime.</exception>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public AbortHandle Spawn(Func<Task<T>> body) => SpawnOn(RuntimeHandle.Current, body);

    /// <summary>Spawns <paramref name="body"/> on <paramref name="runtime"/> into the set.</summary>
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public AbortHandle SpawnOn(RuntimeHandle runtime, Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        return Start(TaskCore<T>.FromTaskOfT(runtime.Scheduler, body, flow: true), runtime.Scheduler.Spawn);
    }

    /// <summary>Runs blocking <paramref name="body"/> on the current runtime's blocking pool, in the set.</summary>
    public AbortHandle SpawnBlocking(Func<T> body)
    {
        RuntimeHandle runtime = RuntimeHandle.Current;
        return Start(TaskCore<T>.FromFunc(runtime.Scheduler, body), runtime.Scheduler.SpawnBlocking);
    }

    /// <summary>Adds the task to the set, then starts it; takes it back out if starting throws.</summary>
    private AbortHandle Start(TaskCore<T> core, Action<TaskCore> start)
    {
        Add(core);
        try
        {
            start(core);
        }
        catch
        {
            lock (_lock)
            {
                _running.Remove(core);
            }

            throw;
        }

        return new AbortHandle(core);
    }

    private void Add(TaskCore<T> core)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _running.Add(core);
        }

        core.SetListener(_listener);
    }

    /// <summary>
    /// Waits for the next task to finish and returns its outcome, or null when the set is empty.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> cancelling the wait loses no result; the finished task stays in the set.</remarks>
    /// <exception cref="InvalidOperationException">Another <see cref="JoinNextAsync"/> is pending.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<JoinResult<T>?> JoinNextAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            if (_ready.TryDequeue(out TaskCore<T>? done))
            {
                return new ValueTask<JoinResult<T>?>(ToResult(done));
            }

            if (_running.Count == 0)
            {
                return new ValueTask<JoinResult<T>?>((JoinResult<T>?)null);
            }

            if (_waiterArmed)
            {
                throw new InvalidOperationException("A JoinSet has a single consumer: another JoinNextAsync is already pending.");
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<JoinResult<T>?>(cancellationToken);
            }

            _waiter.Reset();
            _waiterArmed = true;
        }

        _waiter.RegisterCancellation(cancellationToken);
        return _waiter.AsValueTask();
    }

    /// <summary>Returns the outcome of a task that has already finished, without waiting.</summary>
    public bool TryJoinNext(out JoinResult<T> result)
    {
        lock (_lock)
        {
            if (_ready.TryDequeue(out TaskCore<T>? done))
            {
                result = ToResult(done);
                return true;
            }
        }

        result = default;
        return false;
    }

    /// <summary>
    /// Waits for every task and returns their values in the order they finished. On the first task that did
    /// not succeed, aborts the others and throws its <see cref="JoinException"/>.
    /// </summary>
    public async Task<List<T>> JoinAllAsync(CancellationToken cancellationToken = default)
    {
        var values = new List<T>();
        while (await JoinNextAsync(cancellationToken).ConfigureAwait(true) is { } next)
        {
            if (!next.IsSuccess)
            {
                await ShutdownAsync().ConfigureAwait(true);
                throw next.Exception!;
            }

            values.Add(next.Value);
        }

        return values;
    }

    /// <summary>Aborts every task in the set; they stay in the set until joined.</summary>
    public void AbortAll()
    {
        List<TaskCore<T>> running;
        lock (_lock)
        {
            running = [.. _running];
        }

        foreach (TaskCore<T> task in running)
        {
            task.Abort();
        }
    }

    /// <summary>Aborts every task and waits until all have finished, discarding their outcomes.</summary>
    public async Task ShutdownAsync()
    {
        AbortAll();
        while (await JoinNextAsync().ConfigureAwait(true) is not null)
        {
        }
    }

    /// <summary>Aborts every task still in the set (without waiting) and refuses new ones.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        AbortAll();
    }

    private static JoinResult<T> ToResult(TaskCore<T> task)
    {
        try
        {
            return new JoinResult<T>(new TaskId(task.Id), task.GetJoinResult(), null);
        }
        catch (JoinException e)
        {
            return new JoinResult<T>(new TaskId(task.Id), default!, e);
        }
    }

    private void OnTaskCompleted(TaskCore<T> task)
    {
        lock (_lock)
        {
            _running.Remove(task);
            if (_waiterArmed)
            {
                _waiterArmed = false;
                _handedOver = task; // before the completion: until the waiter reads it (or its abort gives it back: TakeBack)
                if (_waiter.TrySetResult(ToResult(task)))
                {
                    return;
                }

                _handedOver = null;
            }

            _ready.Enqueue(task);
        }
    }

    private void CancelWaiter(Exception error, short version)
    {
        lock (_lock)
        {
            if (!_waiterArmed || !_waiter.IsCurrentVersion(version))
            {
                return; // a finished task was handed over first
            }

            _waiterArmed = false;
            _waiter.TrySetException(error);
        }
    }

    private sealed class Listener(JoinSet<T> set) : IJoinListener
    {
        public void OnTaskCompleted(TaskCore task) => set.OnTaskCompleted((TaskCore<T>)task);
    }

    /// <summary>
    /// The waiting task was aborted after a finished task was handed to it, so the result never reached it: the
    /// task goes back among the ready ones, for the next <see cref="JoinNextAsync"/> (no result is lost).
    /// </summary>
    private void TakeBack()
    {
        lock (_lock)
        {
            if (_handedOver is { } task)
            {
                _handedOver = null;
                _ready.Enqueue(task);
            }
        }
    }

    private sealed class Waiter(JoinSet<T> set) : KyotoValueTaskSource<JoinResult<T>?>
    {
        protected override void OnCancellationRequested(Exception error, short version) => set.CancelWaiter(error, version);

        protected override void OnResultDropped(JoinResult<T>? result) => set.TakeBack();

        // Read by its task (after OnResultDropped when that task was aborted): the hand-over is over. The next one
        // is made under the lock only after the waiter is armed again, which follows this.
        protected override void OnConsumed() => Volatile.Write(ref set._handedOver, null);
    }
}
