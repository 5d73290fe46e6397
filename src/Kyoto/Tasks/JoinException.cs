namespace Kyoto.Tasks;

/// <summary>
/// Thrown when awaiting the join handle of a task that did not complete successfully: it was cancelled
/// (aborted, or ended with an <see cref="OperationCanceledException"/>) or it failed with an exception,
/// which is the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class JoinException : Exception
{
    /// <summary>Creates the exception for task <paramref name="taskId"/>.</summary>
    public JoinException(TaskId taskId, bool isCancelled, Exception? innerException)
        : base(isCancelled ? $"Task {taskId} was cancelled." : $"Task {taskId} failed: {innerException?.Message}", innerException)
    {
        TaskId = taskId;
        IsCancelled = isCancelled;
    }

    /// <summary>The task that did not complete.</summary>
    public TaskId TaskId { get; }

    /// <summary>True when the task was aborted or cancelled.</summary>
    public bool IsCancelled { get; }

    /// <summary>True when an exception other than a cancellation escaped the task.</summary>
    public bool IsFaulted => !IsCancelled;
}
