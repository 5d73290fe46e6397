using Kyoto.IO;

namespace Kyoto.Codec.Internal;

/// <summary>The read of <see cref="PrefixedReader"/> and <see cref="PrefixedDuplex"/>: leftover bytes first.</summary>
internal static class PrefixedIo
{
    public static ValueTask<int> Read(ref ReadOnlyMemory<byte> leftover, IAsyncReader inner, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (leftover.IsEmpty || buffer.IsEmpty)
        {
            return inner.ReadAsync(buffer, cancellationToken);
        }

        int n = Math.Min(buffer.Length, leftover.Length);
        leftover.Span[..n].CopyTo(buffer.Span);
        leftover = leftover[n..];
        return new ValueTask<int>(n);
    }
}
