namespace Kyoto.Time;

/// <summary>
/// Thrown by <see cref="KyotoTime.Timeout{T}(TimeSpan, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>
/// when the deadline passes before the operation completes. The operation's token was cancelled.
/// </summary>
public sealed class ElapsedException : TimeoutException
{
    /// <summary>Creates the exception for an operation bounded by <paramref name="timeout"/>.</summary>
    public ElapsedException(TimeSpan timeout)
        : base($"The operation did not complete within {timeout}.")
    {
        Timeout = timeout;
    }

    /// <summary>The bound that elapsed (zero when the bound was an instant).</summary>
    public TimeSpan Timeout { get; }
}
