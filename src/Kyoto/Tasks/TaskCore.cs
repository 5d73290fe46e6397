using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>A Kyoto awaitable a task can be parked on, which abort can wake.</summary>
internal interface IAbortable
{
    /// <summary>
    /// If this awaitable is still pending on behalf of <paramref name="owner"/>, completes it so that the
    /// owner resumes and throws <see cref="TaskAbortedException"/>. Must do nothing otherwise.
    /// </summary>
    void AbortWaiter(TaskCore owner);
}

/// <summary>Synchronous completion callback of a task (used by <c>JoinSet</c> and <c>BlockOn</c>).</summary>
internal interface IJoinListener
{
    /// <summary>Called once, on the thread that completed the task, after its outcome is published.</summary>
    void OnTaskCompleted(TaskCore task);
}

/// <summary>
/// A spawned task: the unit the scheduler runs, the <see cref="SynchronizationContext"/> its code sees, and
/// the source its join handle awaits.
/// </summary>
/// <remarks>
/// <para>.NET drives an <c>async</c> method through continuations, not polls. The task object runs the
/// user's delegate once (its first poll) on a worker. Every later step of the method is a continuation:
/// a Kyoto awaitable queues it directly, tagged with its owning task (captured when the await began);
/// a foreign <see cref="Task"/> posts it to <see cref="SynchronizationContext.Current"/>, which is this
/// object while the task runs, so it too comes back tagged. That is how abort, the coop budget, task ids
/// and task-locals follow the task across awaits.</para>
/// <para>Invariants:</para>
/// <list type="number">
/// <item><c>_status</c> moves NotStarted → Running → Completed. The outcome, result and exception are written
/// by the one thread that wins the completing flag, before <c>_status</c> becomes Completed (release);
/// readers check <c>_status</c> first (acquire).</item>
/// <item>The object is kept small because every spawn allocates one and a burst of spawned tasks survives a
/// gen0 collection: fields whose lives do not overlap share a slot (the user's delegate, then the task it
/// returned; the captured execution context, then the exception), and the flags share one int.</item>
/// <item><c>_joiner</c> is null, an <see cref="ActionWorkItem"/> (one awaiting continuation, fully written
/// before it is published by CAS), an <see cref="IJoinListener"/>, or the completed sentinel (terminal,
/// set by completion). Whoever swaps a waiter or listener out owns delivering it: completion, or the
/// joiner's own abort (which swaps it back to null).</item>
/// <item>The object is queued once, at spawn. Join continuations travel in their own pooled
/// <see cref="ActionWorkItem"/>, so the task object stays small and is never in two queues.</item>
/// <item>Abort is sticky (the abort flag never resets) and cooperative: it cancels the task's token
/// and wakes the Kyoto awaitable it is parked on (<see cref="SetParkedOn"/>); every later Kyoto await throws.
/// Abort is the token's only canceller (its source never leaves this object), which is why a wait of this
/// task on its own token needs no registration on it (<see cref="IsOwnToken"/>).</item>
/// </list>
/// </remarks>
internal abstract class TaskCore : SynchronizationContext, IWorkItem, IAbortable
{
    private const int StatusNotStarted = 0;
    private const int StatusRunning = 1;
    private const int StatusCompleted = 2;

    private protected const int OutcomeSucceeded = 1;
    private protected const int OutcomeFaulted = 2;
    private protected const int OutcomeCancelled = 3;

    private static readonly object s_joinCompleted = new();
    private static readonly ContextCallback s_firstPoll = static s => ((TaskCore)s!).FirstPoll();
    private static readonly ExecutionContext? s_defaultExecutionContext = CaptureDefaultExecutionContext();

    private const int FlagCompleting = 1;
    private const int FlagAbort = 2;

    private volatile int _status;
    private int _flags;
    private byte _outcome;
    private CancellationTokenSource? _cts;
    private object? _joiner;
    // Before start: the user's delegate; after the first poll: the Task it returned (until completion).
    private object? _bodyOrTask;

    // Before start: the ExecutionContext to run in (null for the default); after completion: the exception.
    private object? _ecOrException;

    protected TaskCore(Scheduler scheduler, Delegate body, bool flowExecutionContext)
    {
        ArgumentNullException.ThrowIfNull(body);
        Scheduler = scheduler;
        _bodyOrTask = body;
        if (flowExecutionContext)
        {
            ExecutionContext? ec = ExecutionContext.Capture();
            _ecOrException = ReferenceEquals(ec, s_defaultExecutionContext) ? null : ec;
        }
    }

