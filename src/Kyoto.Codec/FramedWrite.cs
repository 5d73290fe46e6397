// Design of FramedWrite<T> (tokio-util's FramedWrite):
// - Frames are encoded into one contiguous buffer rented from ArrayPool<byte>.Shared (PooledBufferWriter);
//   bytes [0, _flushed) have been taken by the inner writer, [_flushed, WrittenCount) wait for the next flush.
// - _flushed advances by exactly what each completed inner write took; a cancelled inner write took nothing (the
//   IAsyncWriter contract), so a cancelled flush leaves every unsent byte buffered, in order, and the next flush
//   sends them first. When everything is sent the buffer is emptied (and shrunk if a large frame grew it).
// - Backpressure: FeedAsync flushes *before* encoding when the buffer holds HighWaterMark bytes or more (tokio's
//   poll_ready), so a cancelled FeedAsync has not taken its frame; one frame may take the buffer past the mark.
// - An encoder that throws has its partial output rolled back: the buffer holds only whole frames.
// - Not thread-safe: one writing task at a time. Share it between tasks behind AsyncMutex<FramedWrite<T>>, or
//   give it to one writer task fed by an mpsc channel.
using System.Runtime.CompilerServices;
using Kyoto.Codec.Internal;
using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>
/// Writes frames to a byte stream (tokio-util's <c>FramedWrite</c>): the <see cref="IEncoder{T}"/> encodes each
/// frame into a pooled buffer, and the buffer goes to <see cref="Inner"/> in one write per flush.
/// </summary>
/// <typeparam name="T">The frame type.</typeparam>
/// <remarks>
/// <para><see cref="Write"/> and <see cref="FeedAsync"/> buffer a frame; <see cref="FlushAsync"/> sends the buffer;
/// <see cref="SendAsync"/> does both. Feeding flushes first once <see cref="HighWaterMark"/> bytes are buffered,
/// which bounds memory and makes a fast producer wait for a slow peer.</para>
/// <para>Once warm, encoding and flushing allocate nothing beyond what the encoder allocates.
/// <see cref="DisposeAsync"/> returns the buffer to the pool without flushing; it does not dispose
/// <see cref="Inner"/>.</para>
/// <para>One writing task at a time. To let several tasks send, share it behind an
/// <c>AsyncMutex&lt;FramedWrite&lt;T&gt;&gt;</c> (each holds the lock for a whole <see cref="SendAsync"/>, so frames
/// never interleave), or give it to one writer task that drains an mpsc channel.</para>
/// </remarks>
/// <example>
/// <code>
/// var (client, server) = MemoryDuplex.Create(64 * 1024);
/// await using var output = new FramedWrite&lt;ReadOnlyMemory&lt;byte&gt;&gt;(client, new LengthDelimitedCodec());
/// await output.FeedAsync("hello"u8.ToArray());   // buffered
/// await output.SendAsync("world"u8.ToArray());   // buffered, then both frames sent in one write
/// </code>
/// </example>
public sealed class FramedWrite<T> : IAsyncDisposable
{
    /// <summary>
    /// The default <see cref="HighWaterMark"/>: 64 KiB. Large enough that a batch of hundreds of small frames
    /// (pipelined replies) leaves in one write call, small enough to bound a connection's buffered output and to
    /// stay in <see cref="System.Buffers.ArrayPool{T}.Shared"/>'s cached sizes.
    /// </summary>
    public const int DefaultHighWaterMark = 64 * 1024;

    private const int InitialBufferSize = 8 * 1024;

    private readonly IAsyncWriter _writer;
    private readonly IEncoder<T> _encoder;
    private readonly PooledBufferWriter _buffer;
    private int _flushed;
    private int _highWaterMark = DefaultHighWaterMark;
    private bool _disposed;

