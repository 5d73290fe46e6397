using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// A pooled work item that runs a continuation (a yield, a join-handle await, a timer callback, a callback posted
/// to a runtime's <see cref="SynchronizationContext"/>) on behalf of a task. Rented and returned on the runtime's
/// threads, so a small per-thread free list keeps it allocation-free once warm. (A post from a thread outside the
/// runtime rents from that thread's list, which never gets items back: such a post allocates, as before pooling,
/// and its item then joins the list of the worker that runs it.)
/// </summary>
/// <remarks>
/// Ownership: whoever rents an item dispatches it exactly once (or returns it unused). It is in at most one
/// queue, and returns itself to the pool before invoking the continuation, touching no field afterwards.
/// For a join-handle await the item is first published into <c>TaskCore._joiner</c>; whoever swaps it out
/// (the task's completion or the joiner's own abort) owns dispatching it.
/// </remarks>
internal sealed class ActionWorkItem : IWorkItem, IThreadPoolWorkItem
{
    private const int MaxPooledPerThread = 256;

    // The free list lives in the thread's RuntimeContext: callers usually hold it already, which saves the
    // thread-static lookups (each a __tls_get_addr call on Linux, measurable on the yield path).
    private ActionWorkItem? _nextFree;
    private Action<object?>? _callback;
    private SendOrPostCallback? _posted;
    private object? _state;
    private Scheduler? _scheduler;
    private ExecutionContext? _ec;

    /// <summary>The task the continuation belongs to (null outside a task).</summary>
    internal TaskCore? Owner { get; private set; }

    /// <summary>
    /// Rents an item. A null <paramref name="scheduler"/> means "outside any runtime": it is dispatched to the
    /// .NET thread pool and runs without a task context.
    /// </summary>
    internal static ActionWorkItem Rent(Action<object?> callback, object? state, TaskCore? owner, Scheduler? scheduler, ExecutionContext? ec = null)
        => Rent(RuntimeContext.Current, callback, state, owner, scheduler, ec);

    /// <summary>Rents from <paramref name="ctx"/>'s free list (the calling thread's context).</summary>
    internal static ActionWorkItem Rent(RuntimeContext ctx, Action<object?> callback, object? state, TaskCore? owner, Scheduler? scheduler, ExecutionContext? ec = null)
    {
        ActionWorkItem item = RentFree(ctx);
        item._callback = callback;
        item._state = state;
        item.Owner = owner;
        item._scheduler = scheduler;
        item._ec = ec;
        return item;
    }

    /// <summary>
    /// Rents an item for a callback posted to a runtime's <see cref="SynchronizationContext"/> (the continuations of
    /// BCL awaitables inside a task): the context's posts allocate no work item once warm.
    /// </summary>
    internal static ActionWorkItem RentPosted(SendOrPostCallback callback, object? state, TaskCore? owner, Scheduler scheduler)
    {
        ActionWorkItem item = RentFree(RuntimeContext.Current);
        item._posted = callback;
        item._state = state;
        item.Owner = owner;
        item._scheduler = scheduler;
        return item;
    }

    private static ActionWorkItem RentFree(RuntimeContext ctx)
    {
        ActionWorkItem? item = ctx.FreeActionItems;
        if (item is null)
        {
            return new ActionWorkItem();
        }

        ctx.FreeActionItems = item._nextFree;
        ctx.FreeActionItemCount--;
        item._nextFree = null;
        return item;
    }

    /// <summary>Queues the item on its runtime, or on the thread pool outside any runtime.</summary>
    internal void Dispatch(bool isYield)
    {
        if (_scheduler is { } scheduler)
        {
            scheduler.Schedule(this, isYield);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute() => Execute(RuntimeContext.Current);

    public void Execute(RuntimeContext ctx)
    {
        Action<object?>? callback = _callback;
        SendOrPostCallback? posted = _posted;
        object? state = _state;
        TaskCore? owner = Owner;
        Scheduler? scheduler = _scheduler;
        ExecutionContext? ec = _ec;
        Return(ctx);

        if (scheduler is not null)
        {
            ctx.EnterTask(owner, scheduler);
        }

        if (posted is not null)
        {
            posted(state);
        }
        else
        {
            ActionCallbacks.Run(callback!, state, ec);
        }
    }

    public void Discard() => Return(RuntimeContext.Current);

    /// <summary>Returns an item to the calling thread's pool (also for an item rented and then not dispatched).</summary>
    internal void Return(RuntimeContext ctx)
    {
        _callback = null;
        _posted = null;
        _state = null;
        Owner = null;
        _scheduler = null;
        _ec = null;
        if (ctx.FreeActionItemCount < MaxPooledPerThread)
        {
            _nextFree = ctx.FreeActionItems;
            ctx.FreeActionItems = this;
            ctx.FreeActionItemCount++;
        }
    }
}

/// <summary>Cached delegates shared by the awaiters.</summary>
internal static class ActionCallbacks
{
    /// <summary>Invokes an <see cref="Action"/> passed as state.</summary>
    internal static readonly Action<object?> InvokeAction = static s => ((Action)s!).Invoke();

    private static readonly ContextCallback s_runPair = static s =>
    {
        var (callback, state) = ((Action<object?>, object?))s!;
        callback(state);
    };

    /// <summary>Runs a continuation, inside <paramref name="ec"/> when one was captured.</summary>
    internal static void Run(Action<object?> callback, object? state, ExecutionContext? ec)
    {
        if (ec is null)
        {
            callback(state);
        }
        else
        {
            ExecutionContext.Run(ec, s_runPair, (callback, state));
        }
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
        Scheduler.Schedule(ActionWorkItem.RentPosted(d, state, owner: null, Scheduler), isYield: false);
    }

    public override void Send(SendOrPostCallback d, object? state) => Scheduler.Send(null, d, state);

    public override SynchronizationContext CreateCopy() => this;
}
