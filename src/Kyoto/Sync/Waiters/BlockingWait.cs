using Kyoto.Scheduling;

namespace Kyoto.Sync;

/// <summary>The blocking entry points of the sync primitives (for synchronous callers outside the runtime).</summary>
internal static class BlockingWait
{
    /// <summary>Refuses to block a runtime worker thread: it would stop the tasks that could unblock it.</summary>
    internal static void ThrowIfOnWorker(string operation)
    {
        if (RuntimeContext.CurrentOrNull?.Worker is not null)
        {
            throw new InvalidOperationException(
                $"{operation} cannot be called from a Kyoto runtime worker thread: it would block the worker. Await the asynchronous version instead, or call it from SpawnBlocking.");
        }
    }

    /// <summary>Blocks until <paramref name="pending"/> completes and returns its result.</summary>
    internal static T Wait<T>(ValueTask<T> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    /// <summary>Blocks until <paramref name="pending"/> completes.</summary>
    internal static void Wait(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            return;
        }

        pending.AsTask().GetAwaiter().GetResult();
    }
}
