using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Kyoto.Tasks;
using Kyoto.Timing;

namespace Kyoto.Scheduling;

/// <summary>
/// What both runtime flavours share: spawning, the task registry, the blocking pool, the shutdown protocol,
/// and the entry points awaitables use to wake a continuation.
/// </summary>
/// <remarks>
/// <para><b>Shutdown protocol</b> (<see cref="Shutdown"/>; <see cref="Runtime.Dispose"/> and
/// <see cref="Runtime.ShutdownBackground"/> run the same steps):</para>
/// <list type="number">
/// <item>The state moves from Running to ShuttingDown, once; later callers wait for the first one.
/// From now on <c>Spawn</c> and <c>SpawnBlocking</c> throw <see cref="RuntimeShutdownException"/>. A spawn
/// that passed the check just before is still queued; when a worker pops it, the task sees the shutdown
/// and completes as cancelled without running its code.</item>
/// <item>The registry closes and every registered (started, unfinished) task is aborted: its token is
/// cancelled and the Kyoto await it is parked on throws <see cref="TaskAbortedException"/>, so its
/// <c>finally</c> blocks run. A task whose first poll ends after the close is aborted at once.</item>
/// <item>Workers keep running so aborted tasks can unwind, until every registered task has finished or the
/// timeout passes. Wakes (continuations) are still accepted in this phase.</item>
/// <item>The state moves to Stopped: workers are unparked, finish the item in hand and leave their loops;
/// each discards what is left in its LIFO slot and local queue (a task that never started completes as
/// cancelled; a continuation is dropped). The caller waits for the worker threads, then empties the
/// injection queue the same way.</item>
/// <item>Tasks still registered (stuck on a foreign await, or ignoring abort) are completed as cancelled, so
/// nobody awaiting a join handle hangs; whatever continuation they later post is dropped.</item>
/// <item>The blocking pool refuses new work, cancels queued blocking tasks that have not started, and waits
/// for running ones until the remaining timeout; their threads are background threads and never keep the
/// process alive.</item>
/// </list>
/// <para>Shutdown waiting on its own runtime from one of its workers would deadlock, so it throws
/// <see cref="InvalidOperationException"/> there; <c>ShutdownBackground</c> never waits and works anywhere.</para>
/// </remarks>
internal abstract class Scheduler
{
    private const int StateRunning = 0;
    private const int StateShuttingDown = 1;
    private const int StateStopped = 2;

    private static ulong s_nextIdBlock;
    private const ulong IdBlockSize = 256;

    private int _state;
    private readonly ManualResetEventSlim _shutdownComplete = new(false);
    private bool _shutdownCleanly;

    // Spawned / completed counts of tasks from non-worker threads (metrics).
    private long _remoteSpawned;
    private long _remoteCompleted;

    protected Scheduler(RuntimeOptions options)
    {
        Options = options;
        DefaultContext = new RuntimeSynchronizationContext(this);
        Handle = new RuntimeHandle(this);
        Registry = new TaskRegistry();
        Blocking = new BlockingPool(this, options);
        Clock = new Clock(options.StartPaused);
        Time = new TimeDriver(Clock, IsIdleForAutoAdvance, options.EnableIo);
        TimeProvider = new KyotoTimeProvider(this);
    }

    /// <summary>The runtime's clock as a <see cref="System.TimeProvider"/>.</summary>
    internal TimeProvider TimeProvider { get; }

    /// <summary>The runtime's clock (paused or real).</summary>
    internal Clock Clock { get; }

    /// <summary>The timer driver; workers park in it.</summary>
    internal TimeDriver Time { get; }

    /// <summary>
    /// For the paused clock: true when no task can run before the next timer (every worker idle, queues
    /// empty) and no blocking task is queued or running. Called by the thread driving the timer driver.
    /// </summary>
    protected abstract bool IsIdleForAutoAdvance();

    internal RuntimeOptions Options { get; }

    internal RuntimeHandle Handle { get; }

    internal TaskRegistry Registry { get; }

    internal BlockingPool Blocking { get; }

    /// <summary>The context installed on runtime threads when no task is running.</summary>
    internal RuntimeSynchronizationContext DefaultContext { get; }

    internal bool IsShuttingDown => Volatile.Read(ref _state) != StateRunning;

    internal bool IsStopped => Volatile.Read(ref _state) == StateStopped;

    internal abstract RuntimeFlavor Flavor { get; }

    internal abstract int WorkerCount { get; }

    internal abstract int GlobalQueueDepth { get; }

