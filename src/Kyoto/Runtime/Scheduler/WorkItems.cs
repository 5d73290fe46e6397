using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// A pooled work item that resumes an <see cref="Action"/> continuation (a yield, a deferred completion)
/// on behalf of a task. Rented and returned on the same kind of thread (workers), so a small per-thread
/// free list keeps it allocation-free once warm.
/// </summary>
internal sealed class ActionWorkItem : IWorkItem
{
    private const int MaxPooledPerThread = 256;

    [ThreadStatic]
    private static ActionWorkItem? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    private ActionWorkItem? _nextFree;
    private Action<object?>? _callback;
    private object? _state;
    private TaskCore? _owner;
    private Scheduler? _scheduler;
    private ExecutionContext? _ec;

    internal static ActionWorkItem Rent(Action<object?> callback, object? state, TaskCore? owner, Scheduler scheduler, ExecutionContext? ec = null)
    {
        ActionWorkItem? item = t_free;
        if (item is not null)
        {
            t_free = item._nextFree;
            t_freeCount--;
            item._nextFree = null;
        }
        else
        {
            item = new ActionWorkItem();
        }

        item._callback = callback;
        item._state = state;
        item._owner = owner;
        item._scheduler = scheduler;
        item._ec = ec;
        return item;
    }

    /// <summary>An <see cref="Action"/> continuation, as awaiters receive it.</summary>
    internal static ActionWorkItem Rent(Action continuation, TaskCore? owner, Scheduler scheduler)
        => Rent(ActionCallbacks.InvokeAction, continuation, owner, scheduler);

    public void Execute()
    {
        Action<object?> callback = _callback!;
        object? state = _state;
        TaskCore? owner = _owner;
        Scheduler scheduler = _scheduler!;
        ExecutionContext? ec = _ec;
        Return();

        RuntimeContext.Current.EnterTask(owner, scheduler);
        if (ec is null)
        {
            callback(state);
        }
        else
        {
            ExecutionContext.Run(ec, static s => { var (cb, st) = ((Action<object?>, object?))s!; cb(st); }, (callback, state));
        }
    }

    public void Discard() => Return();

    private void Return()
    {
        _callback = null;
        _state = null;
        _owner = null;
        _scheduler = null;
        _ec = null;
        if (t_freeCount < MaxPooledPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
    }
}

/// <summary>Cached delegates shared by the awaiters.</summary>
internal static class ActionCallbacks
{
    /// <summary>Invokes an <see cref="Action"/> passed as state.</summary>
    internal static readonly Action<object?> InvokeAction = static s => ((Action)s!).Invoke();
}

/// <summary>A callback posted to a runtime's <see cref="SynchronizationContext"/>: one allocation, as in the BCL.</summary>
internal sealed class PostedWorkItem(TaskCore? owner, Scheduler scheduler, SendOrPostCallback callback, object? state) : IWorkItem
{
    public void Execute()
    {
        RuntimeContext.Current.EnterTask(owner, scheduler);
        callback(state);
    }

    public void Discard()
    {
    }
}

/// <summary>
/// The <see cref="SynchronizationContext"/> of runtime code that belongs to no task (a continuation of an
/// await made outside any task). Posts go to the runtime's queues.
/// </summary>
internal sealed class RuntimeSynchronizationContext(Scheduler scheduler) : SynchronizationContext
{
    internal Scheduler Scheduler { get; } = scheduler;

    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        Scheduler.Schedule(new PostedWorkItem(null, Scheduler, d, state), isYield: false);
    }

    public override void Send(SendOrPostCallback d, object? state) => Scheduler.Send(null, d, state);

    public override SynchronizationContext CreateCopy() => this;
}
