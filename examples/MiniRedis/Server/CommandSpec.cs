namespace MiniRedis.Server;

/// <summary>A command's table entry.</summary>
/// <param name="Id">Which command.</param>
/// <param name="Name">Its lower-case name, as Redis writes it in errors.</param>
/// <param name="Arity">Redis's arity: n means exactly n arguments (name included), -n at least n.</param>
/// <param name="AllowedWhenSubscribed">True for the commands a client in subscribed mode may send.</param>
public sealed record CommandSpec(CommandId Id, string Name, int Arity, bool AllowedWhenSubscribed = false)
{
    /// <summary>True if <paramref name="count"/> arguments satisfy the arity.</summary>
    public bool AcceptsArgumentCount(int count) => Arity >= 0 ? count == Arity : count >= -Arity;
}