    /// <summary>
    /// Queues a woken item: on the current worker if this thread drives one of this runtime's workers,
    /// otherwise on the injection queue (waking a parked worker).
    /// </summary>
    internal void Schedule(IWorkItem item, bool isYield)
    {
        WorkerBase? worker = RuntimeContext.CurrentOrNull?.Worker;
        if (worker is not null && ReferenceEquals(worker.Scheduler, this))
        {
            worker.ScheduleLocal(item, isYield);
        }
        else
        {
            ScheduleRemote(item);
        }
    }

    /// <summary>Queues an item from a thread that is not one of this runtime's workers.</summary>
    internal abstract void ScheduleRemote(IWorkItem item);

    /// <summary>Runs a task's callback synchronously for <see cref="SynchronizationContext.Send"/>.</summary>
    internal void Send(TaskCore? owner, SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        WorkerBase? worker = RuntimeContext.CurrentOrNull?.Worker;
        if (worker is not null && ReferenceEquals(worker.Scheduler, this))
        {
            d(state);
            return;
        }

        var item = new SendItem(d, state, owner, this);
        using (item.Done)
        {
            Schedule(item, isYield: false);
            item.Done.Wait();
        }

        item.Error?.Throw();
    }

    /// <summary>
    /// A <see cref="Send"/> callback queued on the runtime: sets <see cref="Done"/> when it has run, or when the
    /// runtime discards it (stopped first), so the sending thread never waits for ever.
    /// </summary>
    private sealed class SendItem(SendOrPostCallback callback, object? state, TaskCore? owner, Scheduler scheduler) : IWorkItem
    {
        internal ManualResetEventSlim Done { get; } = new(false);

        internal ExceptionDispatchInfo? Error { get; private set; }

        public void Execute(RuntimeContext ctx)
        {
            ctx.EnterTask(owner, scheduler);
            try
            {
                callback(state);
            }
            catch (Exception e)
            {
                Error = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                Done.Set();
            }
        }

        public void Discard()
        {
            Error = ExceptionDispatchInfo.Capture(new RuntimeShutdownException("The runtime stopped before the callback sent to it ran."));
            Done.Set();
        }
    }

    /// <summary>Hands out a process-wide unique task id, from a per-thread block to avoid contention.</summary>
    internal static ulong NextTaskId(RuntimeContext ctx)
    {
        if (ctx.NextId == ctx.IdLimit)
        {
            ulong start = Interlocked.Add(ref s_nextIdBlock, IdBlockSize) - IdBlockSize;
            ctx.NextId = start + 1; // ids start at 1
            ctx.IdLimit = start + IdBlockSize + 1;
        }

        return ctx.NextId++;
    }

    /// <summary>Starts a task: throws if the runtime is shutting down.</summary>
    internal void Spawn(TaskCore task)
    {
        ThrowIfShuttingDown();
        RuntimeContext ctx = RuntimeContext.Current;
        task.Id = NextTaskId(ctx);
        WorkerBase? worker = ctx.Worker;
        if (worker is not null && ReferenceEquals(worker.Scheduler, this))
        {
            worker.SpawnedTasks++;
            worker.ScheduleLocal(task, isYield: false);
        }
        else
        {
            Interlocked.Increment(ref _remoteSpawned);
            ScheduleRemote(task);
        }
    }

    /// <summary>Starts a blocking task on the blocking pool.</summary>
    internal void SpawnBlocking(TaskCore task)
    {
        ThrowIfShuttingDown();
        task.Id = NextTaskId(RuntimeContext.Current);
        Interlocked.Increment(ref _remoteSpawned);
        if (!Blocking.Spawn(task, mandatory: false))
        {
            throw new RuntimeShutdownException();
        }
    }

    internal void ThrowIfShuttingDown()
    {
        if (IsShuttingDown)
        {
            throw new RuntimeShutdownException();
        }
    }

    /// <summary>Counts a finished task (metrics).</summary>
    internal void OnTaskCompleted()
    {
        WorkerBase? worker = RuntimeContext.CurrentOrNull?.Worker;
        if (worker is not null && ReferenceEquals(worker.Scheduler, this))
        {
            worker.CompletedTasks++;
        }
        else
        {
            Interlocked.Increment(ref _remoteCompleted);
        }
    }

    /// <summary>Spawned minus completed: the tasks alive now (approximate while they change).</summary>
    internal long AliveTasks
    {
        get
        {
            long n = Volatile.Read(ref _remoteSpawned) - Volatile.Read(ref _remoteCompleted);
            foreach (WorkerBase w in AllWorkers)
            {
                n += Volatile.Read(ref w.SpawnedTasks) - Volatile.Read(ref w.CompletedTasks);
            }

            return Math.Max(0, n);
        }
    }

    internal abstract IEnumerable<WorkerBase> AllWorkers { get; }

