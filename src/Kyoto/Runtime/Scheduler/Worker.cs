using System.Diagnostics;

namespace Kyoto.Scheduling;

/// <summary>
/// One worker of the multi-thread scheduler: its local queue, LIFO slot, parker, and the run loop.
/// </summary>
/// <remarks>
/// <para>Threads: every member except <see cref="Queue"/> (stealers call <see cref="LocalQueue.StealInto"/>),
/// <see cref="Parker"/> (anyone may unpark) and the metrics counters (read racily) belongs to the thread
/// driving the worker. After <c>BlockInPlace</c> a new thread drives it; the old thread stops touching it the
/// moment it clears <see cref="RuntimeContext.Worker"/>, before the new thread starts.</para>
/// <para>The loop (Tokio's): every tick take a task (the injection queue first every
/// <c>GlobalQueueInterval</c> ticks, for fairness), else steal, else park. After running a task, run
/// what it put in the LIFO slot, at most <see cref="MaxLifoPolls"/> times, so two tasks waking each
/// other cannot starve the queue.</para>
/// <para>Wake-ups (Tokio's): work this worker queues wakes a parked sibling only if it holds more than it will run
/// next, and never while it is parked itself (its driver's events come in batches: one check after the park).
/// Woken with work of its own (events, timers), it comes back not searching; only a worker woken by another
/// searches, and the last searcher to find work wakes the next one. No lost wake-up: a parking worker that was
/// the last searcher re-checks every queue after registering as parked.</para>
/// </remarks>
internal sealed class Worker : WorkerBase
{
    /// <summary>Tokio's bound on consecutive LIFO-slot polls.</summary>
    internal const int MaxLifoPolls = 3;

    private const int MaxBatch = 128;

    private readonly WorkSlot[] _batch = new WorkSlot[MaxBatch];
    private readonly int _globalQueueInterval;
    private readonly int _eventInterval;
    private readonly bool _lifoEnabled;
    private IWorkItem? _lifo;
    private bool _isSearching;
    private uint _tick;
    private uint _rng;
    private long _busySince;

    internal Worker(MultiThreadScheduler scheduler, int index)
        : base(scheduler)
    {
        Sched = scheduler;
        Index = index;
        Queue = new LocalQueue();
        Parker = new Parker(scheduler.Time);
        _globalQueueInterval = scheduler.Options.GlobalQueueInterval;
        _eventInterval = scheduler.Options.EventInterval;
        _lifoEnabled = !scheduler.Options.DisableLifoSlot;
        _rng = (uint)(index * 0x9E3779B9) | 1;
    }

    internal MultiThreadScheduler Sched { get; }

    internal int Index { get; }

    internal LocalQueue Queue { get; }

    internal Parker Parker { get; }

    // Metrics, written by the driving thread, read racily.
    internal long ParkCount;

    // True while this worker is inside Parker.Park (maybe turning the driver, whose events schedule tasks here).
    private bool _inDriverPark;
    internal long StealCount;
    internal long PollCount;
    internal long BusyTicks;

    internal override void ScheduleLocal(IWorkItem item, bool isYield)
    {
        if (isYield || !_lifoEnabled)
        {
            Queue.PushBack(item, Sched.Inject);
            if (!_inDriverPark)
            {
                NotifyParkedIfOthersCanHelp();
            }

            return;
        }

        IWorkItem? previous = _lifo;
        _lifo = item;
        if (previous is not null)
        {
            Queue.PushBack(previous, Sched.Inject);

            // Not while this worker is parked in its driver: its events come in batches, and one check after the
            // park (NotifyParkedIfOthersCanHelp) replaces a wake-up per event (Tokio's schedule_local).
            if (!_inDriverPark && Sched.Idle.MayNeedWake)
            {
                Sched.NotifyParked();
            }
        }
    }

    /// <summary>
    /// Wakes a parked worker only if this one has more queued work than it will run next (Tokio's
    /// <c>should_notify_others</c>): a single runnable task (a chain of spawns, a yield loop) is not worth a
    /// wake-up that would only make the other worker steal it and bounce it between cores.
    /// </summary>
    private void NotifyParkedIfOthersCanHelp()
    {
        if ((_lifo is null ? 0 : 1) + Queue.Count > 1 && Sched.Idle.MayNeedWake)
        {
            Sched.NotifyParked();
        }
    }

