namespace Kyoto;

/// <summary>How a runtime runs its tasks.</summary>
public enum RuntimeFlavor
{
    /// <summary>A pool of worker threads with per-worker queues and work stealing. The default.</summary>
    MultiThread,

    /// <summary>No worker threads: tasks run on the thread that calls <see cref="Runtime.BlockOn(Func{Task})"/>.</summary>
    CurrentThread,
}

/// <summary>What a runtime does when an exception escapes a task (or an <c>async void</c> method on it).</summary>
public enum UnhandledExceptionPolicy
{
    /// <summary>Nothing: the exception is kept for whoever awaits the task's join handle. The default.</summary>
    Ignore,

    /// <summary>The runtime starts shutting down (as <see cref="Runtime.ShutdownBackground"/>).</summary>
    ShutdownRuntime,
}
