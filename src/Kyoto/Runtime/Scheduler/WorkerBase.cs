namespace Kyoto.Scheduling;

/// <summary>
/// The part of a worker that awaitables talk to: scheduling a woken item locally.
/// Only the thread that currently drives the worker may call its members.
/// </summary>
internal abstract class WorkerBase
{
    protected WorkerBase(Scheduler scheduler) => Scheduler = scheduler;

    /// <summary>The runtime this worker belongs to.</summary>
    internal Scheduler Scheduler { get; }

    /// <summary>
    /// Queues <paramref name="item"/> on this worker. A wake (<paramref name="isYield"/> false) may use the
    /// LIFO slot so the woken task runs next; a yield goes to the back of the queue.
    /// </summary>
    internal abstract void ScheduleLocal(IWorkItem item, bool isYield);

    /// <summary>Counts a task spawned from this worker (metrics; owner thread only).</summary>
    internal long SpawnedTasks;

    /// <summary>Counts a task completed on this worker (metrics; owner thread only).</summary>
    internal long CompletedTasks;
}
