namespace Kyoto.Sync;

/// <summary>
/// Thrown when a channel is closed: by a receive once every sender is gone (or the receiver closed the channel)
/// and no value is left, and by a send that cannot be delivered (the receiver closed the channel, or no
/// receiver is left). A failed send keeps its value in <see cref="UnsentValue"/>; the caller still owns it.
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
