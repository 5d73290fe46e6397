// Design of FramedRead<T> (tokio-util's FramedRead):
// - The read buffer is one contiguous array rented from ArrayPool<byte>.Shared; bytes [_start, _end) are
//   received and not yet consumed. The decoder sees them as a single-segment ReadOnlySequence<byte> built over
//   the array (no allocation), and consumes a prefix by slicing it.
// - Bytes move only on a read from the inner reader (compaction towards the start of the array, or growth into a
//   larger one). TryRead never reads and never moves bytes, so frames that are slices of the buffer stay valid
//   until the next call that may read: WaitToReadAsync, ReadAsync, the enumerator's MoveNextAsync, Release,
//   Dispose.
// - Whatever the decoder consumes is committed, even when it throws: a resynchronising decoder (LinesCodec)
//   skips a bad line by consuming it and then throwing.
// - WaitToReadAsync decodes to know a frame is there; that frame waits in _pending for the next TryRead.
// - Cancel safety: the inner reader's contract says a cancelled read consumed nothing; every byte it returned
//   before is in the buffer, so a cancelled wait loses nothing and the next call continues where it stopped.
// - End of stream: once the inner reader returns 0, _eof is set and the decoder is called through
//   TryDecodeEof, which refuses a truncated last frame (TruncatedFrameException).
// - Not thread-safe: one reading task at a time (as any IAsyncReader).
using System.Buffers;
using System.Runtime.CompilerServices;
using Kyoto.IO;

namespace Kyoto.Codec;

/// <summary>
/// Reads frames from a byte stream (tokio-util's <c>FramedRead</c>): buffers what <see cref="Inner"/> returns and
/// asks the <see cref="IDecoder{T}"/> for frames, reading more only when no whole frame is buffered.
/// </summary>
/// <typeparam name="T">The frame type.</typeparam>
/// <remarks>
/// <para>The buffer is rented from <see cref="ArrayPool{T}.Shared"/> and grows (doubling) only when a frame does
/// not fit; once warm, reading a frame allocates nothing beyond what the decoder creates for the frame
/// itself. <see cref="DisposeAsync"/> returns the buffer to the pool; it does not dispose <see cref="Inner"/>.</para>
/// <para><b>Frame lifetime:</b> a decoder that returns slices of the buffer (such as
/// <see cref="LengthDelimitedCodec"/> or <see cref="BytesCodec"/>) returns frames that are valid until the next
/// call that may read from the stream (<see cref="WaitToReadAsync"/>, <see cref="ReadAsync"/>, the enumerator's
/// <c>MoveNextAsync</c>, <see cref="Release"/>, <see cref="DisposeAsync"/>). Frames taken by successive
/// <see cref="TryRead"/> calls all stay valid together. Copy a frame (or use <see cref="CopyingDecoder"/>) to keep
/// it longer.</para>
/// <para>One reading task at a time. Concurrent reads on one framed reader are not supported.</para>
/// </remarks>
/// <example>
/// A server loop that answers every buffered request before flushing once, then waits for more:
/// <code>
/// await using var input = new FramedRead&lt;string&gt;(stream, new LinesCodec());
/// await using var output = new FramedWrite&lt;string&gt;(stream, new LinesCodec());
/// while (await input.WaitToReadAsync(cancellationToken))
/// {
///     while (input.TryRead(out string line))
///     {
///         output.Write(line.ToUpperInvariant());
///     }
///     await output.FlushAsync(cancellationToken);
/// }
/// </code>
/// </example>
public sealed partial class FramedRead<T> : IAsyncEnumerable<T>, IAsyncDisposable
{
    // Reads ask for at least this much free space (compacting or growing first), so a read is never tiny.
    private const int MinimumReadSize = 256;

    private readonly IAsyncReader _reader;
    private readonly IDecoder<T> _decoder;
    private readonly int _initialBufferSize;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private bool _released;
    private bool _hasPending;
    private T _pending = default!;

