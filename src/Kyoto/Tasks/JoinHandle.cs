using System.ComponentModel;
using System.Runtime.CompilerServices;
using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>
/// A handle to a spawned task that returns nothing: await it to wait for the task, <see cref="Abort"/> it to
/// cancel it. Dropping the handle does not cancel the task (it runs detached).
/// </summary>
/// <remarks>
/// Awaiting a handle throws <see cref="JoinException"/> if the task was cancelled or failed. A handle can be
/// awaited by one waiter at a time; once the task has finished it can be awaited again and again.
/// <para><b>Cancel safety:</b> abandoning the await (for example because the awaiting task is aborted) loses
/// nothing: the task keeps running and the handle can be awaited again.</para>
/// </remarks>
/// <example>
/// <code>
/// JoinHandle handle = KyotoTask.Spawn(async () => await DoWorkAsync());
/// handle.Abort();
/// try { await handle; } catch (JoinException e) when (e.IsCancelled) { }
/// </code>
/// </example>
public readonly struct JoinHandle : IEquatable<JoinHandle>
{
    private readonly TaskCore<VoidResult>? _core;

    internal JoinHandle(TaskCore<VoidResult> core) => _core = core;

    private TaskCore<VoidResult> Core => _core ?? throw new InvalidOperationException("This JoinHandle is default: it refers to no task.");

    /// <summary>The task's id.</summary>
    public TaskId Id => new(Core.Id);

    /// <summary>True once the task has completed (successfully or not).</summary>
    public bool IsFinished => Core.IsCompleted;

    /// <summary>
    /// Requests that the task stop: its cancellation token is cancelled and the Kyoto await it is parked on
    /// throws <see cref="TaskAbortedException"/>. No effect on a finished task. A task aborted before it first
    /// ran never runs at all (none of its code, so none of its <c>finally</c> blocks).
    /// </summary>
    public void Abort() => Core.Abort();

    /// <summary>A handle that can abort the task but not await it; it can be copied and shared.</summary>
    public AbortHandle AbortHandle => new(Core);

    /// <summary>Gets the awaiter.</summary>
    public JoinAwaiter GetAwaiter() => new(Core);

    /// <summary>Waits for the task as a <see cref="Task"/> (allocates; for interop with BCL combinators).</summary>
    public async Task AsTask() => await this;

    /// <inheritdoc />
    public bool Equals(JoinHandle other) => ReferenceEquals(_core, other._core);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is JoinHandle other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _core?.GetHashCode() ?? 0;

    /// <summary>Compares two handles by task.</summary>
    public static bool operator ==(JoinHandle left, JoinHandle right) => left.Equals(right);

    /// <summary>Compares two handles by task.</summary>
    public static bool operator !=(JoinHandle left, JoinHandle right) => !left.Equals(right);

    /// <summary>The awaiter of <see cref="JoinHandle"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct JoinAwaiter : ICriticalNotifyCompletion
    {
        private readonly TaskCore<VoidResult> _core;

        internal JoinAwaiter(TaskCore<VoidResult> core) => _core = core;

        /// <summary>True when the task has finished and the awaiting task has coop budget left.</summary>
        public bool IsCompleted => _core.IsCompleted && Coop.TryConsume();

        /// <inheritdoc />
        public void OnCompleted(Action continuation)
            => _core.RegisterJoiner(ActionCallbacks.InvokeAction, continuation ?? throw new ArgumentNullException(nameof(continuation)), flowExecutionContext: true, yieldIfCompleted: true);

        /// <inheritdoc />
        public void UnsafeOnCompleted(Action continuation)
            => _core.RegisterJoiner(ActionCallbacks.InvokeAction, continuation ?? throw new ArgumentNullException(nameof(continuation)), flowExecutionContext: false, yieldIfCompleted: true);

        /// <summary>Ends the await: throws <see cref="JoinException"/> if the task did not succeed.</summary>
        public void GetResult()
        {
            Coop.ThrowIfAborted();
            _core.GetJoinResult();
        }
    }
}

