namespace Kyoto.Sync;

/// <summary>The outcomes of starting a watch wait (a change for a receiver, closing for a sender).</summary>
internal enum WatchOutcome
{
    /// <summary>What the wait waits for has already happened.</summary>
    Ready,

    /// <summary>The channel is closed and nothing unseen is left (a change wait).</summary>
    Closed,

    /// <summary>The waiter is queued (or completed for a yield): the result comes through it.</summary>
    Pending,

    /// <summary>The token was cancelled before the waiter was queued.</summary>
    Cancelled,

    /// <summary>The waiting receiver or sender was disposed before the waiter was queued.</summary>
    Disposed,
}
