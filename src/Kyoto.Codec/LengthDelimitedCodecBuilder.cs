namespace Kyoto.Codec;

/// <summary>
/// Options of a <see cref="LengthDelimitedCodec"/> (tokio-util's <c>length_delimited::Builder</c>): where the
/// length field is, its size and byte order, how it relates to the frame's length, and how much of the head to
/// drop.
/// </summary>
/// <remarks>
/// <para>Decoding reads the length field at <see cref="LengthFieldOffset"/> (<see cref="LengthFieldLength"/>
/// bytes), adds <see cref="LengthAdjustment"/> to get the frame length <c>n</c>, drops the first
/// <see cref="NumSkip"/> bytes, and returns the next <c>n</c> bytes as the frame.</para>
/// <para>Encoding writes the length field (the frame's length minus <see cref="LengthAdjustment"/>), then the
/// frame. It writes no bytes before the length field: with a non-zero <see cref="LengthFieldOffset"/>, the bytes
/// before the length are the caller's to write (as in tokio-util).</para>
/// </remarks>
/// <example>
/// A 1-byte type tag, then a 2-byte little-endian length that counts itself and the tag, then the body; the
/// frame returned is the body only:
/// <code>
/// LengthDelimitedCodec codec = new LengthDelimitedCodecBuilder
/// {
///     LengthFieldOffset = 1,   // after the tag
///     LengthFieldLength = 2,
///     BigEndian = false,
///     LengthAdjustment = -3,   // the field counts the tag and itself
///     NumSkip = 3,             // drop tag and length (the default: offset + field length)
/// }.Build();
/// </code>
/// </example>
public sealed class LengthDelimitedCodecBuilder
{
    /// <summary>The default <see cref="MaxFrameLength"/>: 8 MiB.</summary>
    public const int DefaultMaxFrameLength = 8 * 1024 * 1024;

    /// <summary>Bytes before the length field. Defaults to 0.</summary>
    public int LengthFieldOffset { get; set; }

    /// <summary>The length field's size: 1 to 8 bytes. Defaults to 4.</summary>
    public int LengthFieldLength { get; set; } = 4;

    /// <summary>True for a big-endian (network order) length field, false for little-endian. Defaults to true.</summary>
    public bool BigEndian { get; set; } = true;

    /// <summary>
    /// Added to the length field's value to get the frame's length (negative when the field counts header bytes
    /// dropped by <see cref="NumSkip"/>; positive when the frame keeps header bytes the field does not count).
    /// Defaults to 0.
    /// </summary>
    public long LengthAdjustment { get; set; }

    /// <summary>
    /// Bytes dropped from the start of each frame before the frame's <c>n</c> bytes; null means the head
    /// (<see cref="LengthFieldOffset"/> + <see cref="LengthFieldLength"/>). Defaults to null.
    /// </summary>
    public int? NumSkip { get; set; }

    /// <summary>
    /// The longest frame accepted, in bytes (the frame as returned, after the skipped head). A longer length is a
    /// <see cref="FrameTooLargeException"/> as soon as the length field is read, before the body is buffered.
    /// Defaults to <see cref="DefaultMaxFrameLength"/> (8 MiB).
    /// </summary>
    public int MaxFrameLength { get; set; } = DefaultMaxFrameLength;

    /// <summary>Creates the codec.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public LengthDelimitedCodec Build() => new(this);
}
