// Invariants: those of SetOnce<T>, which this wraps (a set-once flag is a SetOnce without a meaningful value).
namespace Kyoto.Sync;

/// <summary>
/// A one-time signal: it starts unset, <see cref="Set"/> sets it for good and wakes every waiter, and later
/// waits complete at once. A <see cref="SetOnce{T}"/> without a value.
/// </summary>
/// <remarks>
/// Use it for "started", "shut down" or "ready" signals. Waiting allocates nothing once warm.
/// </remarks>
/// <example>
/// <code>
/// var ready = new OnceEvent();
/// KyotoTask.Spawn(async () =&gt; { await WarmUpAsync(); ready.Set(); });
/// await ready.WaitAsync(cancellationToken);
/// </code>
/// </example>
public sealed class OnceEvent
{
    private readonly SetOnce<bool> _core = new();

    /// <summary>True once the event has been set.</summary>
    public bool IsSet => _core.IsSet;

    /// <summary>How many callers are waiting (a snapshot).</summary>
    internal int WaiterCount => _core.WaiterCount;

    /// <summary>Sets the event and wakes every waiter.</summary>
    /// <returns>True if this call set it; false if it was already set.</returns>
    public bool Set() => _core.TrySet(true);

    /// <summary>Waits until the event is set.</summary>
    /// <remarks>
    /// Completes at once if the event is already set (yielding first if the task's coop budget is spent).
    /// <para><b>Cancel safety:</b> a cancelled wait leaves the queue and changes nothing else.</para>
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the event was set.</exception>
    public ValueTask WaitAsync(CancellationToken cancellationToken = default) => _core.WaitVoidAsync(cancellationToken);
}
