using System.Buffers;

namespace Kyoto.Codec;

/// <summary>
/// Raw bytes, no framing (tokio-util's <c>BytesCodec</c>): each decoded frame is everything buffered (a slice
/// of the read buffer, valid until the framed reader's next read); each encoded frame is written as is.
/// </summary>
/// <example>
/// <code>
/// await foreach (ReadOnlySequence&lt;byte&gt; chunk in new FramedRead&lt;ReadOnlySequence&lt;byte&gt;&gt;(stream, new BytesCodec()))
/// {
///     total += chunk.Length;
/// }
/// </code>
/// </example>
public sealed class BytesCodec : ICodec<ReadOnlySequence<byte>>, IEncoder<ReadOnlyMemory<byte>>, IEncoder<byte[]>
{
    /// <summary>Takes every buffered byte as one frame; false when the buffer is empty.</summary>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = buffer;
        if (buffer.IsEmpty)
        {
            return false;
        }

        buffer = buffer.Slice(buffer.End);
        return true;
    }

    /// <summary>Writes the bytes as they are.</summary>
    public void Encode(ReadOnlySequence<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (ReadOnlyMemory<byte> segment in frame)
        {
            output.Write(segment.Span);
        }
    }

    /// <summary>Writes the bytes as they are.</summary>
    public void Encode(ReadOnlyMemory<byte> frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Write(frame.Span);
    }

    /// <summary>Writes the bytes as they are.</summary>
    public void Encode(byte[] frame, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        output.Write(frame);
    }
}
