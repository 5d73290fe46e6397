namespace Kyoto.Codec;

/// <summary>
/// A length field holds a length that is not a valid frame length: negative (an 8-byte field of 2^63 or more,
/// or a length adjustment that makes it negative) or overflowing once adjusted.
/// </summary>
public sealed class InvalidLengthException : FrameException
{
    /// <summary>Creates the exception for the raw field value <paramref name="fieldValue"/>.</summary>
    public InvalidLengthException(ulong fieldValue, string reason)
        : base($"Invalid frame length {fieldValue}: {reason}.")
    {
        FieldValue = fieldValue;
    }

    /// <summary>The length field as read from the stream, before adjustment.</summary>
    public ulong FieldValue { get; }
}
