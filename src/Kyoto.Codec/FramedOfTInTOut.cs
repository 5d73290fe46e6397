// Framed<TIn,TOut> is a FramedRead<TIn> and a FramedWrite<TOut> over the two directions of one duplex stream; it
// adds no state of its own. Reading and writing are independent: one task may read while another writes, through
// Reader and Writer (each still used by one task at a time). See FramedRead.cs and FramedWrite.cs for the
// buffering and cancel-safety invariants.
using System.Buffers;
using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>
/// Frames a duplex stream (tokio-util's <c>Framed</c>): reads <typeparamref name="TIn"/> frames with a decoder
/// and writes <typeparamref name="TOut"/> frames with an encoder (possibly one codec object implementing both).
/// </summary>
/// <typeparam name="TIn">The frame type read.</typeparam>
/// <typeparam name="TOut">The frame type written.</typeparam>
/// <remarks>
/// The read members behave as <see cref="FramedRead{T}"/>'s and the write members as
/// <see cref="FramedWrite{T}"/>'s (same buffering, frame lifetime and cancel safety). <see cref="Reader"/> and
/// <see cref="Writer"/> give each direction to its own task.
/// </remarks>
/// <example>
/// A request/response server loop that handles every pipelined request, then flushes once:
/// <code>
/// await using var framed = Framed.Create(connection, new LinesCodec());
/// while (await framed.WaitToReadAsync(cancellationToken))
/// {
///     while (framed.TryRead(out string request))
///     {
///         framed.Write(Handle(request));
///     }
///     await framed.FlushAsync(cancellationToken);
/// }
/// </code>
/// </example>
public sealed class Framed<TIn, TOut> : IAsyncEnumerable<TIn>, IAsyncDisposable
{
    private readonly IAsyncDuplex _stream;
    private readonly FramedRead<TIn> _reader;
    private readonly FramedWrite<TOut> _writer;

    /// <summary>Frames <paramref name="stream"/>: input decoded by <paramref name="decoder"/>, output encoded by <paramref name="encoder"/>.</summary>
    /// <param name="stream">The byte stream; not owned.</param>
    /// <param name="decoder">Turns received bytes into frames.</param>
    /// <param name="encoder">Turns frames into bytes to send.</param>
    /// <param name="initialBufferSize">The read buffer's first size. Defaults to 8192.</param>
    public Framed(IAsyncDuplex stream, IDecoder<TIn> decoder, IEncoder<TOut> encoder, int initialBufferSize = 8192)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _reader = new FramedRead<TIn>(stream, decoder, initialBufferSize);
        _writer = new FramedWrite<TOut>(stream, encoder);
    }

    /// <summary>The byte stream.</summary>
    public IAsyncDuplex Inner => _stream;

    /// <summary>The read direction, to read from a task of its own.</summary>
    public FramedRead<TIn> Reader => _reader;

    /// <summary>The write direction, to write from a task of its own.</summary>
    public FramedWrite<TOut> Writer => _writer;

    /// <inheritdoc cref="FramedRead{T}.ReadBuffer"/>
    public ReadOnlySequence<byte> ReadBuffer => _reader.ReadBuffer;

    /// <inheritdoc cref="FramedWrite{T}.BufferedBytes"/>
    public int BufferedBytes => _writer.BufferedBytes;

    /// <inheritdoc cref="FramedWrite{T}.HighWaterMark"/>
    public int HighWaterMark
    {
        get => _writer.HighWaterMark;
        set => _writer.HighWaterMark = value;
    }

    /// <inheritdoc cref="FramedRead{T}.TryRead"/>
    public bool TryRead(out TIn frame) => _reader.TryRead(out frame);

    /// <inheritdoc cref="FramedRead{T}.WaitToReadAsync"/>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _reader.WaitToReadAsync(cancellationToken);

    /// <inheritdoc cref="FramedRead{T}.ReadAsync"/>
    public ValueTask<TIn> ReadAsync(CancellationToken cancellationToken = default) => _reader.ReadAsync(cancellationToken);

    /// <inheritdoc cref="FramedRead{T}.ReadAllAsync"/>
    public IAsyncEnumerable<TIn> ReadAllAsync(CancellationToken cancellationToken = default) => _reader.ReadAllAsync(cancellationToken);

    /// <inheritdoc cref="FramedRead{T}.GetAsyncEnumerator"/>
    public IAsyncEnumerator<TIn> GetAsyncEnumerator(CancellationToken cancellationToken = default) => _reader.GetAsyncEnumerator(cancellationToken);

    /// <inheritdoc cref="FramedWrite{T}.Write"/>
    public void Write(TOut frame) => _writer.Write(frame);

    /// <inheritdoc cref="FramedWrite{T}.FeedAsync"/>
    public ValueTask FeedAsync(TOut frame, CancellationToken cancellationToken = default) => _writer.FeedAsync(frame, cancellationToken);

    /// <inheritdoc cref="FramedWrite{T}.SendAsync"/>
    public ValueTask SendAsync(TOut frame, CancellationToken cancellationToken = default) => _writer.SendAsync(frame, cancellationToken);

    /// <inheritdoc cref="FramedWrite{T}.FlushAsync"/>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _writer.FlushAsync(cancellationToken);

    /// <inheritdoc cref="FramedWrite{T}.ShutdownAsync"/>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => _writer.ShutdownAsync(cancellationToken);

    /// <summary>
    /// Stops framing and hands back the stream: a duplex whose reads first return the bytes received and not
    /// decoded, then read <see cref="Inner"/>. Use it to switch protocol mid-stream. The buffers go back to the
    /// pool; this object cannot be used afterwards.
    /// </summary>
    /// <returns><see cref="Inner"/> itself when no bytes are left over; else a <see cref="PrefixedDuplex"/>.</returns>
    /// <exception cref="InvalidOperationException">
    /// Output is still buffered (flush first), or a frame decoded by <see cref="WaitToReadAsync"/> has not been
    /// taken by <see cref="TryRead"/>.
    /// </exception>
    public IAsyncDuplex Release()
    {
        if (_writer.BufferedBytes > 0)
        {
            throw new InvalidOperationException($"{_writer.BufferedBytes} bytes of output are still buffered: flush before releasing the stream.");
        }

        byte[] leftover = _reader.ReleaseBuffer();
        _writer.ReleaseBuffer();
        return leftover.Length == 0 ? _stream : new PrefixedDuplex(leftover, _stream);
    }

    /// <summary>Returns both buffers to the pool, without flushing. Does not dispose <see cref="Inner"/>. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync().ConfigureAwait(true);
        await _writer.DisposeAsync().ConfigureAwait(true);
    }
}
