using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// The current-thread flavour: no worker threads. Tasks run on the thread inside <c>BlockOn</c>, one at a
/// time, from one local queue plus the injection queue for wakes from other threads.
/// </summary>
/// <remarks>
/// <para>Invariants:</para>
/// <list type="number">
/// <item>The core (<see cref="_core"/> and its local queue) is driven by at most one thread at a time, the one
/// holding <see cref="_coreLock"/>. A second concurrent <c>BlockOn</c> does not need the core to finish: the
/// driving thread runs its root task too. It waits for its root or for the core to be free (then drives).</item>
/// <item>Anything scheduled from a thread that does not hold the core goes through the injection queue and
/// unparks the core's parker, so a driving thread parked with nothing to do always wakes.</item>
/// <item>Tasks spawned while nobody drives wait in the queues until the next <c>BlockOn</c> (as in Tokio).</item>
/// </list>
/// </remarks>
internal sealed class CurrentThreadScheduler : Scheduler
{
    private readonly object _coreLock = new();
    private readonly ManualResetEventSlim _coreFree = new(true);
    private readonly Core _core;
    private readonly InjectQueue _inject = new();
    private readonly Parker _parker;

    internal CurrentThreadScheduler(RuntimeOptions options)
        : base(options)
    {
        _core = new Core(this);
        _parker = new Parker(Time);
    }

    // Called by the driving thread while it parks: its own queue is empty or it would not park.
    protected override bool IsIdleForAutoAdvance() => _inject.IsEmpty && _core.LocalDepth == 0 && Blocking.PendingTasks == 0;

    internal override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;

    internal override int WorkerCount => 1;

    internal override int GlobalQueueDepth => _inject.Count;

    internal override IEnumerable<WorkerBase> AllWorkers => [_core];

    internal Core TheCore => _core;

    internal override void ScheduleRemote(IWorkItem item)
    {
        if (IsStopped)
        {
            DiscardItem(item);
            return;
        }

        _inject.Push(item);
        _parker.Unpark();
    }

    /// <summary>Drives the runtime on the calling thread until <paramref name="done"/> returns true.</summary>
    /// <returns>False if another thread held the core for the whole <paramref name="timeout"/>.</returns>
    internal bool Drive(Func<bool> done, TimeSpan timeout, bool onlyIfFree = false)
    {
        RuntimeContext ctx = RuntimeContext.Current;
        if (ctx.Worker is not null)
        {
            throw new InvalidOperationException("Cannot drive a runtime from a thread that already drives one.");
        }

        long deadline = timeout < TimeSpan.Zero ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        if (!Monitor.TryEnter(_coreLock, onlyIfFree ? TimeSpan.Zero : timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout))
        {
            return false;
        }

        _coreFree.Reset();
        try
        {
            SynchronizationContext? previousContext = SynchronizationContext.Current;
            ctx.Worker = _core;
            Scheduler? previousScheduler = ctx.Scheduler;
            ctx.Scheduler = this;
            SynchronizationContext.SetSynchronizationContext(DefaultContext);
            try
            {
                Options.OnThreadStart?.Invoke();
                RunLoop(ctx, done, deadline);
            }
            finally
            {
                Options.OnThreadStop?.Invoke();
                ctx.Worker = null;
                ctx.CurrentTask = null;
                ctx.Scheduler = previousScheduler;
                SynchronizationContext.SetSynchronizationContext(previousContext);
            }
        }
        finally
        {
            Monitor.Exit(_coreLock);
            _coreFree.Set();
        }

        return true;
    }

    /// <summary>
    /// <c>BlockOn</c>'s wait: drive the core when it is free, otherwise wait for the root to finish (the thread
    /// driving the core runs it) or for the core to be released.
    /// </summary>
    internal void DriveOrWait(Func<bool> done, WaitHandle doneHandle)
    {
        while (!done() && !IsStopped)
        {
            if (Drive(done, Timeout.InfiniteTimeSpan, onlyIfFree: true))
            {
                continue;
            }

            WaitHandle.WaitAny([doneHandle, _coreFree.WaitHandle]);
        }
    }

    private void RunLoop(RuntimeContext ctx, Func<bool> done, long deadline)
    {
        int gqi = Options.GlobalQueueInterval;
        uint tick = 0;
        int eventInterval = Options.EventInterval;
        while (!done() && !IsStopped)
        {
            tick++;
            if (tick % (uint)eventInterval == 0)
            {
                Time.PollIfFree();
                if (deadline != long.MaxValue && Environment.TickCount64 >= deadline)
                {
                    return; // a bounded drive (shutdown) ends on time even if tasks keep the core busy
                }
            }

            IWorkItem? item = tick % (uint)gqi == 0
                ? _inject.Pop() ?? _core.Pop()
                : _core.Pop() ?? _inject.Pop();
            if (item is not null)
            {
                ctx.Budget = RuntimeContext.InitialBudget;
                ExecuteSafe(item, ctx);
                _core.PollCount++;
                continue;
            }

            long now = Environment.TickCount64;
            if (now >= deadline)
            {
                return;
            }

            ctx.CurrentTask = null;
            SynchronizationContext.SetSynchronizationContext(DefaultContext);
            Options.OnThreadPark?.Invoke();
            _core.ParkCount++;
            _parker.Park(deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(deadline - now));
            Options.OnThreadUnpark?.Invoke();
            Time.FireDue();
        }
    }

    /// <summary>Wakes the driving thread (a root task finished, or shutdown).</summary>
    internal void WakeDriver() => _parker.Unpark();

    protected override bool DrainAbortedTasks(TimeSpan timeout)
    {
        if (Monitor.IsEntered(_coreLock))
        {
            return Registry.IsEmptyAfterClose;
        }

        // Aborted tasks unwind only if someone drives the core. Drive it on a thread of its own, so that a task
        // that blocks the core cannot hold shutdown past its timeout: if time runs out, that thread is left to
        // leave the loop when the task returns (the runtime is stopped by then).
        var drainer = CreateThread(() => Drive(() => Registry.IsEmptyAfterClose, timeout));
        drainer.Name = "kyoto-shutdown-drain";
        drainer.UnsafeStart();
        bool finished = timeout < TimeSpan.Zero ? drainer.Join(Timeout.Infinite) : drainer.Join(timeout + TimeSpan.FromMilliseconds(50));
        return finished && Registry.IsEmptyAfterClose;
    }

    protected override bool StopWorkers(TimeSpan timeout)
    {
        _parker.Unpark();
        bool entered = Monitor.TryEnter(_coreLock, timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout);
        try
        {
            while (entered && _core.Pop() is { } item)
            {
                DiscardItem(item);
            }

            while (_inject.Pop() is { } item)
            {
                DiscardItem(item);
            }
        }
        finally
        {
            if (entered)
            {
                Monitor.Exit(_coreLock);
            }
        }

        return entered;
    }

    /// <summary>The single core: a local FIFO queue touched only by the thread that holds the core.</summary>
    internal sealed class Core(CurrentThreadScheduler scheduler) : WorkerBase(scheduler)
    {
        private readonly Queue<IWorkItem> _local = new();

        internal long ParkCount;
        internal long PollCount;

        internal int LocalDepth => _local.Count;

        internal override void ScheduleLocal(IWorkItem item, bool isYield) => _local.Enqueue(item);

        internal IWorkItem? Pop() => _local.TryDequeue(out IWorkItem? item) ? item : null;
    }
}
