namespace Kyoto.Tasks;

/// <summary>
/// Thrown by a Kyoto await inside a task that has been aborted (<see cref="JoinHandle.Abort"/>). Abort is
/// sticky: catching this exception does not un-abort the task, and every later Kyoto await throws again.
/// Let it propagate so that <c>finally</c> blocks and <c>using</c> scopes release what the task holds.
/// </summary>
public sealed class TaskAbortedException : OperationCanceledException
{
    /// <summary>Creates the exception for the task <paramref name="taskId"/>.</summary>
    public TaskAbortedException(TaskId? taskId)
        : this(taskId, taskId is { } id ? $"Task {id} was aborted." : "The task was aborted.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TaskAbortedException(TaskId? taskId, string message)
        : base(message)
    {
        TaskId = taskId;
    }

    /// <summary>The aborted task, when known.</summary>
    public TaskId? TaskId { get; }
}
