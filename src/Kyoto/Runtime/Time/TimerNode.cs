namespace Kyoto.Timing;

/// <summary>
/// An entry of the timer wheel: its deadline in wheel milliseconds and its links in a slot's list.
/// </summary>
/// <remarks>
/// Every field is guarded by the wheel's lock (<see cref="TimeDriver"/>): a node is linked into at most one
/// slot at a time, and <see cref="Level"/> is -1 exactly when it is not in the wheel.
/// <see cref="Fire"/> runs after the node has left the wheel, outside the lock.
/// </remarks>
internal abstract class TimerNode
{
    /// <summary>The wheel slot time: the deadline's millisecond of the runtime clock, rounded down.</summary>
    internal ulong When;

    /// <summary>The exact deadline (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    internal long Deadline;

    /// <summary>The wheel level holding the node; -1 when it is nowhere, -2 in the driver's imminent list.</summary>
    internal int Level = -1;

    /// <summary>Position in the imminent list while <see cref="Level"/> is -2.</summary>
    internal int ImminentIndex;

    /// <summary>
    /// The owner's tag of the current registration (a pooled sleep's await version), set before it is
    /// registered, so that a late cancellation of an earlier registration can be told apart under the lock.
    /// </summary>
    internal int Stamp;

    internal TimerNode? Prev;
    internal TimerNode? Next;

    internal bool IsInWheel => Level >= 0;

    /// <summary>Armed: in the wheel or in the imminent list.</summary>
    internal bool IsArmed => Level != -1;

    /// <summary>The deadline passed: complete the sleep, run the callback. Called without the wheel lock.</summary>
    internal abstract void Fire();
}
