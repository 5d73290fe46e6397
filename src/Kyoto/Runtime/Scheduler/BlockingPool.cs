using System.Diagnostics;

namespace Kyoto.Scheduling;

/// <summary>
/// Threads for blocking work (<c>SpawnBlocking</c>) and for workers handed off by <c>BlockInPlace</c>.
/// Threads start on demand up to <c>MaxBlockingThreads</c> and exit after <c>ThreadKeepAlive</c> idle.
/// </summary>
/// <remarks>
/// <para>Invariants (all fields under <see cref="_lock"/>, which is also the condition variable):</para>
/// <list type="number">
/// <item><c>_numThreads</c> counts live pool threads; <c>_numIdle</c> those waiting for work;
/// <c>_numNotify</c> wake-ups sent to idle threads and not yet consumed, so a pulse is never taken for
/// a time-out and no queued item waits while an idle thread sleeps.</item>
/// <item>A new thread starts only when no thread is idle and the cap allows; otherwise items queue.</item>
/// <item>After shutdown, only mandatory items (replacement workers) are accepted; queued blocking tasks
/// are discarded (they complete as cancelled); running ones are waited for until the timeout.</item>
/// </list>
/// </remarks>
internal sealed class BlockingPool
{
    private readonly object _lock = new();
    private readonly Queue<IWorkItem> _queue = new();
    private readonly Scheduler _scheduler;
    private readonly int _maxThreads;
    private readonly TimeSpan _keepAlive;
    private int _numThreads;
    private int _numIdle;
    private int _numNotify;
    private int _numRunningTasks;
    private bool _shutdown;

    internal BlockingPool(Scheduler scheduler, RuntimeOptions options)
    {
        _scheduler = scheduler;
        _maxThreads = options.MaxBlockingThreads;
        _keepAlive = options.ThreadKeepAlive;
    }

    internal int ThreadCount
    {
        get
        {
            lock (_lock)
            {
                return _numThreads;
            }
        }
    }

    internal int IdleThreadCount
    {
        get
        {
            lock (_lock)
            {
                return _numIdle;
            }
        }
    }

    /// <summary>Blocking tasks queued or running (not counting handed-off workers). Takes the lock.</summary>
    internal int PendingTasks
    {
        get
        {
            lock (_lock)
            {
                return _numRunningTasks + _queue.Count;
            }
        }
    }

    internal int QueueDepth
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Queues an item; false after shutdown unless <paramref name="mandatory"/>.</summary>
    internal bool Spawn(IWorkItem item, bool mandatory)
    {
        lock (_lock)
        {
            if (_shutdown && !mandatory)
            {
                return false;
            }

            if (_numIdle > _numNotify)
            {
                _queue.Enqueue(item);
                _numNotify++;
                Monitor.Pulse(_lock);
                return true;
            }

            if (_numThreads >= _maxThreads && !mandatory)
            {
                _queue.Enqueue(item);
                return true; // queued until a thread frees up
            }

            _numThreads++;
            if (item is Kyoto.Tasks.TaskCore)
            {
                _numRunningTasks++;
            }
        }

        // The new thread runs this item first, not the head of the queue: a mandatory item (a worker handed off
        // by BlockInPlace) gets a thread beyond the cap, and must not leave it to an ordinary blocking task queued
        // at the cap while the handed-off worker's queue waits behind the rest.
        Thread thread = _scheduler.CreateThread(() => Run(item));
        thread.UnsafeStart();
        return true;
    }

    private void Run(IWorkItem first)
    {
        RuntimeContext ctx = RuntimeContext.Current;
        ctx.Scheduler = _scheduler;
        ctx.IsBlockingThread = true;
        _scheduler.RunThreadStartHook();
        try
        {
            IWorkItem? item = first; // counted in _numRunningTasks by Spawn
            while (item is not null)
            {
                ctx.Budget = RuntimeContext.InitialBudget;
                _scheduler.ExecuteSafe(item, ctx);
                if (item is Kyoto.Tasks.TaskCore)
                {
                    bool nowIdle;
                    lock (_lock)
                    {
                        nowIdle = --_numRunningTasks == 0 && _queue.Count == 0;
                    }

                    if (nowIdle && _scheduler.Clock.IsPaused)
                    {
                        _scheduler.Time.Wake(); // the paused clock may auto-advance now
                    }
                }

                ctx.CurrentTask = null;
                ctx.Worker = null;
                SynchronizationContext.SetSynchronizationContext(null);
                item = TakeNext();
            }
        }
        finally
        {
            lock (_lock)
            {
                _numThreads--;
                Monitor.PulseAll(_lock);
            }

            ctx.Scheduler = null;
            ctx.IsBlockingThread = false;
            _scheduler.RunThreadStopHook();
        }
    }

    /// <summary>The next queued item, waiting up to the keep-alive for one; null when the thread should exit.</summary>
    private IWorkItem? TakeNext()
    {
        lock (_lock)
        {
            while (_queue.Count == 0)
            {
                if (_shutdown)
                {
                    return null;
                }

                _numIdle++;
                bool signalled = Monitor.Wait(_lock, _keepAlive);
                _numIdle--;
                if (_numNotify > 0)
                {
                    _numNotify--;
                }
                else if (!signalled && _queue.Count == 0)
                {
                    return null; // kept alive long enough with nothing to do
                }
            }

            IWorkItem item = _queue.Dequeue();
            if (item is Kyoto.Tasks.TaskCore)
            {
                _numRunningTasks++;
            }

            return item;
        }
    }

    /// <summary>Refuses new work, discards queued items, waits for running ones. True if all finished.</summary>
    internal bool Shutdown(TimeSpan timeout)
    {
        List<IWorkItem> discarded;
        lock (_lock)
        {
            _shutdown = true;
            discarded = [.. _queue];
            _queue.Clear();
            Monitor.PulseAll(_lock);
        }

        foreach (IWorkItem item in discarded)
        {
            Scheduler.DiscardItem(item);
        }

        var clock = Stopwatch.StartNew();
        lock (_lock)
        {
            // A thread that runs this shutdown from inside the pool does not wait for itself.
            int self = _scheduler.IsOnBlockingThread ? 1 : 0;
            while (_numThreads > self)
            {
                TimeSpan left = timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout - clock.Elapsed;
                if (timeout >= TimeSpan.Zero && left <= TimeSpan.Zero)
                {
                    return false;
                }

                Monitor.Wait(_lock, left);
            }
        }

        return true;
    }
}
