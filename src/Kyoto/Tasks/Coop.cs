using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>
/// The cooperative budget (Tokio's coop): a task may complete this many Kyoto awaits synchronously per
/// poll; after that, an await that could complete at once yields instead, so one busy task cannot keep
/// a worker from the others.
/// </summary>
internal static class Coop
{
    /// <summary>
    /// Consumes one unit of budget. True if the caller may complete synchronously; false if it must yield.
    /// Always true off the workers and inside <c>KyotoTask.Unconstrained</c>.
    /// </summary>
    internal static bool TryConsume()
    {
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
        if (ctx?.Worker is null)
        {
            return true;
        }

        if (ctx.CurrentTask is { UnconstrainedDepth: > 0 })
        {
            return true;
        }

        if (ctx.Budget > 0)
        {
            ctx.Budget--;
            return true;
        }

        return false;
    }

    /// <summary>
    /// The check of an I/O call that may complete at once: <see cref="CoopDecision.Aborted"/> if the running task
    /// was aborted, else one unit of budget consumed (<see cref="CoopDecision.Proceed"/>) or none left
    /// (<see cref="CoopDecision.Yield"/>). Off the workers and inside <c>KyotoTask.Unconstrained</c>: proceed.
    /// </summary>
    internal static CoopDecision Proceed(out TaskId? aborted)
    {
        aborted = null;
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
        if (ctx?.Worker is null)
        {
            return CoopDecision.Proceed;
        }

        TaskCore? task = ctx.CurrentTask;
        if (task is not null)
        {
            if (task.IsAbortRequested)
            {
                aborted = new TaskId(task.Id);
                return CoopDecision.Aborted;
            }

            if (task.UnconstrainedDepth > 0)
            {
                return CoopDecision.Proceed;
            }
        }

        if (ctx.Budget > 0)
        {
            ctx.Budget--;
            return CoopDecision.Proceed;
        }

        return CoopDecision.Yield;
    }

    /// <summary>True if the running task still has budget (or is unconstrained).</summary>
    internal static bool HasBudgetRemaining()
    {
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
        return ctx?.Worker is null || ctx.CurrentTask is { UnconstrainedDepth: > 0 } || ctx.Budget > 0;
    }

    /// <summary>The id of the running task if it has been aborted; null otherwise.</summary>
    internal static TaskId? AbortedTaskId()
    {
        TaskCore? task = RuntimeContext.CurrentOrNull?.CurrentTask;
        return task is not null && task.IsAbortRequested ? new TaskId(task.Id) : null;
    }

    /// <summary>Throws <see cref="TaskAbortedException"/> if the running task has been aborted.</summary>
    internal static void ThrowIfAborted()
    {
        TaskCore? task = RuntimeContext.CurrentOrNull?.CurrentTask;
        if (task is not null && task.IsAbortRequested)
        {
            throw new TaskAbortedException(new TaskId(task.Id));
        }
    }

    /// <summary>Queues <paramref name="continuation"/> at the back of the current runtime's queue.</summary>
    internal static void YieldContinuation(Action continuation, bool flowExecutionContext)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
        if (ctx?.Worker is { } worker && !flowExecutionContext)
        {
            // The common case, a task yielding on a worker: one context lookup, straight to the local queue.
            worker.ScheduleLocal(ActionWorkItem.Rent(ctx, ActionCallbacks.InvokeAction, continuation, ctx.CurrentTask, worker.Scheduler), isYield: true);
            return;
        }

        Scheduler? scheduler = RuntimeContext.ContinuationScheduler(out TaskCore? owner);
        if (scheduler is null)
        {
            // Outside any runtime: behave like Task.Yield on the thread pool.
            if (flowExecutionContext)
            {
                ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
            }

            return;
        }

        ExecutionContext? ec = flowExecutionContext ? ExecutionContext.Capture() : null;
        scheduler.Schedule(ActionWorkItem.Rent(ActionCallbacks.InvokeAction, continuation, owner, scheduler, ec), isYield: true);
    }
}

/// <summary>What <see cref="Coop.Proceed"/> decided.</summary>
internal enum CoopDecision
{
    /// <summary>Make the call now (one unit of budget spent).</summary>
    Proceed,

    /// <summary>The budget is spent: yield before making the call.</summary>
    Yield,

    /// <summary>The running task was aborted: fail the call.</summary>
    Aborted,
}
