using Kyoto.Codec.Internal;
using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>
/// A duplex stream whose reads return <see cref="Leftover"/> first, then read <see cref="Inner"/>; writes go
/// straight to <see cref="Inner"/>. What <see cref="Framed{TIn, TOut}.Release"/> hands back.
/// </summary>
public sealed class PrefixedDuplex : IAsyncDuplex
{
    private readonly IAsyncDuplex _inner;
    private ReadOnlyMemory<byte> _leftover;

    /// <summary>Creates a duplex returning <paramref name="leftover"/> before what <paramref name="inner"/> reads.</summary>
    public PrefixedDuplex(ReadOnlyMemory<byte> leftover, IAsyncDuplex inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _leftover = leftover;
        _inner = inner;
    }

    /// <summary>The underlying stream.</summary>
    public IAsyncDuplex Inner => _inner;

    /// <summary>The bytes not returned yet that came from the framed reader's buffer.</summary>
    public ReadOnlyMemory<byte> Leftover => _leftover;

    /// <summary>Returns leftover bytes while there are any (synchronously), then reads <see cref="Inner"/>.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="Inner"/>'s read; returning leftover bytes never waits.</remarks>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        PrefixedIo.Read(ref _leftover, _inner, buffer, cancellationToken);

    /// <summary>Writes to <see cref="Inner"/>.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="Inner"/>'s.</remarks>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.WriteAsync(buffer, cancellationToken);

    /// <summary>Flushes <see cref="Inner"/>.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="Inner"/>'s.</remarks>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    /// <summary>Shuts down <see cref="Inner"/>'s write direction.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="Inner"/>'s.</remarks>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => _inner.ShutdownAsync(cancellationToken);
}
