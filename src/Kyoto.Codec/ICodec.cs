namespace Kyoto.Codec;

/// <summary>
/// A decoder and an encoder of the same frame type in one object, so that <see cref="Framed.Create{T}"/> can infer
/// the frame type from the codec alone.
/// </summary>
/// <typeparam name="T">The frame type read and written.</typeparam>
public interface ICodec<T> : IDecoder<T>, IEncoder<T>
{
}
