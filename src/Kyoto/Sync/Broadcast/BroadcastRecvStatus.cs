namespace Kyoto.Sync;

/// <summary>What <see cref="BroadcastReceiver{T}.TryRecv(out T)"/> found.</summary>
public enum BroadcastRecvStatus
{
    /// <summary>A value was received.</summary>
    Received,

    /// <summary>No new value yet; the channel is open.</summary>
    Empty,

    /// <summary>
    /// The receiver fell behind: values it had not read were overwritten. It has moved to the oldest value
    /// still retained; the next receive continues from there.
    /// </summary>
    Lagged,

    /// <summary>Every sender is disposed and every value was received.</summary>
    Closed,
}
