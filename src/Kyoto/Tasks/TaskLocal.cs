using Kyoto.Scheduling;

namespace Kyoto.Tasks;

/// <summary>
/// A value scoped to a task and a piece of its code (Tokio's <c>task_local!</c>): set it for the duration
/// of an async body with <see cref="ScopeAsync(T, Func{Task})"/>, read it anywhere inside with
/// <see cref="Value"/>. Unlike <see cref="AsyncLocal{T}"/>, tasks spawned inside the scope do not inherit it.
/// </summary>
/// <example>
/// <code>
/// static readonly TaskLocal&lt;string&gt; RequestId = new();
/// await RequestId.ScopeAsync("req-1", async () =&gt; { await KyotoTask.Yield(); Log(RequestId.Value); });
/// </code>
/// </example>
/// <typeparam name="T">The value's type.</typeparam>
public sealed class TaskLocal<T>
{
    private readonly AsyncLocal<Entry?> _local = new();

    private sealed record Entry(TaskCore? Owner, T Value);

    /// <summary>The value of the innermost enclosing scope in the current task.</summary>
    /// <exception cref="InvalidOperationException">No scope of this task-local encloses the caller in this task.</exception>
    public T Value => TryGetValue(out T? value)
        ? value
        : throw new InvalidOperationException("This TaskLocal has no value here: read it inside ScopeAsync/Scope of the same task.");

    /// <summary>Gets the value of the innermost enclosing scope; false if there is none in this task.</summary>
    public bool TryGetValue(out T value)
    {
        Entry? entry = _local.Value;
        if (entry is not null && ReferenceEquals(entry.Owner, RuntimeContext.CurrentOrNull?.CurrentTask))
        {
            value = entry.Value;
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>Runs <paramref name="body"/> with the task-local set to <paramref name="value"/>.</summary>
    public async Task ScopeAsync(T value, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Entry? previous = _local.Value;
        _local.Value = new Entry(RuntimeContext.CurrentOrNull?.CurrentTask, value);
        try
        {
            await body().ConfigureAwait(true);
        }
        finally
        {
            _local.Value = previous;
        }
    }

    /// <summary>Runs <paramref name="body"/> with the task-local set to <paramref name="value"/> and returns its result.</summary>
    public async Task<TResult> ScopeAsync<TResult>(T value, Func<Task<TResult>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Entry? previous = _local.Value;
        _local.Value = new Entry(RuntimeContext.CurrentOrNull?.CurrentTask, value);
        try
        {
            return await body().ConfigureAwait(true);
        }
        finally
        {
            _local.Value = previous;
        }
    }

    /// <summary>Runs synchronous <paramref name="body"/> with the task-local set to <paramref name="value"/>.</summary>
    public TResult Scope<TResult>(T value, Func<TResult> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Entry? previous = _local.Value;
        _local.Value = new Entry(RuntimeContext.CurrentOrNull?.CurrentTask, value);
        try
        {
            return body();
        }
        finally
        {
            _local.Value = previous;
        }
    }
}
