namespace Kyoto.Sync;

/// <summary>
/// Thrown by a receive when the channel is closed and holds no value: every sender is gone (or was
/// disposed without sending), or the receiver closed it.
/// </summary>
public sealed class ClosedChannelException : InvalidOperationException
{
    /// <summary>Creates the exception with the default message.</summary>
    public ClosedChannelException()
        : base("The channel is closed: no sender is left to send a value.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ClosedChannelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public ClosedChannelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The value a failed send could not deliver (boxed), or null: the caller still owns it.</summary>
    public object? UnsentValue { get; private init; }

    internal static ClosedChannelException Unsent<T>(T value) =>
        new("The channel is closed: the value was not sent.") { UnsentValue = value };
}
