using System.Diagnostics;
using Kyoto.Scheduling;

namespace Kyoto;

/// <summary>
/// A view of a runtime's scheduler counters. Reading is cheap and lock-free except where noted; values
/// are snapshots that may be slightly out of date while workers run.
/// </summary>
public readonly struct RuntimeMetrics
{
    private readonly Scheduler _scheduler;

    internal RuntimeMetrics(Scheduler scheduler) => _scheduler = scheduler;

    /// <summary>Worker threads (1 for the current-thread flavour).</summary>
    public int WorkerCount => _scheduler.WorkerCount;

    /// <summary>Tasks spawned and not yet finished (blocking tasks included).</summary>
    public long AliveTasks => _scheduler.AliveTasks;

    /// <summary>Items waiting in the global injection queue.</summary>
    public int GlobalQueueDepth => _scheduler.GlobalQueueDepth;

    /// <summary>Threads in the blocking pool (takes the pool's lock).</summary>
    public int BlockingThreads => _scheduler.Blocking.ThreadCount;

    /// <summary>Idle threads in the blocking pool (takes the pool's lock).</summary>
    public int IdleBlockingThreads => _scheduler.Blocking.IdleThreadCount;

    /// <summary>Blocking tasks waiting for a thread (takes the pool's lock).</summary>
    public int BlockingQueueDepth => _scheduler.Blocking.QueueDepth;

    /// <summary>Times worker <paramref name="worker"/> parked for lack of work.</summary>
    public long GetWorkerParkCount(int worker) => Pick(worker, w => Volatile.Read(ref w.ParkCount), c => Volatile.Read(ref c.ParkCount));

    /// <summary>Times worker <paramref name="worker"/> stole work from another worker.</summary>
    public long GetWorkerStealCount(int worker) => Pick(worker, w => Volatile.Read(ref w.StealCount), _ => 0);

    /// <summary>Work items (task starts and resumptions) worker <paramref name="worker"/> has run.</summary>
    public long GetWorkerPollCount(int worker) => Pick(worker, w => Volatile.Read(ref w.PollCount), c => Volatile.Read(ref c.PollCount));

    /// <summary>
    /// Time worker <paramref name="worker"/> spent not parked, up to its last park (or until it stopped, once the
    /// runtime has shut down). Zero on the current-thread runtime.
    /// </summary>
    public TimeSpan GetWorkerTotalBusyDuration(int worker)
        => Stopwatch.GetElapsedTime(0, Pick(worker, w => Volatile.Read(ref w.BusyTicks), _ => 0));

    /// <summary>Items in worker <paramref name="worker"/>'s local queue.</summary>
    public int GetWorkerLocalQueueDepth(int worker) => (int)Pick(worker, w => w.Queue.Count, c => c.LocalDepth);

    private long Pick(int worker, Func<Worker, long> multi, Func<CurrentThreadScheduler.Core, long> single)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(worker);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(worker, WorkerCount);
        return _scheduler switch
        {
            MultiThreadScheduler m => multi(m.Workers[worker]),
            CurrentThreadScheduler c => single(c.TheCore),
            _ => 0,
        };
    }
}
