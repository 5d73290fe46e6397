namespace Kyoto.Scheduling;

/// <summary>
/// Something a runtime's run queues hold: a task to start, a continuation to resume, a posted callback.
/// </summary>
/// <remarks>
/// An item is in at most one queue at a time. <see cref="Execute"/> runs on the thread that dequeued it,
/// which is a worker of the runtime (or a blocking-pool thread for blocking tasks). It must set up the
/// task context of the task that owns it (see <see cref="RuntimeContext.EnterTask"/>) and must not touch
/// its own fields after handing control to user code if it can be reused (pooled items).
/// </remarks>
internal interface IWorkItem
{
    /// <summary>Runs the item on the current thread, whose runtime context is <paramref name="ctx"/>.</summary>
    void Execute(RuntimeContext ctx);

    /// <summary>
    /// Called instead of <see cref="Execute"/> when the runtime stops with the item still queued.
    /// A task that never started completes as cancelled; a continuation is dropped.
    /// </summary>
    void Discard();
}
