using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>
/// Task operations on the current runtime (Tokio's <c>tokio::task</c>): spawn, yield, blocking sections,
/// the current task's id and cancellation token, and the coop budget.
/// </summary>
/// <example>
/// <code>
/// JoinHandle&lt;int&gt; h = KyotoTask.Spawn(async () =&gt;
/// {
///     for (int i = 0; i &lt; 3; i++) await KyotoTask.Yield();
///     return 7;
/// });
/// int seven = await h;
/// </code>
/// </example>
public static class KyotoTask
{
    /// <summary>Spawns <paramref name="body"/> as a task on the current runtime (<see cref="RuntimeHandle.Current"/>).</summary>
    /// <exception cref="InvalidOperationException">There is no current runtime.</exception>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public static JoinHandle Spawn(Func<Task> body) => RuntimeHandle.Current.Spawn(body);

    /// <summary>Spawns <paramref name="body"/> as a task on the current runtime and produces its result.</summary>
    /// <exception cref="InvalidOperationException">There is no current runtime.</exception>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public static JoinHandle<T> Spawn<T>(Func<Task<T>> body) => RuntimeHandle.Current.Spawn(body);

    /// <inheritdoc cref="RuntimeHandle.UnsafeSpawn(Func{Task})"/>
    public static JoinHandle UnsafeSpawn(Func<Task> body) => RuntimeHandle.Current.UnsafeSpawn(body);

    /// <inheritdoc cref="RuntimeHandle.SpawnBlocking(Action)"/>
    public static JoinHandle SpawnBlocking(Action body) => RuntimeHandle.Current.SpawnBlocking(body);

    /// <inheritdoc cref="RuntimeHandle.SpawnBlocking{T}(Func{T})"/>
    public static JoinHandle<T> SpawnBlocking<T>(Func<T> body) => RuntimeHandle.Current.SpawnBlocking(body);

    /// <summary>
    /// Suspends the current task and puts it at the back of its worker's queue, so other ready tasks run
    /// first. Throws <see cref="TaskAbortedException"/> on resumption if the task was aborted.
    /// </summary>
    public static YieldAwaitable Yield() => default;

    /// <summary>
    /// Consumes one unit of the task's coop budget: completes at once while budget remains, yields once it is
    /// spent. Call it in long loops that await nothing that yields.
    /// </summary>
    public static BudgetAwaitable ConsumeBudget() => default;

    /// <summary>True if the current task may still complete Kyoto awaits synchronously before it must yield.</summary>
    public static bool HasBudgetRemaining => Coop.HasBudgetRemaining();

    /// <summary>
    /// Runs <paramref name="body"/> with the coop budget switched off for the current task: its Kyoto awaits
    /// never yield for lack of budget. Use sparingly: such a task can starve the others.
    /// </summary>
    public static async Task Unconstrained(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TaskCore? task = RuntimeContext.CurrentOrNull?.CurrentTask;
        if (task is not null)
        {
            task.UnconstrainedDepth++;
        }

        try
        {
            await body().ConfigureAwait(true);
        }
        finally
        {
            if (task is not null)
            {
                task.UnconstrainedDepth--;
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> unconstrained (see <see cref="Unconstrained(Func{Task})"/>) and returns its result.</summary>
    public static async Task<T> Unconstrained<T>(Func<Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        TaskCore? task = RuntimeContext.CurrentOrNull?.CurrentTask;
        if (task is not null)
        {
            task.UnconstrainedDepth++;
        }

        try
        {
            return await body().ConfigureAwait(true);
        }
        finally
        {
            if (task is not null)
            {
                task.UnconstrainedDepth--;
            }
        }
    }

    /// <summary>
    /// Runs blocking <paramref name="body"/> on the current worker thread after handing the worker's queue
    /// to a new thread, so other tasks keep running. Outside a runtime it just runs <paramref name="body"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on a current-thread runtime, which has no other thread to hand the work to.</exception>
    public static void BlockInPlace(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        BlockInPlace<object?>(() =>
        {
            body();
            return null;
        });
    }

    /// <summary>Runs blocking <paramref name="body"/> in place (see <see cref="BlockInPlace(Action)"/>) and returns its result.</summary>
    /// <exception cref="InvalidOperationException">Called on a current-thread runtime.</exception>
    public static T BlockInPlace<T>(Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
        switch (ctx?.Worker)
        {
            case null:
                return body();
            case CurrentThreadScheduler.Core:
                throw new InvalidOperationException(
                    "BlockInPlace is not supported on the current-thread runtime: it has no other thread to run the remaining tasks. Use SpawnBlocking, or a multi-thread runtime.");
            case Worker worker:
                // Give the worker (queue, LIFO slot) to another thread; this thread is no longer a worker.
                worker.AccountBusy(); // before the next thread takes the worker's busy-time fields
                ctx.Worker = null;
                worker.Sched.HandOff(worker);
                return body();
            default:
                return body();
        }
    }

    /// <summary>The id of the running task, or null outside any task.</summary>
    public static TaskId? CurrentId => RuntimeContext.CurrentOrNull?.CurrentTask is { } t ? new TaskId(t.Id) : null;

    /// <summary>The id of the running task.</summary>
    /// <exception cref="InvalidOperationException">Not called from inside a task.</exception>
    public static TaskId Id => CurrentId ?? throw new InvalidOperationException("KyotoTask.Id must be read from inside a Kyoto task.");

    /// <summary>
    /// The running task's token, cancelled when the task is aborted: pass it to foreign APIs (HttpClient,
    /// streams) so they stop too. <see cref="CancellationToken.None"/> outside a task.
    /// </summary>
    public static CancellationToken CancellationToken => RuntimeContext.CurrentOrNull?.CurrentTask?.Token ?? CancellationToken.None;

    /// <summary>True if the running task has been aborted.</summary>
    public static bool IsAbortRequested => RuntimeContext.CurrentOrNull?.CurrentTask?.IsAbortRequested ?? false;
}