    /// <summary>Creates a framed writer over <paramref name="writer"/>, encoding with <paramref name="encoder"/>.</summary>
    /// <param name="writer">The byte stream; not owned (not disposed by this writer).</param>
    /// <param name="encoder">Turns frames into bytes.</param>
    public FramedWrite(IAsyncWriter writer, IEncoder<T> encoder)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(encoder);
        _writer = writer;
        _encoder = encoder;
        _buffer = new PooledBufferWriter(InitialBufferSize);
    }

    /// <summary>The byte stream frames are written to.</summary>
    public IAsyncWriter Inner => _writer;

    /// <summary>The encoder.</summary>
    public IEncoder<T> Encoder => _encoder;

    /// <summary>Bytes encoded and not yet taken by <see cref="Inner"/>.</summary>
    public int BufferedBytes => _buffer.WrittenCount - _flushed;

    /// <summary>
    /// The buffered byte count at which <see cref="FeedAsync"/> flushes before encoding. Defaults to
    /// <see cref="DefaultHighWaterMark"/> (64 KiB).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public int HighWaterMark
    {
        get => _highWaterMark;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _highWaterMark = value;
        }
    }

    /// <summary>
    /// Encodes <paramref name="frame"/> into the buffer, without flushing and without backpressure (the buffer
    /// grows as needed). For a loop that answers every buffered request, then calls <see cref="FlushAsync"/> once.
    /// </summary>
    /// <exception cref="FrameException">The encoder refused the frame; nothing of it is buffered.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public void Write(T frame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int before = _buffer.WrittenCount;
        try
        {
            _encoder.Encode(frame, _buffer);
        }
        catch
        {
            _buffer.Truncate(before);
            throw;
        }
    }

    /// <summary>
    /// Buffers <paramref name="frame"/> without flushing, unless <see cref="HighWaterMark"/> bytes are already
    /// buffered: then flushes first. Completes synchronously when no flush is needed.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: a cancelled call has not buffered <paramref name="frame"/> (feed it again),
    /// and the bytes buffered before stay buffered (minus what the interrupted flush already sent).
    /// </remarks>
    /// <exception cref="FrameException">The encoder refused the frame; nothing of it is buffered.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask FeedAsync(T frame, CancellationToken cancellationToken = default)
    {
        try
        {
            if (BufferedBytes >= _highWaterMark)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!TryWriteBuffered(cancellationToken, out ValueTask<int> write))
                {
                    return FeedSlowAsync(write, frame, cancellationToken);
                }

                ValueTask flush = _writer.FlushAsync(cancellationToken);
                if (!flush.IsCompletedSuccessfully)
                {
                    return FeedAfterInnerFlushAsync(flush, frame);
                }

                flush.GetAwaiter().GetResult();
            }

            Write(frame);
            return default;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    // The slow paths are flat (no pooled async method awaits another): each suspension of the caller costs one
    // pooled box, not one per nesting level.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FeedSlowAsync(ValueTask<int> write, T frame, CancellationToken cancellationToken)
    {
        do
        {
            Wrote(await write.ConfigureAwait(true));
        }
        while (!TryWriteBuffered(cancellationToken, out write));

        await _writer.FlushAsync(cancellationToken).ConfigureAwait(true);
        Write(frame);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FeedAfterInnerFlushAsync(ValueTask flush, T frame)
    {
        await flush.ConfigureAwait(true);
        Write(frame);
    }

    /// <summary>
    /// Buffers <paramref name="frame"/> and flushes it with the frames fed before it. Completes synchronously
    /// when the inner writer takes everything at once.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> the frame is buffered at once, before any I/O; a cancelled call leaves it (and
    /// whatever else was not sent) buffered, as <see cref="FlushAsync"/> does: it goes with the next flush, so do
    /// not send it again.
    /// </remarks>
    /// <exception cref="FrameException">The encoder refused the frame; nothing of it is buffered.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask SendAsync(T frame, CancellationToken cancellationToken = default)
    {
        try
        {
            Write(frame);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }

        return FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Writes every buffered byte to <see cref="Inner"/>, then flushes it. Completes synchronously when the inner
    /// writer takes everything at once (and at once when nothing is buffered and the inner flush is immediate).
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: the bytes not yet taken by the inner writer stay buffered, in order, and the
    /// next flush sends them; nothing is sent twice.
    /// </remarks>
    /// <exception cref="IOException">The inner writer took 0 bytes of a non-empty buffer ("write zero").</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!TryWriteBuffered(cancellationToken, out ValueTask<int> write))
            {
                return FlushSlowAsync(write, cancellationToken);
            }

            return _writer.FlushAsync(cancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushSlowAsync(ValueTask<int> write, CancellationToken cancellationToken)
    {
        do
        {
            Wrote(await write.ConfigureAwait(true));
        }
        while (!TryWriteBuffered(cancellationToken, out write));

        await _writer.FlushAsync(cancellationToken).ConfigureAwait(true);
    }

    /// <summary>
    /// Writes buffered bytes while the inner writer takes them at once: true when all are written; false with the
    /// write that has to be waited for.
    /// </summary>
    private bool TryWriteBuffered(CancellationToken cancellationToken, out ValueTask<int> pending)
    {
        while (_flushed < _buffer.WrittenCount)
        {
            ValueTask<int> write = _writer.WriteAsync(_buffer.WrittenMemory[_flushed..], cancellationToken);
            if (!write.IsCompletedSuccessfully)
            {
                pending = write;
                return false;
            }

            Wrote(write.Result);
        }

        pending = default;
        return true;
    }

    private void Wrote(int n)
    {
        int pending = _buffer.WrittenCount - _flushed;
        if (n <= 0 || n > pending)
        {
            throw n == 0
                ? new IOException($"The inner writer took 0 of {pending} bytes (write zero).")
                : new InvalidOperationException($"The inner writer returned {n} for {pending} bytes.");
        }

        _flushed += n;
        if (_flushed == _buffer.WrittenCount)
        {
            _flushed = 0;
            _buffer.Reset(Math.Max(InitialBufferSize, 2 * _highWaterMark));
        }
    }

    /// <summary>Flushes, then shuts down the inner writer's direction (the peer reads end of stream).</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> as <see cref="FlushAsync"/>: unsent bytes stay buffered; the shutdown has not
    /// happened if the flush was interrupted.
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(true);
        await _writer.ShutdownAsync(cancellationToken).ConfigureAwait(true);
    }

    /// <summary>
    /// Returns the buffer to the pool. Does not flush (bytes still buffered are dropped) and does not dispose
    /// <see cref="Inner"/>. Idempotent.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        ReleaseBuffer();
        return default;
    }

    /// <summary>Returns the buffer to the pool (for <see cref="DisposeAsync"/> and <see cref="Framed{TIn, TOut}.Release"/>).</summary>
    internal void ReleaseBuffer()
    {
        if (!_disposed)
        {
            _disposed = true;
            _flushed = 0;
            _buffer.Release();
        }
    }
}
