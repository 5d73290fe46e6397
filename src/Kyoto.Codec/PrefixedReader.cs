using Kyoto.Codec.Internal;
using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>
/// A reader that returns <see cref="Leftover"/> first, then reads <see cref="Inner"/>: what
/// <see cref="FramedRead{T}.Release"/> hands back, so the bytes a framed reader had received but not decoded are
/// read by whatever reads the stream next.
/// </summary>
/// <example>
/// <code>
/// string command = await lines.ReadAsync();            // "BINARY"
/// IAsyncReader rest = lines.Release();                 // the bytes after "BINARY\n", then the stream
/// var frames = new FramedRead&lt;ReadOnlySequence&lt;byte&gt;&gt;(rest, new LengthDelimitedCodec());
/// </code>
/// </example>
public sealed class PrefixedReader : IAsyncReader
{
    private readonly IAsyncReader _inner;
    private ReadOnlyMemory<byte> _leftover;

    /// <summary>Creates a reader returning <paramref name="leftover"/>, then what <paramref name="inner"/> reads.</summary>
    public PrefixedReader(ReadOnlyMemory<byte> leftover, IAsyncReader inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _leftover = leftover;
        _inner = inner;
    }

    /// <summary>The underlying stream.</summary>
    public IAsyncReader Inner => _inner;

    /// <summary>The bytes not returned yet that came from the framed reader's buffer.</summary>
    public ReadOnlyMemory<byte> Leftover => _leftover;

    /// <summary>Returns leftover bytes while there are any (synchronously), then reads <see cref="Inner"/>.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="Inner"/>'s read; returning leftover bytes never waits.</remarks>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        PrefixedIo.Read(ref _leftover, _inner, buffer, cancellationToken);
}
