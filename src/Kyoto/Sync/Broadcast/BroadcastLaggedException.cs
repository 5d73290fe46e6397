namespace Kyoto.Sync;

/// <summary>
/// Thrown by a broadcast receive when the receiver fell so far behind that values it had not read were
/// overwritten. The receiver has already moved to the oldest value still retained, so its next receive
/// continues from there.
/// </summary>
public sealed class BroadcastLaggedException : Exception
{
    /// <summary>Creates the exception for <paramref name="skippedCount"/> missed values.</summary>
    public BroadcastLaggedException(long skippedCount)
        : base($"The broadcast receiver lagged behind and missed {skippedCount} value(s); it continues from the oldest value still retained.")
    {
        SkippedCount = skippedCount;
    }

    /// <summary>Creates the exception with the default message and no count.</summary>
    public BroadcastLaggedException()
        : base("The broadcast receiver lagged behind and missed values; it continues from the oldest value still retained.")
    {
    }

    /// <summary>Creates the exception with a message and no count.</summary>
    public BroadcastLaggedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception, and no count.</summary>
    public BroadcastLaggedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>How many values the receiver missed.</summary>
    public long SkippedCount { get; }
}
