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
/// by the one thread that wins <c>_completing</c>, before <c>_status</c> becomes Completed (release);
/// readers check <c>_status</c> first (acquire).</item>
/// <item><c>_joiner</c> is null, the await marker (one awaiting continuation, in the <c>_join*</c> fields,
/// written before the marker is published by CAS), an <see cref="IJoinListener"/>, or the completed
/// sentinel (terminal, set by completion). Whoever swaps a marker or listener out owns delivering it.</item>
/// <item>The object is queued at most once at a time: at spawn (NotStarted), and after completion to
/// deliver the join continuation. A joiner woken by its own abort before completion is delivered through a
/// separate pooled item, never through this object.</item>
/// <item>Abort is sticky (<c>_abortRequested</c> never resets) and cooperative: it cancels the task's token
/// and wakes the Kyoto awaitable in <see cref="ParkedOn"/>; every later Kyoto await throws.</item>
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
    private static readonly object s_awaitMarker = new();
    private static readonly ContextCallback s_firstPoll = static s => ((TaskCore)s!).FirstPoll();
    private static readonly ExecutionContext? s_defaultExecutionContext = CaptureDefaultExecutionContext();

    private volatile int _status;
    private int _completing;
    private int _abortRequested;
    private int _outcome;
    private CancellationTokenSource? _cts;
    private object? _joiner;
    private Action<object?>? _joinContinuation;
    private object? _joinState;
    private TaskCore? _joinOwner;
    private Scheduler? _joinScheduler;
    private ExecutionContext? _joinExecutionContext;
    private ExecutionContext? _executionContext;
    private Task? _userTask;
    private Exception? _exception;

    protected TaskCore(Scheduler scheduler, bool flowExecutionContext)
    {
        Scheduler = scheduler;
        if (flowExecutionContext)
        {
            ExecutionContext? ec = ExecutionContext.Capture();
            _executionContext = ReferenceEquals(ec, s_defaultExecutionContext) ? null : ec;
        }
    }

    /// <summary>The runtime the task belongs to.</summary>
    internal Scheduler Scheduler { get; }

    /// <summary>Process-wide unique id, assigned at spawn.</summary>
    internal ulong Id;

    /// <summary>The Kyoto awaitable the task is parked on (may be stale; <see cref="IAbortable.AbortWaiter"/> checks).</summary>
    internal volatile IAbortable? ParkedOn;

    /// <summary>Registry links; see <see cref="TaskRegistry"/>. Guarded by the registry shard's lock.</summary>
    internal TaskCore? RegistryPrev, RegistryNext;

    /// <summary>Guarded by the registry shard's lock.</summary>
    internal bool IsRegistered;

    /// <summary>Nesting depth of <c>KyotoTask.Unconstrained</c>; touched only by the task's own code.</summary>
    internal int UnconstrainedDepth;

    internal bool IsCompleted => _status == StatusCompleted;

    internal bool IsStarted => _status != StatusNotStarted;

    internal bool IsAbortRequested => Volatile.Read(ref _abortRequested) != 0;

    private protected int Outcome => _outcome;

    private protected Exception? StoredException => _exception;

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
    public void Execute()
    {
        if (_status == StatusNotStarted)
        {
            Start();
        }
        else
        {
            DeliverJoin();
        }
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

    private void Start()
    {
        _status = StatusRunning;
        RuntimeContext.Current.EnterTask(this, Scheduler);
        if (IsAbortRequested || Scheduler.IsShuttingDown)
        {
            CompleteWith(OutcomeCancelled, new TaskAbortedException(new TaskId(Id)));
            return;
        }

        ExecutionContext? ec = _executionContext;
        if (ec is null)
        {
            FirstPoll();
        }
        else
        {
            _executionContext = null;
            ExecutionContext.Run(ec, s_firstPoll, this);
        }
    }

    /// <summary>
    /// Runs the user's delegate. Returns the task to observe, or null when the body completed this core
    /// itself (blocking bodies, synchronously completed value tasks).
    /// </summary>
    private protected abstract Task? InvokeBody();

    /// <summary>Stores the result of a successfully completed user task.</summary>
    private protected abstract void SetResultFrom(Task task);

    /// <summary>Drops the user's delegate once it has run, so the task keeps nothing alive.</summary>
    private protected abstract void ClearBody();

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

        _userTask = task;
        if (!Scheduler.Registry.TryAdd(this))
        {
            Abort(); // shutdown closed the registry meanwhile: this task is part of the sweep
        }

        // SynchronizationContext.Current is this task: completion on a worker running this task continues
        // inline; completion elsewhere is posted back to the runtime.
        task.GetAwaiter().UnsafeOnCompleted(OnUserTaskCompleted);
    }

    private void OnUserTaskCompleted()
    {
        Task? task = _userTask;
        if (task is not null)
        {
            CompleteFromTask(task);
        }
    }

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

    private protected bool TryBeginComplete() => Interlocked.Exchange(ref _completing, 1) == 0;

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
        _outcome = outcome;
        _exception = error;
        _userTask = null;
        ClearBody();
        _status = StatusCompleted;

        if (IsRegistered)
        {
            Scheduler.Registry.Remove(this);
        }

        Scheduler.OnTaskCompleted();
        ParkedOn = null;

        if (outcome == OutcomeFaulted && error is not null)
        {
            Scheduler.OnUnhandledException(error);
        }

        object? joiner = Interlocked.Exchange(ref _joiner, s_joinCompleted);
        if (ReferenceEquals(joiner, s_awaitMarker))
        {
            DispatchJoin(isYield: false);
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
        if (Interlocked.Exchange(ref _abortRequested, 1) != 0 || IsCompleted)
        {
            return;
        }

        if (Volatile.Read(ref _cts) is { } cts)
        {
            CancelToken(cts);
        }

        ParkedOn?.AbortWaiter(this);
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

        _joinContinuation = continuation;
        _joinState = state;
        _joinOwner = owner;
        _joinScheduler = scheduler;
        _joinExecutionContext = flowExecutionContext ? ExecutionContext.Capture() : null;
        object? previous = Interlocked.CompareExchange(ref _joiner, s_awaitMarker, null);
        if (previous is null)
        {
            if (owner is not null)
            {
                owner.ParkedOn = this;
            }

            return;
        }

        if (ReferenceEquals(previous, s_joinCompleted))
        {
            DispatchJoin(yieldIfCompleted);
            return;
        }

        _joinContinuation = null;
        _joinState = null;
        _joinOwner = null;
        throw new InvalidOperationException(
            $"Task {Id} is already being awaited. A join handle can be awaited by one waiter at a time; use AbortHandle or a JoinSet to share a task.");
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

    private void DispatchJoin(bool isYield)
    {
        Scheduler? scheduler = _joinScheduler;
        if (scheduler is not null)
        {
            scheduler.Schedule(this, isYield);
        }
        else
        {
            // Awaited from outside any runtime: continue on the thread pool, like a BCL task would.
            ThreadPool.UnsafeQueueUserWorkItem(static s => ((TaskCore)s!).DeliverJoin(), this, preferLocal: false);
        }
    }

    private void DeliverJoin()
    {
        Action<object?>? continuation = _joinContinuation;
        object? state = _joinState;
        TaskCore? owner = _joinOwner;
        Scheduler? scheduler = _joinScheduler;
        ExecutionContext? ec = _joinExecutionContext;
        _joinContinuation = null;
        _joinState = null;
        _joinOwner = null;
        _joinExecutionContext = null;
        if (continuation is null)
        {
            return;
        }

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
    void IAbortable.AbortWaiter(TaskCore owner)
    {
        // The joiner (owner) is aborted while awaiting this task: give it its continuation back now.
        Action<object?>? continuation = _joinContinuation;
        object? state = _joinState;
        Scheduler? scheduler = _joinScheduler;
        if (!ReferenceEquals(_joinOwner, owner) || continuation is null || scheduler is null)
        {
            return;
        }

        if (!ReferenceEquals(Interlocked.CompareExchange(ref _joiner, null, s_awaitMarker), s_awaitMarker))
        {
            return; // completed meanwhile: completion delivers it
        }

        _joinContinuation = null;
        _joinState = null;
        _joinOwner = null;
        ExecutionContext? ec = _joinExecutionContext;
        _joinExecutionContext = null;
        scheduler.Schedule(ActionWorkItem.Rent(continuation, state, owner, scheduler, ec), isYield: false);
    }

    /// <summary>Throws what awaiting the join handle of an unsuccessful task throws.</summary>
    private protected void ThrowIfNotSucceeded()
    {
        if (!IsCompleted)
        {
            // Only a joiner woken by its own abort gets here.
            throw new TaskAbortedException(RuntimeContext.CurrentOrNull?.CurrentTask is { } t ? new TaskId(t.Id) : null);
        }

        switch (_outcome)
        {
            case OutcomeSucceeded:
                return;
            case OutcomeCancelled:
                throw new JoinException(new TaskId(Id), isCancelled: true, _exception);
            default:
                throw new JoinException(new TaskId(Id), isCancelled: false, _exception);
        }
    }

    /// <summary>For <c>BlockOn</c>: rethrows the task's own exception, not a <see cref="JoinException"/>.</summary>
    private protected void RethrowIfNotSucceeded()
    {
        Debug.Assert(IsCompleted, "BlockOn reads a completed task");
        if (_outcome != OutcomeSucceeded)
        {
            ExceptionDispatchInfo.Throw(_exception!);
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
        Scheduler.Schedule(new PostedWorkItem(this, Scheduler, d, state), isYield);
    }

    /// <inheritdoc />
    public override void Send(SendOrPostCallback d, object? state) => Scheduler.Send(this, d, state);

    /// <inheritdoc />
    public override SynchronizationContext CreateCopy() => this;

    /// <inheritdoc />
    public override string ToString() => $"Kyoto task {Id}";
}