    /// <summary>The run loop. Returns when the runtime stops or when the worker is handed to another thread.</summary>
    internal void Run()
    {
        RuntimeContext ctx = RuntimeContext.Current;
        ctx.Worker = this;
        ctx.Scheduler = Sched;
        SynchronizationContext.SetSynchronizationContext(Sched.DefaultContext);
        _busySince = Stopwatch.GetTimestamp();
        while (!Sched.IsStopped)
        {
            _tick++;
            if (_tick % (uint)_eventInterval == 0)
            {
                Maintenance();
            }

            IWorkItem? item = NextTask() ?? StealWork();
            if (item is not null)
            {
                if (!RunTask(item, ctx))
                {
                    return; // handed off: another thread drives this worker now
                }

                continue;
            }

            Park();
        }

        AccountBusy(); // stopped: the work since the last park counts too, though this loop will not park again
        ctx.Worker = null;
        ctx.CurrentTask = null;
        ctx.Scheduler = null;
        SynchronizationContext.SetSynchronizationContext(null);
        if (_isSearching)
        {
            _isSearching = false;
            Sched.Idle.TransitionFromSearching();
        }

        DiscardQueued();
        Sched.OnWorkerExited();
    }

    /// <summary>
    /// Adds the time since the worker last became busy (a park ended, or a thread started driving it) to
    /// <see cref="BusyTicks"/>. Only the driving thread calls it: at a park, when its loop stops, and before it hands
    /// the worker to another thread (<c>BlockInPlace</c>).
    /// </summary>
    internal void AccountBusy()
    {
        long now = Stopwatch.GetTimestamp();
        BusyTicks += now - _busySince;
        _busySince = now;
    }

    /// <summary>Discards the LIFO slot and the local queue (shutdown).</summary>
    internal void DiscardQueued()
    {
        if (_lifo is { } lifo)
        {
            _lifo = null;
            Scheduler.DiscardItem(lifo);
        }

        while (Queue.Pop() is { } item)
        {
            Scheduler.DiscardItem(item);
        }
    }

    private void Maintenance()
    {
        // Fire due timers even while there is always work to run (Tokio's event interval).
        Sched.Time.PollIfFree();
    }

    private bool RunTask(IWorkItem item, RuntimeContext ctx)
    {
        if (_isSearching)
        {
            _isSearching = false;
            if (Sched.Idle.TransitionFromSearching())
            {
                // The last searcher found work: wake another worker to look for more.
                Sched.NotifyParked();
            }
        }

        ctx.Budget = RuntimeContext.InitialBudget;
        Sched.ExecuteSafe(item, ctx);
        PollCount++;
        if (!ReferenceEquals(ctx.Worker, this))
        {
            return false;
        }

        for (int i = 0; i < MaxLifoPolls; i++)
        {
            IWorkItem? next = _lifo;
            if (next is null)
            {
                return true;
            }

            _lifo = null;
            if (ctx.Budget <= 0)
            {
                Queue.PushBack(next, Sched.Inject);
                NotifyParkedIfOthersCanHelp();
                return true;
            }

            Sched.ExecuteSafe(next, ctx);
            PollCount++;
            if (!ReferenceEquals(ctx.Worker, this))
            {
                return false;
            }
        }

        // Too many LIFO polls in a row: the slot's task waits its turn at the back.
        if (_lifo is { } leftover)
        {
            _lifo = null;
            Queue.PushBack(leftover, Sched.Inject);
            NotifyParkedIfOthersCanHelp();
        }

        return true;
    }

    private IWorkItem? NextTask()
    {
        if (_lifo is { } lifo)
        {
            // Only after a hand-off: the previous thread may have left a task here.
            _lifo = null;
            return lifo;
        }

        if (_tick % (uint)_globalQueueInterval == 0 && Sched.Inject.Pop() is { } injected)
        {
            if (!Sched.Inject.IsEmpty)
            {
                Sched.NotifyParked();
            }

            return injected;
        }

        return Queue.Pop() ?? PopInjectBatch();
    }

