namespace Kyoto.Tasks;

/// <summary>
/// Identifies a spawned task, unique among all tasks of all runtimes in the process for its lifetime.
/// </summary>
/// <param name="Value">The numeric id, starting at 1.</param>
public readonly record struct TaskId(ulong Value)
{
    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