    /// <summary>The runtime the task belongs to.</summary>
    internal Scheduler Scheduler { get; }

    /// <summary>Process-wide unique id, assigned at spawn.</summary>
    internal ulong Id;

    /// <summary>The Kyoto awaitable the task is parked on (may be stale; <see cref="IAbortable.AbortWaiter"/> checks).</summary>
    private IAbortable? _parkedOn;

    /// <summary>
    /// Records the Kyoto awaitable the task is about to park on. Abort sets its flag and then reads this field;
    /// the task writes this field and then reads the flag, both with full fences, so an abort that races with
    /// parking is seen by at least one side and the parked task is always woken.
    /// </summary>
    internal void SetParkedOn(IAbortable waiter)
    {
        Interlocked.Exchange(ref _parkedOn, waiter);
        if (IsAbortRequested)
        {
            waiter.AbortWaiter(this);
        }
    }

    /// <summary>Registry links; see <see cref="TaskRegistry"/>. Guarded by the registry shard's lock.</summary>
    internal TaskCore? RegistryPrev, RegistryNext;

    /// <summary>Guarded by the registry shard's lock.</summary>
    internal bool IsRegistered;

    /// <summary>Nesting depth of <c>KyotoTask.Unconstrained</c>; touched only by the task's own code.</summary>
    internal int UnconstrainedDepth;

    internal bool IsCompleted => _status == StatusCompleted;

    internal bool IsStarted => _status != StatusNotStarted;

    internal bool IsAbortRequested => (Volatile.Read(ref _flags) & FlagAbort) != 0;

    /// <summary>The user's delegate, until the first poll.</summary>
    private protected Delegate? Body => _bodyOrTask as Delegate;

    private Task? UserTask => _bodyOrTask as Task;

    private Exception? StoredException => _ecOrException as Exception;

    /// <summary>
    /// True if <paramref name="token"/> is this task's own <see cref="Token"/>. Its only canceller is
    /// <see cref="Abort"/>, which also wakes the Kyoto awaitable the task is parked on, so a wait of this task
    /// needs no registration on it (<see cref="KyotoValueTaskSource{T}.RegisterCancellation"/>).
    /// </summary>
    internal bool IsOwnToken(CancellationToken token) => Volatile.Read(ref _cts) is { } cts && token == cts.Token;

    /// <summary>The task's cancellation token: cancelled when the task is aborted. Created on first use.</summary>
    internal CancellationToken Token
    {
        get
        {
            CancellationTokenSource? cts = Volatile.Read(ref _cts);
            if (cts is null)
            {
                var created = new CancellationTokenSource();
                cts = Interlocked.CompareExchange(ref _cts, created, null);
                if (cts is null)
                {
                    cts = created;
                    if (IsAbortRequested)
                    {
                        CancelToken(cts);
                    }
                }
                else
                {
                    created.Dispose();
                }
            }

            return cts.Token;
        }
    }

    private static ExecutionContext? CaptureDefaultExecutionContext()
    {
        // A thread started without flowing has the default context; Capture returns that singleton.
        ExecutionContext? ec = null;
        var thread = new Thread(() => ec = ExecutionContext.Capture());
        thread.UnsafeStart();
        thread.Join();
        return ec;
    }

    // ---------------------------------------------------------------- running

    /// <inheritdoc />
    public void Execute(RuntimeContext ctx)
    {
        Debug.Assert(_status == StatusNotStarted, "a task object is queued only to start");
        Start(ctx);
    }

    /// <inheritdoc />
    public void Discard()
    {
        if (_status == StatusNotStarted)
        {
            _status = StatusRunning;
            CompleteWith(OutcomeCancelled, new TaskAbortedException(new TaskId(Id), "The runtime shut down before the task started."));
        }
    }

    private void Start(RuntimeContext ctx)
    {
        _status = StatusRunning;
        ctx.EnterTask(this, Scheduler);
        if (IsAbortRequested || Scheduler.IsShuttingDown)
        {
            CompleteWith(OutcomeCancelled, new TaskAbortedException(new TaskId(Id)));
            return;
        }

        if (_ecOrException is ExecutionContext ec)
        {
            _ecOrException = null;
            ExecutionContext.Run(ec, s_firstPoll, this);
        }
        else
        {
            FirstPoll();
        }
    }

