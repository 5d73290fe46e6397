using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto;

/// <summary>
/// A reference to a running <see cref="Runtime"/> that spawns onto it from anywhere. Get the handle of the
/// runtime you are running on with <see cref="Current"/>; keep one to spawn from other threads.
/// </summary>
public sealed class RuntimeHandle
{
    internal RuntimeHandle(Scheduler scheduler) => Scheduler = scheduler;

    internal Scheduler Scheduler { get; }

    /// <summary>
    /// The handle of the runtime the calling code runs on (a worker, a blocking thread, a task's
    /// continuation) or has entered with <see cref="Enter"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The caller is not inside a Kyoto runtime.</exception>
    public static RuntimeHandle Current => TryCurrent ?? throw new InvalidOperationException(
        "There is no current Kyoto runtime: call this from a task spawned on a runtime, from Runtime.BlockOn, or after Runtime.Enter().");

    /// <summary>The handle of the current runtime, or null outside any runtime.</summary>
    public static RuntimeHandle? TryCurrent
    {
        get
        {
            Scheduler? scheduler = RuntimeContext.ContinuationScheduler(out _);
            if (scheduler is null)
            {
                RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
                scheduler = ctx is null ? null : ctx.IsBlockingThread ? ctx.Scheduler : ctx.Entered;
            }

            return scheduler?.Handle;
        }
    }

    /// <summary>The runtime's flavour.</summary>
    public RuntimeFlavor Flavor => Scheduler.Flavor;

    /// <summary>Counters of the runtime's scheduler.</summary>
    public RuntimeMetrics Metrics => new(Scheduler);

    /// <summary>
    /// The runtime's clock as a <see cref="System.TimeProvider"/>: pass it to <c>Task.Delay</c>,
    /// <c>CancellationTokenSource</c>, <c>WaitAsync</c> or any library, and they follow the runtime's clock
    /// (including paused time).
    /// </summary>
    /// <remarks>
    /// .NET's <see cref="CancellationTokenSource.TryReset"/> returns <see langword="false"/> for a source whose
    /// timer comes from any provider other than the built-in timer queue once <c>CancelAfter</c> has been called
    /// (it cannot tell whether such a timer already fired): create a new source per timeout, or use
    /// <c>KyotoTime.Timeout</c>.
    /// </remarks>
    public TimeProvider TimeProvider => Scheduler.TimeProvider;

    /// <summary>
    /// Makes this runtime current on the calling thread until the guard is disposed, so that
    /// <see cref="KyotoTask.Spawn(Func{Task})"/> and <see cref="Current"/> work from a non-runtime thread.
    /// Guards must be disposed in reverse order of creation.
    /// </summary>
    public EnterGuard Enter()
    {
        RuntimeContext ctx = RuntimeContext.Current;
        var guard = new EnterGuard(ctx, ctx.Entered);
        ctx.Entered = Scheduler;
        return guard;
    }

    /// <summary>Spawns a task that runs <paramref name="body"/> on the runtime.</summary>
    /// <param name="body">The task's code; invoked once, on a worker.</param>
    /// <returns>A handle to await or abort the task.</returns>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle Spawn(Func<Task> body)
    {
        var core = TaskCore<VoidResult>.FromTask(Scheduler, body, flow: true);
        Scheduler.Spawn(core);
        return new JoinHandle(core);
    }

    /// <summary>Spawns a task that runs <paramref name="body"/> on the runtime and produces its result.</summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle<T> Spawn<T>(Func<Task<T>> body)
    {
        var core = TaskCore<T>.FromTaskOfT(Scheduler, body, flow: true);
        Scheduler.Spawn(core);
        return new JoinHandle<T>(core);
    }

    /// <summary>Spawns a task whose body returns a <see cref="ValueTask"/>.</summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle SpawnValueTask(Func<ValueTask> body)
    {
        var core = TaskCore<VoidResult>.FromValueTask(Scheduler, body, flow: true);
        Scheduler.Spawn(core);
        return new JoinHandle(core);
    }

