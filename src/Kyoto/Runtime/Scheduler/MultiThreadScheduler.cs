using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// The work-stealing scheduler: N workers, each with a bounded local queue and a LIFO slot, one shared
/// injection queue, and Tokio's idle protocol (<see cref="Idle"/>) deciding who searches and who sleeps.
/// </summary>
/// <remarks>
/// Threads: each <see cref="Worker"/> is driven by exactly one thread at a time (its own, or the thread
/// that took it over after a <c>BlockInPlace</c>). Everything in this class that is not a worker's is
/// either immutable after construction or thread-safe (<see cref="InjectQueue"/>, <see cref="Idle"/>).
/// </remarks>
internal sealed class MultiThreadScheduler : Scheduler
{
    private readonly Worker[] _workers;
    private int _runningWorkers;
    private readonly ManualResetEventSlim _allWorkersExited = new(false);

    internal MultiThreadScheduler(RuntimeOptions options)
        : base(options)
    {
        Inject = new InjectQueue();
        Idle = new Idle(options.WorkerThreads);
        _workers = new Worker[options.WorkerThreads];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Worker(this, i);
        }

        _runningWorkers = _workers.Length;
        foreach (Worker w in _workers)
        {
            StartWorkerThread(w);
        }
    }

    internal InjectQueue Inject { get; }

    internal Idle Idle { get; }

    internal Worker[] Workers => _workers;

    internal override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;

    internal override int WorkerCount => _workers.Length;

    internal override int GlobalQueueDepth => Inject.Count;

    internal override IEnumerable<WorkerBase> AllWorkers => _workers;

    private void StartWorkerThread(Worker worker)
    {
        Thread thread = CreateThread(() =>
        {
            // A worker thread from its first instruction: BlockOn inside the start hook is refused as on the
            // worker's loop (it would block the worker before it ever ran a task).
            RuntimeContext.Current.Worker = worker;
            RunThreadStartHook();
            try
            {
                worker.Run();
            }
            finally
            {
                RunThreadStopHook();
            }
        });
        thread.UnsafeStart();
    }

    /// <summary>Hands <paramref name="worker"/> to a new thread (for <c>BlockInPlace</c>).</summary>
    internal void HandOff(Worker worker) => Blocking.Spawn(new WorkerRunItem(worker), mandatory: true);

    internal override void ScheduleRemote(IWorkItem item)
    {
        if (IsStopped)
        {
            DiscardItem(item);
            return;
        }

        // Wake a worker only when the queue goes from empty to non-empty: queued items are already owed a
        // worker, and a worker that takes some and leaves others wakes the next one (PopInjectBatch). This
        // keeps a burst of remote spawns from paying a futex wake each while the workers drain the queue.
        if (Inject.Push(item))
        {
            NotifyParked();
        }
    }

    /// <summary>Wakes one parked worker if the idle protocol says someone should come looking.</summary>
    internal void NotifyParked()
    {
        int index = Idle.WorkerToNotify();
        if (index >= 0)
        {
            _workers[index].Parker.Unpark();
        }
    }

    /// <summary>The last searcher, before parking, checks every queue once more (no lost wake-up).</summary>
    internal void NotifyIfWorkPending()
    {
        foreach (Worker w in _workers)
        {
            if (!w.Queue.IsEmpty)
            {
                NotifyParked();
                return;
            }
        }

        if (!Inject.IsEmpty)
        {
            NotifyParked();
        }
    }

    protected override bool IsIdleForAutoAdvance()
    {
        if (Idle.NumUnparked != 0 || !Inject.IsEmpty)
        {
            return false;
        }

        foreach (Worker w in _workers)
        {
            if (!w.Queue.IsEmpty)
            {
                return false;
            }
        }

        return Blocking.PendingTasks == 0;
    }

    internal void OnWorkerExited()
    {
        if (Interlocked.Decrement(ref _runningWorkers) == 0)
        {
            _allWorkersExited.Set();
        }
    }

    protected override bool DrainAbortedTasks(TimeSpan timeout)
    {
        // Workers keep running; wake them all so queued cancellations are processed promptly.
        foreach (Worker w in _workers)
        {
            w.Parker.Unpark();
        }

        return Registry.WaitEmpty(timeout);
    }

    protected override bool StopWorkers(TimeSpan timeout)
    {
        foreach (Worker w in _workers)
        {
            w.Parker.Unpark();
        }

        bool exited = _allWorkersExited.Wait(timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout);
        while (Inject.Pop() is { } item)
        {
            DiscardItem(item);
        }

        return exited;
    }

    /// <summary>Runs a handed-off worker's loop on a blocking-pool thread.</summary>
    private sealed class WorkerRunItem(Worker worker) : IWorkItem
    {
        public void Execute(RuntimeContext ctx) => worker.Run();

        public void Discard() => worker.Sched.OnWorkerDiscarded(worker);
    }

    internal void OnWorkerDiscarded(Worker worker)
    {
        worker.DiscardQueued();
        OnWorkerExited();
    }
}