    /// <summary>
    /// Runs the user's delegate. Returns the task to observe, or null when the body completed this core
    /// itself (blocking bodies, synchronously completed value tasks).
    /// </summary>
    private protected abstract Task? InvokeBody();

    /// <summary>Stores the result of a successfully completed user task.</summary>
    private protected abstract void SetResultFrom(Task task);

    private void FirstPoll()
    {
        Task? task;
        try
        {
            task = InvokeBody();
        }
        catch (Exception e)
        {
            CompleteFromException(e);
            return;
        }

        if (task is null)
        {
            return;
        }

        if (task.IsCompleted)
        {
            CompleteFromTask(task);
            return;
        }

        _bodyOrTask = task;
        if (!Scheduler.Registry.TryAdd(this))
        {
            Abort(); // shutdown closed the registry meanwhile: this task is part of the sweep
        }

        // Observe completion with the BCL's captured-context continuation: SynchronizationContext.Current is
        // this task, so completion on a worker running this task continues inline, and completion anywhere
        // else is posted back here (Post). Either way the callback runs with Current == this task, which lets
        // one static delegate serve every task (no per-task delegate allocation).
        if (!ReferenceEquals(SynchronizationContext.Current, this))
        {
            SynchronizationContext.SetSynchronizationContext(this);
        }

        task.GetAwaiter().UnsafeOnCompleted(s_onUserTaskCompleted);
    }

    private static readonly Action s_onUserTaskCompleted = static () =>
    {
        // UserTask is null when the task was already completed another way: abandoned by a shutdown whose
        // time ran out while this code was still running on a worker. Nothing is left to do then.
        if (SynchronizationContext.Current is TaskCore self && self.UserTask is { } task)
        {
            self.CompleteFromTask(task);
        }
    };

    private void CompleteFromTask(Task task)
    {
        if (task.IsCompletedSuccessfully)
        {
            if (!TryBeginComplete())
            {
                return;
            }

            SetResultFrom(task);
            FinishComplete(OutcomeSucceeded, null);
            return;
        }

        Exception error;
        try
        {
            task.GetAwaiter().GetResult();
            error = new InvalidOperationException("The task neither succeeded nor failed.");
        }
        catch (Exception e)
        {
            error = e;
        }

        CompleteFromException(error);
    }

    private protected void CompleteFromException(Exception e)
        => CompleteWith(e is OperationCanceledException ? OutcomeCancelled : OutcomeFaulted, e);

    private protected bool TryBeginComplete() => (Interlocked.Or(ref _flags, FlagCompleting) & FlagCompleting) == 0;

    private protected void CompleteWith(int outcome, Exception? error)
    {
        if (TryBeginComplete())
        {
            FinishComplete(outcome, error);
        }
    }

    /// <summary>Completes a task that did not unwind before shutdown ended (step 5 of the protocol).</summary>
    internal void CompleteAbandoned()
        => CompleteWith(OutcomeCancelled, new TaskAbortedException(new TaskId(Id), "The runtime shut down before the task finished."));

    private protected void FinishComplete(int outcome, Exception? error)
    {
        _outcome = (byte)outcome;
        _ecOrException = error;
        _bodyOrTask = null;
        _status = StatusCompleted;

        if (IsRegistered)
        {
            Scheduler.Registry.Remove(this);
        }

        Scheduler.OnTaskCompleted();
        Volatile.Write(ref _parkedOn, null);

        if (outcome == OutcomeFaulted && error is not null)
        {
            Scheduler.OnUnhandledException(error);
        }

        object? joiner = Interlocked.Exchange(ref _joiner, s_joinCompleted);
        if (joiner is ActionWorkItem waiter)
        {
            waiter.Dispatch(isYield: false);
        }
        else if (joiner is IJoinListener listener)
        {
            listener.OnTaskCompleted(this);
        }
    }

    // ---------------------------------------------------------------- abort

    /// <summary>Requests cooperative cancellation (idempotent).</summary>
    internal void Abort()
    {
        if ((Interlocked.Or(ref _flags, FlagAbort) & FlagAbort) != 0 || IsCompleted)
        {
            return;
        }

        if (Volatile.Read(ref _cts) is { } cts)
        {
            CancelToken(cts);
        }

        Volatile.Read(ref _parkedOn)?.AbortWaiter(this);
    }

    private void CancelToken(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (AggregateException e)
        {
            Scheduler.OnUnhandledException(e);
        }
    }

