using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// Per-thread state of the runtime: which worker this thread drives (if any), which task is running,
/// the coop budget left in this poll, and the handle entered with <see cref="RuntimeHandle.Enter"/>.
/// </summary>
/// <remarks>
/// Thread-confined: one instance per thread, reached through a single thread-static, touched only by
/// its own thread. Keeping everything in one object costs one thread-static lookup per hot-path call.
/// </remarks>
internal sealed class RuntimeContext
{
    /// <summary>Tokio's per-poll budget: Kyoto awaits a task may complete synchronously before it must yield.</summary>
    internal const int InitialBudget = 128;

    [ThreadStatic]
    private static RuntimeContext? t_current;

    /// <summary>The worker this thread drives, or null on a non-worker thread.</summary>
    internal WorkerBase? Worker;

    /// <summary>The task whose code is running on this thread, or null.</summary>
    internal TaskCore? CurrentTask;

    /// <summary>The scheduler this thread belongs to (worker or blocking thread), or the entered one.</summary>
    internal Scheduler? Scheduler;

    /// <summary>True on a blocking-pool thread.</summary>
    internal bool IsBlockingThread;

    /// <summary>Kyoto awaits left before the running task must yield.</summary>
    internal int Budget = InitialBudget;

    /// <summary>The runtime entered with <see cref="RuntimeHandle.Enter"/> on this thread, if any.</summary>
    internal Scheduler? Entered;

    /// <summary>This thread's free list of pooled <see cref="ActionWorkItem"/>s.</summary>
    internal ActionWorkItem? FreeActionItems;

    /// <summary>Length of <see cref="FreeActionItems"/>.</summary>
    internal int FreeActionItemCount;

    /// <summary>Task ids reserved for this thread: next to hand out, and the end of the block.</summary>
    internal ulong NextId, IdLimit;

    /// <summary>This thread's context, created on first use.</summary>
    internal static RuntimeContext Current => t_current ??= new RuntimeContext();

    /// <summary>This thread's context if it has one.</summary>
    internal static RuntimeContext? CurrentOrNull => t_current;

    /// <summary>
    /// Where a continuation registered now should run: the runtime of the calling worker, or of the Kyoto
    /// <see cref="SynchronizationContext"/> in place, with the task it belongs to; null outside any runtime.
    /// </summary>
    internal static Scheduler? ContinuationScheduler(out TaskCore? owner)
    {
        RuntimeContext? ctx = t_current;
        if (ctx?.Worker is { } worker)
        {
            owner = ctx.CurrentTask;
            return worker.Scheduler;
        }

        switch (SynchronizationContext.Current)
        {
            case TaskCore task:
                owner = task;
                return task.Scheduler;
            case RuntimeSynchronizationContext runtime:
                owner = null;
                return runtime.Scheduler;
            default:
                owner = null;
                return null;
        }
    }

    /// <summary>
    /// Outside any runtime, an awaiter honours the awaiting code's own <see cref="SynchronizationContext"/>
    /// (a UI or test-framework context): the continuation is wrapped to be posted there. Allocates; this is
    /// the foreign path only.
    /// </summary>
    internal static void WrapForForeignContext(ref Action<object?> continuation, ref object? state)
    {
        SynchronizationContext? sc = SynchronizationContext.Current;
        if (sc is null || sc.GetType() == typeof(SynchronizationContext))
        {
            return;
        }

        Action<object?> inner = continuation;
        object? innerState = state;
        continuation = _ => sc.Post(static s => { var (c, st) = ((Action<object?>, object?))s!; c(st); }, (inner, innerState));
        state = null;
    }

    /// <summary>
    /// Makes <paramref name="task"/> the running task of this thread: the coop budget, abort checks and
    /// <see cref="SynchronizationContext.Current"/> all follow it. A null task installs the scheduler's
    /// default context.
    /// </summary>
    internal void EnterTask(TaskCore? task, Scheduler scheduler)
    {
        CurrentTask = task;
        SynchronizationContext ctx = task is null ? scheduler.DefaultContext : task;
        if (!ReferenceEquals(SynchronizationContext.Current, ctx))
        {
            SynchronizationContext.SetSynchronizationContext(ctx);
        }
    }
}
