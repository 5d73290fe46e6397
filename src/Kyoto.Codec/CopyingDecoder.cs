using System.Buffers;

namespace Kyoto.Codec;

/// <summary>
/// Copies each frame of a slicing decoder (such as <see cref="LengthDelimitedCodec"/>) into a new
/// <c>byte[]</c>, so frames stay valid after the framed reader's next read. One allocation per frame.
/// </summary>
/// <example>
/// <code>
/// var reader = new FramedRead&lt;byte[]&gt;(stream, new CopyingDecoder(new LengthDelimitedCodec()));
/// List&lt;byte[]&gt; all = [];
/// await foreach (byte[] frame in reader) { all.Add(frame); }
/// </code>
/// </example>
public sealed class CopyingDecoder : IDecoder<byte[]>
{
    private readonly IDecoder<ReadOnlySequence<byte>> _inner;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public CopyingDecoder(IDecoder<ReadOnlySequence<byte>> inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <summary>Decodes with the inner decoder and copies the frame.</summary>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out byte[] frame)
    {
        if (_inner.TryDecode(ref buffer, out ReadOnlySequence<byte> slice))
        {
            frame = slice.ToArray();
            return true;
        }

        frame = [];
        return false;
    }

    /// <summary>Decodes at end of stream with the inner decoder and copies the frame.</summary>
    public bool TryDecodeEof(ref ReadOnlySequence<byte> buffer, out byte[] frame)
    {
        if (_inner.TryDecodeEof(ref buffer, out ReadOnlySequence<byte> slice))
        {
            frame = slice.ToArray();
            return true;
        }

        frame = [];
        return false;
    }
}