    /// <summary>Spawns a task whose body returns a <see cref="ValueTask{TResult}"/>.</summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle<T> SpawnValueTask<T>(Func<ValueTask<T>> body)
    {
        var core = TaskCore<T>.FromValueTaskOfT(Scheduler, body, flow: true);
        Scheduler.Spawn(core);
        return new JoinHandle<T>(core);
    }

    /// <summary>
    /// Spawns a task without flowing the caller's <see cref="ExecutionContext"/> (no <c>AsyncLocal</c>
    /// values, no ambient activity): a few nanoseconds cheaper per spawn.
    /// </summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle UnsafeSpawn(Func<Task> body)
    {
        var core = TaskCore<VoidResult>.FromTask(Scheduler, body, flow: false);
        Scheduler.Spawn(core);
        return new JoinHandle(core);
    }

    /// <summary>
    /// Runs blocking, synchronous <paramref name="body"/> on the blocking pool, so it does not hold up a worker.
    /// A blocking task cannot be stopped once it has started; <see cref="JoinHandle.Abort"/> only prevents
    /// a queued one from starting.
    /// </summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle SpawnBlocking(Action body)
    {
        var core = TaskCore<VoidResult>.FromAction(Scheduler, body);
        Scheduler.SpawnBlocking(core);
        return new JoinHandle(core);
    }

    /// <summary>Runs blocking <paramref name="body"/> on the blocking pool and produces its result.</summary>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public JoinHandle<T> SpawnBlocking<T>(Func<T> body)
    {
        var core = TaskCore<T>.FromFunc(Scheduler, body);
        Scheduler.SpawnBlocking(core);
        return new JoinHandle<T>(core);
    }

    /// <summary>
    /// Runs <paramref name="body"/> as a task on this runtime and blocks the calling thread until it
    /// finishes. Exceptions thrown by the body are rethrown as they are.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from a runtime worker thread (it would block the worker).</exception>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public void BlockOn(Func<Task> body) => BlockOnCore(TaskCore<VoidResult>.FromTask(Scheduler, body, flow: true));

    /// <summary>Runs <paramref name="body"/> as a task and blocks until its result is ready.</summary>
    /// <exception cref="InvalidOperationException">Called from a runtime worker thread.</exception>
    /// <exception cref="RuntimeShutdownException">The runtime is shutting down.</exception>
    public T BlockOn<T>(Func<Task<T>> body) => BlockOnCore(TaskCore<T>.FromTaskOfT(Scheduler, body, flow: true));

    private T BlockOnCore<T>(TaskCore<T> core)
    {
        if (RuntimeContext.CurrentOrNull?.Worker is not null)
        {
            throw new InvalidOperationException(
                "BlockOn cannot be called from a Kyoto runtime worker thread: it would block the worker that has to run the task. Await the work instead, or move the blocking call to SpawnBlocking.");
        }

        var waiter = new BlockOnWaiter(Scheduler as CurrentThreadScheduler);
        core.SetListener(waiter);
        Scheduler.Spawn(core);
        if (Scheduler is CurrentThreadScheduler current)
        {
            current.DriveOrWait(() => waiter.IsDone, waiter.WaitHandle);
        }

        waiter.Wait();
        return core.GetBlockOnResult();
    }

    private sealed class BlockOnWaiter(CurrentThreadScheduler? driver) : IJoinListener
    {
        private readonly ManualResetEventSlim _done = new(false);

        internal bool IsDone => _done.IsSet;

        internal WaitHandle WaitHandle => _done.WaitHandle;

        public void OnTaskCompleted(TaskCore task)
        {
            _done.Set();
            driver?.WakeDriver();
        }

        internal void Wait()
        {
            _done.Wait();
            _done.Dispose();
        }
    }
}

/// <summary>Restores the previously entered runtime when disposed (see <see cref="RuntimeHandle.Enter"/>).</summary>
public readonly struct EnterGuard : IDisposable
{
    private readonly RuntimeContext? _context;
    private readonly Scheduler? _previous;

    internal EnterGuard(RuntimeContext context, Scheduler? previous)
    {
        _context = context;
        _previous = previous;
    }

    /// <summary>Leaves the runtime entered by the matching <see cref="RuntimeHandle.Enter"/>.</summary>
    public void Dispose()
    {
        if (_context is not null)
        {
            _context.Entered = _previous;
        }
    }
}