    private IWorkItem? PopInjectBatch()
    {
        InjectQueue inject = Sched.Inject;
        int available = inject.Count;
        if (available == 0)
        {
            return null;
        }

        int cap = Math.Min(Queue.RemainingSlots, Math.Min(MaxBatch, Queue.Capacity / 2));
        int n = Math.Min(available / Sched.WorkerCount + 1, cap);
        if (n <= 0)
        {
            return inject.Pop();
        }

        int got = inject.PopBatch(_batch, n);
        if (got == 0)
        {
            return null;
        }

        IWorkItem first = _batch[0].Item!;
        _batch[0].Item = null;
        for (int i = 1; i < got; i++)
        {
            Queue.PushBack(_batch[i].Item!, inject);
            _batch[i].Item = null;
        }

        if (got > 1 || !inject.IsEmpty)
        {
            // More work than this worker will run next: another worker may help (see ScheduleRemote).
            Sched.NotifyParked();
        }

        return first;
    }

    private IWorkItem? StealWork()
    {
        if (!_isSearching)
        {
            if (!Sched.Idle.TryTransitionToSearching())
            {
                return null;
            }

            _isSearching = true;
        }

        Worker[] workers = Sched.Workers;
        int count = workers.Length;
        int start = (int)(NextRandom() % (uint)count);
        for (int i = 0; i < count; i++)
        {
            Worker target = workers[(start + i) % count];
            if (ReferenceEquals(target, this))
            {
                continue;
            }

            if (target.Queue.StealInto(Queue) is { } stolen)
            {
                StealCount++;
                return stolen;
            }
        }

        return PopInjectBatch();
    }

    private uint NextRandom()
    {
        // xorshift32: cheap, owner-thread only.
        uint x = _rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _rng = x;
        return x;
    }

    private void Park()
    {
        // No task runs while the worker is parked: hooks and drivers see no current task.
        RuntimeContext ctx = RuntimeContext.Current;
        ctx.CurrentTask = null;
        SynchronizationContext.SetSynchronizationContext(Sched.DefaultContext);
        Sched.Options.OnThreadPark?.Invoke();
        ParkCount++;
        AccountBusy();

        bool wasLastSearcher = Sched.Idle.TransitionToParked(Index, _isSearching);
        _isSearching = false;
        if (wasLastSearcher)
        {
            Sched.NotifyIfWorkPending();
        }

        if (Sched.Clock.IsPaused)
        {
            Sched.Time.Wake(); // this worker going idle may let the paused clock auto-advance
        }

        while (true)
        {
            _inDriverPark = true;
            Parker.Park(Timeout.InfiniteTimeSpan);
            _inDriverPark = false;
            if (Sched.IsStopped)
            {
                // Stop wakes every worker; leaving the sleepers list keeps the accounting right.
                Sched.Idle.UnparkWorkerById(Index);
                _isSearching = true;
                break;
            }

            if (Sched.Time.AnyDue())
            {
                // Leave the idle state first, then fire: the woken tasks land here, and if there is more than
                // this worker will run next, it wakes another to share the load.
                _isSearching = !Sched.Idle.UnparkWorkerById(Index, searching: false);
                Sched.Time.FireDue();
                NotifyParkedIfOthersCanHelp();
                break;
            }

            if (_lifo is not null || !Queue.IsEmpty)
            {
                // Woken with work of its own (the driver's events): not searching, unless a notifier already
                // counted it as searching; one wake of another worker if there is more than it will run next
                // (Tokio's transition_from_parked and should_notify_others).
                _isSearching = !Sched.Idle.UnparkWorkerById(Index, searching: false);
                NotifyParkedIfOthersCanHelp();
                break;
            }

            if (!Sched.Idle.IsParked(Index))
            {
                // Notified: the notifier counted us as unparked and searching.
                _isSearching = true;
                break;
            }
        }

        _busySince = Stopwatch.GetTimestamp();
        Sched.Options.OnThreadUnpark?.Invoke();
    }
}
