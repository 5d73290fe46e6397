namespace Kyoto.Sync;

/// <summary>The outcomes of a broadcast receive attempt (internal; see <see cref="BroadcastRecvStatus"/> for the public one).</summary>
internal enum BroadcastOutcome
{
    /// <summary>A value was taken.</summary>
    Received,

    /// <summary>Nothing new; nothing queued.</summary>
    Empty,

    /// <summary>The receiver fell behind and moved to the oldest retained value.</summary>
    Lagged,

    /// <summary>Every sender is gone and nothing is left to read.</summary>
    Closed,

    /// <summary>The receiver's waiter is queued: the result comes through it.</summary>
    Pending,

    /// <summary>
    /// Something is ready but the task is out of coop budget: the receiver's waiter is completed to resume after
    /// a yield (from the back of the run queue), and reads then.
    /// </summary>
    Yield,

    /// <summary>The token was cancelled before the waiter was queued.</summary>
    Cancelled,

    /// <summary>The receiver was disposed before the waiter was queued.</summary>
    Disposed,
}