    /// <summary>Runs an item, routing an exception that escapes it (an <c>async void</c> method's) to the policy.</summary>
    internal void ExecuteSafe(IWorkItem item, RuntimeContext ctx)
    {
        try
        {
            item.Execute(ctx);
        }
        catch (Exception e)
        {
            OnUnhandledException(e);
        }
    }

    /// <summary>Applies the unhandled-exception policy to an exception no task caught.</summary>
    internal void OnUnhandledException(Exception e)
    {
        try
        {
            Options.OnUnhandledException?.Invoke(e);
        }
        catch (Exception)
        {
            // A throwing hook must not take a worker down; the policy still applies below.
        }

        if (Options.UnhandledExceptionPolicy == UnhandledExceptionPolicy.ShutdownRuntime)
        {
            ShutdownBackground();
        }
    }

    /// <summary>True when the calling thread is one of this runtime's workers.</summary>
    internal bool IsOnWorkerThread
    {
        get
        {
            WorkerBase? worker = RuntimeContext.CurrentOrNull?.Worker;
            return worker is not null && ReferenceEquals(worker.Scheduler, this);
        }
    }

    /// <summary>True on a blocking-pool thread of this runtime.</summary>
    internal bool IsOnBlockingThread
    {
        get
        {
            RuntimeContext? ctx = RuntimeContext.CurrentOrNull;
            return ctx is not null && ctx.IsBlockingThread && ReferenceEquals(ctx.Scheduler, this);
        }
    }

    /// <summary>Runs the shutdown protocol; true if everything finished within <paramref name="timeout"/>.</summary>
    internal bool Shutdown(TimeSpan timeout)
    {
        if (IsOnWorkerThread)
        {
            throw new InvalidOperationException(
                "A runtime cannot be shut down, disposed or waited for from one of its own worker threads: the wait would block the worker it waits for. Use ShutdownBackground() from inside the runtime.");
        }

        if (Interlocked.CompareExchange(ref _state, StateShuttingDown, StateRunning) != StateRunning)
        {
            _shutdownComplete.Wait(timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout);
            return _shutdownComplete.IsSet && _shutdownCleanly;
        }

        var clock = Stopwatch.StartNew();
        TimeSpan Remaining() => timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : (timeout - clock.Elapsed is var r && r > TimeSpan.Zero ? r : TimeSpan.Zero);

        // Step 2: abort every started task.
        foreach (TaskCore task in Registry.Close())
        {
            task.Abort();
        }

        // Step 3: let them unwind.
        bool clean = DrainAbortedTasks(Remaining());

        // Step 4: stop the workers and discard what is queued.
        Volatile.Write(ref _state, StateStopped);
        clean &= StopWorkers(Remaining());

        // Step 5: nobody waits forever on a task that did not unwind.
        foreach (TaskCore task in Registry.Snapshot())
        {
            task.CompleteAbandoned();
        }

        // Step 6: the blocking pool.
        clean &= Blocking.Shutdown(Remaining());
        Time.Dispose();

        _shutdownCleanly = clean;
        _shutdownComplete.Set();
        return clean;
    }

    /// <summary>Starts the shutdown protocol on a background thread and returns at once.</summary>
    internal void ShutdownBackground()
    {
        if (IsShuttingDown)
        {
            return;
        }

        var thread = new Thread(static s => ((Scheduler)s!).Shutdown(TimeSpan.FromSeconds(10)))
        {
            IsBackground = true,
            Name = "kyoto-shutdown",
        };
        thread.UnsafeStart(this);
    }

    /// <summary>Step 3: runs (or lets the workers run) aborted tasks until none is left or the time is up.</summary>
    protected abstract bool DrainAbortedTasks(TimeSpan timeout);

    /// <summary>Step 4: wakes the workers, waits for them to leave, discards queued items.</summary>
    protected abstract bool StopWorkers(TimeSpan timeout);

    /// <summary>Discards an item left in a queue at shutdown.</summary>
    internal static void DiscardItem(IWorkItem item)
    {
        try
        {
            item.Discard();
        }
        catch (Exception)
        {
            // Discarding never runs user code; nothing useful can be done with a failure at shutdown.
        }
    }

    /// <summary>Runs a thread-start hook and names the thread.</summary>
    internal Thread CreateThread(ThreadStart body)
    {
        var thread = Options.ThreadStackSize > 0 ? new Thread(body, Options.ThreadStackSize) : new Thread(body);
        thread.IsBackground = true;
        thread.Name = Options.ThreadNameFn();
        return thread;
    }

    internal void RunThreadStartHook() => Options.OnThreadStart?.Invoke();

    internal void RunThreadStopHook() => Options.OnThreadStop?.Invoke();
}
