using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>
/// The continuation of an <c>await</c> on a join handle, with the task and runtime it resumes on. Pooled per
/// thread: rented when the await registers, returned when it runs, so joining allocates nothing once warm.
/// </summary>
/// <remarks>
/// Ownership: after the CAS that publishes it into <c>TaskCore._joiner</c>, the waiter belongs to whoever
/// swaps it out (completion or the joiner's abort); that party dispatches it exactly once. It is in at most
/// one queue, and returns itself to the pool before invoking the continuation.
/// </remarks>
internal sealed class JoinWaiter : IWorkItem, IThreadPoolWorkItem
{
    private const int MaxPooledPerThread = 64;

    [ThreadStatic]
    private static JoinWaiter? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    private JoinWaiter? _nextFree;
    private Action<object?>? _continuation;
    private object? _state;
    private Scheduler? _scheduler;
    private ExecutionContext? _executionContext;

    /// <summary>The task whose code awaits (null outside a task).</summary>
    internal TaskCore? Owner { get; private set; }

    internal static JoinWaiter Rent(Action<object?> continuation, object? state, TaskCore? owner, Scheduler? scheduler, ExecutionContext? ec)
    {
        JoinWaiter? waiter = t_free;
        if (waiter is not null)
        {
            t_free = waiter._nextFree;
            t_freeCount--;
            waiter._nextFree = null;
        }
        else
        {
            waiter = new JoinWaiter();
        }

        waiter._continuation = continuation;
        waiter._state = state;
        waiter.Owner = owner;
        waiter._scheduler = scheduler;
        waiter._executionContext = ec;
        return waiter;
    }

    /// <summary>Queues the continuation on the awaiting code's runtime, or the thread pool outside any runtime.</summary>
    internal void Dispatch(bool isYield)
    {
        if (_scheduler is { } scheduler)
        {
            scheduler.Schedule(this, isYield);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <inheritdoc />
    public void Execute()
    {
        Action<object?> continuation = _continuation!;
        object? state = _state;
        TaskCore? owner = Owner;
        Scheduler? scheduler = _scheduler;
        ExecutionContext? ec = _executionContext;
        Return();

        if (scheduler is not null)
        {
            RuntimeContext.Current.EnterTask(owner, scheduler);
        }

        if (ec is null)
        {
            continuation(state);
        }
        else
        {
            ExecutionContext.Run(ec, static s => { var (c, st) = ((Action<object?>, object?))s!; c(st); }, (continuation, state));
        }
    }

    /// <inheritdoc />
    public void Discard() => Return();

    internal void Return()
    {
        _continuation = null;
        _state = null;
        Owner = null;
        _scheduler = null;
        _executionContext = null;
        if (t_freeCount < MaxPooledPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
    }
}
