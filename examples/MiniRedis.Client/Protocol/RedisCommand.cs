namespace MiniRedis.Client.Protocol;

/// <summary>
/// A command to send: its name and arguments, each a <see cref="RedisArgument"/>. Wraps the array without
/// copying it; do not change the array until the command has completed.
/// </summary>
/// <example>
/// <code>
/// RedisCommand set = new("SET", "counter", 10);
/// </code>
/// </example>
public readonly struct RedisCommand
{
    /// <summary>Creates a command from its name and arguments.</summary>
    /// <exception cref="ArgumentException"><paramref name="parts"/> is empty (a command needs at least its name).</exception>
    public RedisCommand(params RedisArgument[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0)
        {
            throw new ArgumentException("A command needs at least its name.", nameof(parts));
        }

        Parts = parts;
    }

    /// <summary>The name followed by the arguments.</summary>
    public RedisArgument[] Parts { get; }

    /// <summary>The command name (the first part) as text.</summary>
    public string Name => Parts is { Length: > 0 } p ? p[0].ToString() : "";

    /// <summary>Wraps <paramref name="parts"/> as a command.</summary>
    public static implicit operator RedisCommand(RedisArgument[] parts) => new(parts);

    /// <summary>Named alternative to the conversion from an array.</summary>
    public static RedisCommand FromArray(RedisArgument[] parts) => new(parts);

    /// <summary>The command as text, for logs (arguments joined by spaces).</summary>
    public override string ToString() => Parts is null ? "" : string.Join(' ', Parts.Select(p => p.ToString()));
}
