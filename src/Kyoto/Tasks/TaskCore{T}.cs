using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>The result type of tasks that return nothing.</summary>
internal readonly struct VoidResult;

/// <summary>A task producing a <typeparamref name="T"/>; see <see cref="TaskCore"/> for the protocol.</summary>
internal sealed class TaskCore<T> : TaskCore
{
    private const byte KindTask = 0;
    private const byte KindTaskOfT = 1;
    private const byte KindValueTask = 2;
    private const byte KindValueTaskOfT = 3;
    private const byte KindBlockingAction = 4;
    private const byte KindBlockingFunc = 5;

    private readonly byte _kind;
    private T? _result;

    private TaskCore(Scheduler scheduler, Delegate body, byte kind, bool flowExecutionContext)
        : base(scheduler, body, flowExecutionContext)
    {
        _kind = kind;
    }

    internal static TaskCore<VoidResult> FromTask(Scheduler s, Func<Task> body, bool flow) => new(s, body, KindTask, flow);

    internal static TaskCore<T> FromTaskOfT(Scheduler s, Func<Task<T>> body, bool flow) => new(s, body, KindTaskOfT, flow);

    internal static TaskCore<VoidResult> FromValueTask(Scheduler s, Func<ValueTask> body, bool flow) => new(s, body, KindValueTask, flow);

    internal static TaskCore<T> FromValueTaskOfT(Scheduler s, Func<ValueTask<T>> body, bool flow) => new(s, body, KindValueTaskOfT, flow);

    internal static TaskCore<VoidResult> FromAction(Scheduler s, Action body) => new(s, body, KindBlockingAction, flowExecutionContext: true);

    internal static TaskCore<T> FromFunc(Scheduler s, Func<T> body) => new(s, body, KindBlockingFunc, flowExecutionContext: true);

    private protected override Task? InvokeBody()
    {
        Delegate body = Body!;
        switch (_kind)
        {
            case KindTask:
                return ((Func<Task>)body)() ?? throw new InvalidOperationException("The spawned delegate returned a null Task.");
            case KindTaskOfT:
                return ((Func<Task<T>>)body)() ?? throw new InvalidOperationException("The spawned delegate returned a null Task.");
            case KindValueTask:
            {
                ValueTask vt = ((Func<ValueTask>)body)();
                if (vt.IsCompletedSuccessfully)
                {
                    CompleteWithResult(default!);
                    return null;
                }

                return vt.AsTask();
            }

            case KindValueTaskOfT:
            {
                ValueTask<T> vt = ((Func<ValueTask<T>>)body)();
                if (vt.IsCompletedSuccessfully)
                {
                    CompleteWithResult(vt.Result);
                    return null;
                }

                return vt.AsTask();
            }

            case KindBlockingAction:
                ((Action)body)();
                CompleteWithResult(default!);
                return null;
            default:
                CompleteWithResult(((Func<T>)body)());
                return null;
        }
    }

    private void CompleteWithResult(T result)
    {
        if (TryBeginComplete())
        {
            _result = result;
            FinishComplete(OutcomeSucceeded, null);
        }
    }

    private protected override void SetResultFrom(Task task)
    {
        if (task is Task<T> typed)
        {
            _result = typed.Result;
        }
    }

    /// <summary>The result of an awaited join handle: the value, or a <see cref="JoinException"/>.</summary>
    internal T GetJoinResult()
    {
        ThrowIfNotSucceeded();
        return _result!;
    }

    /// <summary>The result for <c>BlockOn</c>: the value, or the task's own exception.</summary>
    internal T GetBlockOnResult()
    {
        RethrowIfNotSucceeded();
        return _result!;
    }
}