    /// <summary>Creates a framed reader over <paramref name="reader"/>, decoding with <paramref name="decoder"/>.</summary>
    /// <param name="reader">The byte stream; not owned (not disposed by this reader).</param>
    /// <param name="decoder">Turns buffered bytes into frames.</param>
    /// <param name="initialBufferSize">The read buffer's first size (it grows for larger frames). Defaults to 8192.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initialBufferSize"/> is not positive.</exception>
    public FramedRead(IAsyncReader reader, IDecoder<T> decoder, int initialBufferSize = 8192)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialBufferSize);
        _reader = reader;
        _decoder = decoder;
        _initialBufferSize = Math.Max(initialBufferSize, MinimumReadSize);
        _buffer = ArrayPool<byte>.Shared.Rent(_initialBufferSize);
    }

    /// <summary>The byte stream frames are read from.</summary>
    public IAsyncReader Inner => _reader;

    /// <summary>The decoder.</summary>
    public IDecoder<T> Decoder => _decoder;

    /// <summary>
    /// The bytes received and not yet decoded (a frame decoded by <see cref="WaitToReadAsync"/> and not yet taken
    /// by <see cref="TryRead"/> is no longer in it). Valid until the next call that may read.
    /// </summary>
    public ReadOnlySequence<byte> ReadBuffer => new(_buffer, _start, _end - _start);

    /// <summary>True once the inner reader has returned end of stream.</summary>
    public bool IsEndOfStream => _eof;

    /// <summary>
    /// Takes the next frame if one can be decoded from the bytes already buffered. Never reads, never waits.
    /// </summary>
    /// <param name="frame">The frame, when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> if a frame was decoded; <see langword="false"/> if more bytes are needed.</returns>
    /// <exception cref="FrameException">The decoder refused the buffered bytes.</exception>
    /// <exception cref="TruncatedFrameException">The stream has ended and the buffered bytes are not a whole frame.</exception>
    public bool TryRead(out T frame)
    {
        if (_hasPending)
        {
            frame = _pending;
            _pending = default!;
            _hasPending = false;
            return true;
        }

        ThrowIfReleased();
        return TryDecodeBuffered(out frame);
    }

    /// <summary>
    /// Waits until a frame can be taken by <see cref="TryRead"/>: <see langword="true"/>; or the stream ended
    /// cleanly (no bytes left over): <see langword="false"/>. Completes synchronously when a frame is already
    /// buffered or the inner reader has bytes at once.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: every byte received before the cancellation stays in the buffer, and the next
    /// call continues with it.
    /// </remarks>
    /// <exception cref="TruncatedFrameException">The stream ended in the middle of a frame.</exception>
    /// <exception cref="FrameException">The decoder refused the bytes.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return TryWaitSynchronously(cancellationToken, out bool ready, out ValueTask<int> read)
                ? new ValueTask<bool>(ready)
                : (_waitSource ??= new WaitSource(this)).Start(read, cancellationToken);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<bool>(e);
        }
    }

    /// <summary>
    /// Decodes and reads while the inner reader answers at once: true with <paramref name="ready"/> (a frame is
    /// pending, or false at a clean end of stream); false with the read that has to be waited for.
    /// </summary>
    private bool TryWaitSynchronously(CancellationToken cancellationToken, out bool ready, out ValueTask<int> read)
    {
        read = default;
        if (_hasPending)
        {
            ready = true;
            return true;
        }

        ThrowIfReleased();
        while (true)
        {
            if (TryDecodeBuffered(out T frame))
            {
                _pending = frame;
                _hasPending = true;
                ready = true;
                return true;
            }

            if (_eof)
            {
                ready = false;
                return true;
            }

            read = _reader.ReadAsync(PrepareRead(), cancellationToken);
            if (!read.IsCompletedSuccessfully)
            {
                ready = false;
                return false;
            }

            Received(read.Result);
        }
    }

    // The wait that has to read is a reusable source (FramedRead.WaitSource.cs: no allocation per wait); ReadAsync's
    // slow path is a pooled async method, flat (it does not await WaitToReadAsync's).

    /// <summary>
    /// Reads the next frame, reading from the stream as needed. Completes synchronously when a frame is buffered.
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: no frame is lost and every byte received stays buffered (as
    /// <see cref="WaitToReadAsync"/>).
    /// </remarks>
    /// <exception cref="EndOfStreamException">The stream ended cleanly: there is no next frame.</exception>
    /// <exception cref="TruncatedFrameException">The stream ended in the middle of a frame.</exception>
    /// <exception cref="FrameException">The decoder refused the bytes.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<T> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (!TryWaitSynchronously(cancellationToken, out _, out ValueTask<int> read))
            {
                return ReadSlowAsync(read, cancellationToken);
            }

            return TryRead(out T frame) ? new ValueTask<T>(frame) : ValueTask.FromException<T>(EndOfStream());
        }
        catch (Exception e)
        {
            return ValueTask.FromException<T>(e);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<T> ReadSlowAsync(ValueTask<int> read, CancellationToken cancellationToken)
    {
        do
        {
            Received(await read.ConfigureAwait(true));
        }
        while (!TryWaitSynchronously(cancellationToken, out _, out read));

        return TryRead(out T frame) ? frame : throw EndOfStream();
    }

    /// <summary>The frames of the stream until it ends cleanly.</summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe between frames: a cancelled enumeration loses no received byte, and a new
    /// enumeration (or <see cref="ReadAsync"/>) continues with the next frame.
    /// </remarks>
    /// <exception cref="TruncatedFrameException">The stream ended in the middle of a frame (thrown by the enumeration).</exception>
    /// <exception cref="FrameException">The decoder refused the bytes (thrown by the enumeration).</exception>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(true))
        {
            while (TryRead(out T frame))
            {
                yield return frame;
            }
        }
    }

    /// <summary>Enumerates the frames as <see cref="ReadAllAsync"/> does.</summary>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>
    /// Stops framing and hands back the stream: a reader that first returns the bytes received and not decoded
    /// (copied out of the pooled buffer), then reads <see cref="Inner"/>. Use it to switch protocol mid-stream:
    /// <c>new FramedRead&lt;TOther&gt;(framed.Release(), otherDecoder)</c>. The buffer goes back to the pool; this
    /// reader cannot be used afterwards.
    /// </summary>
    /// <returns><see cref="Inner"/> itself when no bytes are left over; else a <see cref="PrefixedReader"/>.</returns>
    /// <exception cref="InvalidOperationException">
    /// A frame decoded by <see cref="WaitToReadAsync"/> has not been taken by <see cref="TryRead"/>.
    /// </exception>
    public IAsyncReader Release()
    {
        byte[] leftover = ReleaseBuffer();
        return leftover.Length == 0 ? _reader : new PrefixedReader(leftover, _reader);
    }

    /// <summary>Takes the unread bytes out and gives the buffer back to the pool (for <see cref="Release"/> and <see cref="Framed{TIn, TOut}.Release"/>).</summary>
    internal byte[] ReleaseBuffer()
    {
        ThrowIfReleased();
        if (_hasPending)
        {
            throw new InvalidOperationException("A decoded frame has not been taken: call TryRead until it returns false before releasing the stream.");
        }

        byte[] leftover = _buffer.AsSpan(_start, _end - _start).ToArray();
        ReturnBuffer();
        return leftover;
    }

    /// <summary>Returns the buffer to the pool. Does not dispose <see cref="Inner"/>. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_released)
        {
            _hasPending = false;
            _pending = default!;
            ReturnBuffer();
        }

        return default;
    }

    private void ReturnBuffer()
    {
        _released = true;
        byte[] buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        ArrayPool<byte>.Shared.Return(buffer);
    }

    private void ThrowIfReleased()
    {
        if (_released)
        {
            throw new ObjectDisposedException(GetType().Name, "The framed reader was released or disposed.");
        }
    }

    private static EndOfStreamException EndOfStream() => new("The stream ended: there is no next frame.");

    /// <summary>Decodes from the buffered bytes, committing what the decoder consumed even when it throws.</summary>
    private bool TryDecodeBuffered(out T frame)
    {
        int length = _end - _start;
        if (length == 0 && !_eof)
        {
            // Nothing to decode; a decoder never returns a frame from no bytes before end of stream... except one
            // that makes empty frames from nothing, which would loop forever anyway.
            frame = default!;
            return false;
        }

        var buffer = new ReadOnlySequence<byte>(_buffer, _start, length);
        try
        {
            return _eof ? _decoder.TryDecodeEof(ref buffer, out frame) : _decoder.TryDecode(ref buffer, out frame);
        }
        finally
        {
            long consumed = length - buffer.Length;
            if (consumed < 0 || consumed > length)
            {
                throw new InvalidOperationException("The decoder returned a buffer that is not a suffix of the one it was given.");
            }

            _start += (int)consumed;
            if (_start == _end)
            {
                _start = _end = 0;
            }
        }
    }

    /// <summary>Makes room for a read (compacting or growing) and returns the free space.</summary>
    private Memory<byte> PrepareRead()
    {
        int unread = _end - _start;
        if (unread == 0 && _buffer.Length > 4 * _initialBufferSize)
        {
            // A large frame grew the buffer; give the memory back once it is drained.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(_initialBufferSize);
        }

        int free = _buffer.Length - _end;
        if (free < MinimumReadSize || (_start > 0 && free < _buffer.Length / 2))
        {
            if (_start > 0 && unread <= _buffer.Length / 2)
            {
                // Compact: move the unread bytes (at most half the buffer, usually a partial frame) to the front.
                _buffer.AsSpan(_start, unread).CopyTo(_buffer);
            }
            else
            {
                // Grow: the unread bytes fill more than half the buffer (a frame larger than it, in the making).
                long size = Math.Min((long)_buffer.Length * 2, Array.MaxLength);
                if (size - unread < MinimumReadSize)
                {
                    throw new OutOfMemoryException("The framed reader's buffer cannot grow past Array.MaxLength.");
                }

                byte[] bigger = ArrayPool<byte>.Shared.Rent((int)size);
                _buffer.AsSpan(_start, unread).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }

            _start = 0;
            _end = unread;
        }

        return _buffer.AsMemory(_end);
    }

    private void Received(int n)
    {
        if (n == 0)
        {
            _eof = true;
            return;
        }

        if (n < 0 || n > _buffer.Length - _end)
        {
            throw new InvalidOperationException($"The inner reader returned {n}, outside the buffer it was given.");
        }

        _end += n;
    }
}
