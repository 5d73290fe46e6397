using System.Buffers;

namespace Kyoto.Codec;

/// <summary>
/// Turns frames into bytes written to a stream (tokio-util's <c>Encoder</c>). A framed writer hands the encoder
/// its pooled output buffer; nothing is copied afterwards.
/// </summary>
/// <typeparam name="T">The frame type.</typeparam>
/// <remarks>
/// An encoder that refuses a frame (over a maximum length, a line holding the delimiter) throws a
/// <see cref="FrameException"/> before writing anything to <c>output</c>.
/// </remarks>
public interface IEncoder<in T>
{
    /// <summary>Writes the bytes of <paramref name="frame"/> to <paramref name="output"/>.</summary>
    /// <exception cref="FrameException">The frame cannot be encoded.</exception>
    void Encode(T frame, IBufferWriter<byte> output);
}