/// <summary>
/// A handle to a spawned task that returns a <typeparamref name="T"/>: await it for the result,
/// <see cref="Abort"/> it to cancel the task. Dropping the handle does not cancel the task.
/// </summary>
/// <remarks>
/// Awaiting a handle throws <see cref="JoinException"/> if the task was cancelled or failed. A handle can be
/// awaited by one waiter at a time; once the task has finished it can be awaited again and again.
/// <para><b>Cancel safety:</b> abandoning the await loses nothing: the task keeps running and its result
/// stays available to a later await.</para>
/// </remarks>
/// <example>
/// <code>
/// JoinHandle&lt;int&gt; handle = KyotoTask.Spawn(async () => { await KyotoTask.Yield(); return 42; });
/// int answer = await handle;
/// </code>
/// </example>
/// <typeparam name="T">The task's result type.</typeparam>
public readonly struct JoinHandle<T> : IEquatable<JoinHandle<T>>
{
    private readonly TaskCore<T>? _core;

    internal JoinHandle(TaskCore<T> core) => _core = core;

    private TaskCore<T> Core => _core ?? throw new InvalidOperationException("This JoinHandle is default: it refers to no task.");

    /// <summary>The task's id.</summary>
    public TaskId Id => new(Core.Id);

    /// <summary>True once the task has completed (successfully or not).</summary>
    public bool IsFinished => Core.IsCompleted;

    /// <summary>
    /// Requests that the task stop: its cancellation token is cancelled and the Kyoto await it is parked on
    /// throws <see cref="TaskAbortedException"/>. No effect on a finished task. A task aborted before it first
    /// ran never runs at all (none of its code, so none of its <c>finally</c> blocks).
    /// </summary>
    public void Abort() => Core.Abort();

    /// <summary>A handle that can abort the task but not await it; it can be copied and shared.</summary>
    public AbortHandle AbortHandle => new(Core);

    /// <summary>Gets the awaiter.</summary>
    public JoinAwaiter GetAwaiter() => new(Core);

    /// <summary>Waits for the task as a <see cref="Task{TResult}"/> (allocates; for interop with BCL combinators).</summary>
    public async Task<T> AsTask() => await this;

    /// <inheritdoc />
    public bool Equals(JoinHandle<T> other) => ReferenceEquals(_core, other._core);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is JoinHandle<T> other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _core?.GetHashCode() ?? 0;

    /// <summary>Compares two handles by task.</summary>
    public static bool operator ==(JoinHandle<T> left, JoinHandle<T> right) => left.Equals(right);

    /// <summary>Compares two handles by task.</summary>
    public static bool operator !=(JoinHandle<T> left, JoinHandle<T> right) => !left.Equals(right);

    /// <summary>The awaiter of <see cref="JoinHandle{T}"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct JoinAwaiter : ICriticalNotifyCompletion
    {
        private readonly TaskCore<T> _core;

        internal JoinAwaiter(TaskCore<T> core) => _core = core;

        /// <summary>True when the task has finished and the awaiting task has coop budget left.</summary>
        public bool IsCompleted => _core.IsCompleted && Coop.TryConsume();

        /// <inheritdoc />
        public void OnCompleted(Action continuation)
            => _core.RegisterJoiner(ActionCallbacks.InvokeAction, continuation ?? throw new ArgumentNullException(nameof(continuation)), flowExecutionContext: true, yieldIfCompleted: true);

        /// <inheritdoc />
        public void UnsafeOnCompleted(Action continuation)
            => _core.RegisterJoiner(ActionCallbacks.InvokeAction, continuation ?? throw new ArgumentNullException(nameof(continuation)), flowExecutionContext: false, yieldIfCompleted: true);

        /// <summary>Ends the await: the result, or <see cref="JoinException"/> if the task did not succeed.</summary>
        public T GetResult()
        {
            Coop.ThrowIfAborted();
            return _core.GetJoinResult();
        }
    }
}

/// <summary>Aborts a task without owning its result. Cheap to copy; safe to use from any thread.</summary>
public readonly struct AbortHandle : IEquatable<AbortHandle>
{
    private readonly TaskCore? _core;

    internal AbortHandle(TaskCore core) => _core = core;

    private TaskCore Core => _core ?? throw new InvalidOperationException("This AbortHandle is default: it refers to no task.");

    /// <summary>The task's id.</summary>
    public TaskId Id => new(Core.Id);

    /// <summary>True once the task has completed.</summary>
    public bool IsFinished => Core.IsCompleted;

    /// <summary>Requests that the task stop (see <see cref="JoinHandle.Abort"/>).</summary>
    public void Abort() => Core.Abort();

    /// <inheritdoc />
    public bool Equals(AbortHandle other) => ReferenceEquals(_core, other._core);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AbortHandle other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _core?.GetHashCode() ?? 0;

    /// <summary>Compares two handles by task.</summary>
    public static bool operator ==(AbortHandle left, AbortHandle right) => left.Equals(right);

    /// <summary>Compares two handles by task.</summary>
    public static bool operator !=(AbortHandle left, AbortHandle right) => !left.Equals(right);
}
