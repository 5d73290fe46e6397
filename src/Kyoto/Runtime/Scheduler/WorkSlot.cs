namespace Kyoto.Scheduling;

/// <summary>
/// An array element holding a work item. Arrays of an interface type are covariant, so every store into
/// one runs a type check (<c>StelemRef</c>, ~4% of a remote-spawn profile); a store into a struct field of
/// an array element does not. The run queues' rings are arrays of this.
/// </summary>
internal struct WorkSlot
{
    public IWorkItem? Item;
}