    // ---------------------------------------------------------------- joining

    /// <summary>Registers the continuation of an <c>await</c> on this task's join handle.</summary>
    internal void RegisterJoiner(Action<object?> continuation, object? state, bool flowExecutionContext, bool yieldIfCompleted)
    {
        Scheduler? scheduler = RuntimeContext.ContinuationScheduler(out TaskCore? owner);
        if (scheduler is null)
        {
            RuntimeContext.WrapForForeignContext(ref continuation, ref state);
        }

        ActionWorkItem waiter = ActionWorkItem.Rent(continuation, state, owner, scheduler, flowExecutionContext ? ExecutionContext.Capture() : null);
        object? previous = Interlocked.CompareExchange(ref _joiner, waiter, null);
        if (previous is null)
        {
            owner?.SetParkedOn(this);
            return;
        }

        // Completed: resume now. Already awaited by someone else: resume now too, and GetResult, seeing the
        // task unfinished and the awaiter not aborted, throws InvalidOperationException. (Throwing from
        // OnCompleted itself would escape to the thread pool and crash the process.)
        waiter.Dispatch(ReferenceEquals(previous, s_joinCompleted) && yieldIfCompleted);
    }

    /// <summary>Makes <paramref name="listener"/> the task's joiner. Called once, before the task can be awaited.</summary>
    internal void SetListener(IJoinListener listener)
    {
        object? previous = Interlocked.CompareExchange(ref _joiner, listener, null);
        if (ReferenceEquals(previous, s_joinCompleted))
        {
            listener.OnTaskCompleted(this);
        }
        else if (previous is not null)
        {
            throw new InvalidOperationException($"Task {Id} already has a joiner.");
        }
    }

    /// <inheritdoc />
    void IAbortable.AbortWaiter(TaskCore owner)
    {
        // The joiner (owner) is aborted while awaiting this task: take its waiter back and resume it now;
        // its GetResult sees this task unfinished and throws TaskAbortedException.
        if (Volatile.Read(ref _joiner) is ActionWorkItem waiter
            && ReferenceEquals(waiter.Owner, owner)
            && ReferenceEquals(Interlocked.CompareExchange(ref _joiner, null, waiter), waiter))
        {
            waiter.Dispatch(isYield: false);
        }
    }

    /// <summary>Throws what awaiting the join handle of an unsuccessful task throws.</summary>
    private protected void ThrowIfNotSucceeded()
    {
        if (!IsCompleted)
        {
            // Resumed before the task finished: either the awaiting task was aborted, or the handle was
            // already being awaited by another waiter.
            if (RuntimeContext.CurrentOrNull?.CurrentTask is { IsAbortRequested: true } aborted)
            {
                throw new TaskAbortedException(new TaskId(aborted.Id));
            }

            throw new InvalidOperationException(
                $"Task {Id} is already being awaited. A join handle can be awaited by one waiter at a time; use AbortHandle or a JoinSet to share a task.");
        }

        switch (_outcome)
        {
            case OutcomeSucceeded:
                return;
            case OutcomeCancelled:
                throw new JoinException(new TaskId(Id), isCancelled: true, StoredException);
            default:
                throw new JoinException(new TaskId(Id), isCancelled: false, StoredException);
        }
    }

    /// <summary>For <c>BlockOn</c>: rethrows the task's own exception, not a <see cref="JoinException"/>.</summary>
    private protected void RethrowIfNotSucceeded()
    {
        Debug.Assert(IsCompleted, "BlockOn reads a completed task");
        if (_outcome != OutcomeSucceeded)
        {
            ExceptionDispatchInfo.Throw(StoredException!);
        }
    }

    // ---------------------------------------------------------------- SynchronizationContext

    /// <inheritdoc />
    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        RuntimeContext? ctx = RuntimeContext.CurrentOrNull;

        // A post from the task's own code (Task.Yield) goes to the back of the queue; a wake goes to the front.
        bool isYield = ctx is not null && ReferenceEquals(ctx.CurrentTask, this);
        Scheduler.Schedule(ActionWorkItem.RentPosted(d, state, this, Scheduler), isYield);
    }

    /// <inheritdoc />
    public override void Send(SendOrPostCallback d, object? state) => Scheduler.Send(this, d, state);

    /// <inheritdoc />
    public override SynchronizationContext CreateCopy() => this;

    /// <inheritdoc />
    public override string ToString() => $"Kyoto task {Id}";
}
