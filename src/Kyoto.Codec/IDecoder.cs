using System.Buffers;

namespace Kyoto.Codec;

/// <summary>
/// Turns bytes read from a stream into frames (tokio-util's <c>Decoder</c>). A framed reader keeps the bytes
/// received so far and calls <see cref="TryDecode"/> until it returns <see langword="false"/>, then reads more.
/// </summary>
/// <typeparam name="T">The frame type.</typeparam>
/// <remarks>
/// <para>
/// Contract: on success, advance <c>buffer</c> past the bytes the frame used (slice it) and return
/// <see langword="true"/>. When the buffer holds no whole frame, return <see langword="false"/>; the decoder may
/// still advance <c>buffer</c> past bytes it has examined and wants discarded (a resynchronising lines codec
/// drops an over-long line this way), but it must never advance past bytes that belong to a frame it has not
/// returned. The framed reader keeps every byte not consumed for the next call.
/// </para>
/// <para>
/// A decoder that sees a frame it refuses (over a maximum length, malformed) throws a
/// <see cref="FrameException"/> naming the limit or the offset, before allocating anything sized by the frame.
/// </para>
/// </remarks>
public interface IDecoder<T>
{
    /// <summary>Decodes one frame from the start of <paramref name="buffer"/>, if a whole one is there.</summary>
    /// <param name="buffer">The unread bytes; on return, what is left after the bytes consumed.</param>
    /// <param name="frame">The decoded frame, when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when a frame was decoded; <see langword="false"/> when more bytes are needed.</returns>
    /// <exception cref="FrameException">The bytes are not a valid frame.</exception>
    bool TryDecode(ref ReadOnlySequence<byte> buffer, out T frame);

    /// <summary>
    /// Decodes a frame after the stream has ended: no more bytes will come. The default calls
    /// <see cref="TryDecode"/> and, when that finds no frame but bytes remain, throws
    /// <see cref="TruncatedFrameException"/>: a truncated last frame is an error, not silence.
    /// </summary>
    /// <param name="buffer">The unread bytes; on return, what is left after the bytes consumed.</param>
    /// <param name="frame">The decoded frame, when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when a frame was decoded; <see langword="false"/> when the buffer is empty.</returns>
    /// <exception cref="TruncatedFrameException">Bytes remain that do not make a whole frame.</exception>
    bool TryDecodeEof(ref ReadOnlySequence<byte> buffer, out T frame)
    {
        if (TryDecode(ref buffer, out frame))
        {
            return true;
        }
        if (!buffer.IsEmpty)
        {
            throw new TruncatedFrameException(buffer.Length);
        }
        return false;
    }
}
