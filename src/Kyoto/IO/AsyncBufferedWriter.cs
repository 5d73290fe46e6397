// Invariants: 0 <= _flushed <= _count <= _buffer.Length; the bytes still owed to the inner writer are
// _buffer[_flushed.._count], in the order they were written. A flush that is cancelled or fails midway keeps
// _flushed where it got to, so a retry never writes a byte twice and never skips one. When the buffer drains,
// both return to 0. A write that does not fit first drains the buffer, so bytes reach the inner writer in the
// order the caller wrote them; a write at least as large as the buffer, once it is empty, goes straight through
// (Tokio's BufWriter does the same). One operation at a time (the IAsyncWriter contract), so no lock. Once shut
// down or disposed, writes throw (the IAsyncWriter contract) instead of buffering bytes no flush will send.
namespace Kyoto.IO;

/// <summary>
/// Adds a buffer to an <see cref="IAsyncWriter"/> (Tokio's <c>BufWriter</c>): many small writes cost one write
/// of the inner sink. Bytes reach the inner writer when the buffer fills, on <see cref="FlushAsync"/>, and on
/// <see cref="ShutdownAsync"/>.
/// </summary>
/// <remarks>
/// Call <see cref="FlushAsync"/> (or <see cref="ShutdownAsync"/>) before dropping the writer: what is still
/// buffered is lost otherwise, as there is no asynchronous flush on dispose. Not thread-safe: one operation
/// at a time, like any <see cref="IAsyncWriter"/>.
/// </remarks>
/// <example>
/// <code>
/// var writer = new AsyncBufferedWriter(tcpStream);
/// foreach (string line in lines)
/// {
///     await writer.WriteAllAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);
/// }
/// await writer.FlushAsync(cancellationToken);
/// </code>
/// </example>
public sealed class AsyncBufferedWriter : IAsyncWriter, IDisposable
{
    /// <summary>The default capacity: 8 KiB.</summary>
    public const int DefaultCapacity = 8 * 1024;

    private readonly IAsyncWriter _inner;
    private readonly byte[] _buffer;
    private int _flushed;
    private int _count;
    private int _closed; // Open, ShutDown or Disposed
    private const int Open = 0;
    private const int ShutDown = 1;
    private const int Disposed = 2;

    /// <summary>Wraps <paramref name="inner"/> with a buffer of <paramref name="capacity"/> bytes.</summary>
    /// <param name="inner">The sink.</param>
    /// <param name="capacity">The buffer size. Defaults to <see cref="DefaultCapacity"/> (8 KiB).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public AsyncBufferedWriter(IAsyncWriter inner, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _inner = inner;
        _buffer = new byte[capacity];
    }

    /// <summary>The wrapped writer. Writing to it directly overtakes what is buffered here.</summary>
    public IAsyncWriter Inner => _inner;

    /// <summary>The buffer size.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The bytes buffered and not yet written to the inner writer.</summary>
    public ReadOnlyMemory<byte> Buffered => _buffer.AsMemory(_flushed, _count - _flushed);

    /// <summary>
    /// Buffers <paramref name="buffer"/> (all of it) if it fits, first writing out what is buffered if it does
    /// not; a buffer at least as large as the capacity is written straight to the inner writer (which may take
    /// only a prefix: the count says how much).
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe if the inner writer's writes are: a cancelled write took none of
    /// <paramref name="buffer"/> (buffered bytes written out before the cancellation stay written).
    /// </remarks>
    /// <exception cref="IOException">The inner writer took 0 bytes while draining the buffer ("write zero"), or the writer was shut down.</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_closed != Open)
        {
            return ValueTask.FromException<int>(ClosedError());
        }

        if (buffer.IsEmpty)
        {
            return new ValueTask<int>(0);
        }

        if (_count + buffer.Length <= _buffer.Length && buffer.Length < _buffer.Length)
        {
            buffer.Span.CopyTo(_buffer.AsSpan(_count));
            _count += buffer.Length;
            return new ValueTask<int>(buffer.Length);
        }

        return WriteSlowAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> WriteSlowAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await WriteOutBufferAsync(cancellationToken).ConfigureAwait(true);
        if (buffer.Length >= _buffer.Length)
        {
            return await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(true);
        }

        buffer.Span.CopyTo(_buffer);
        _count = buffer.Length;
        return buffer.Length;
    }

    /// <summary>Writes everything buffered to the inner writer, then flushes it.</summary>
    /// <remarks><b>Cancel safety:</b> safe: what was written out before the cancellation has left the buffer; the rest stays.</remarks>
    /// <exception cref="IOException">The inner writer took 0 bytes ("write zero").</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed == Disposed, this);
        await WriteOutBufferAsync(cancellationToken).ConfigureAwait(true);
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(true);
    }

    /// <summary>Writes everything buffered to the inner writer, then shuts it down (which flushes it).</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="FlushAsync"/>.</remarks>
    /// <exception cref="IOException">The inner writer took 0 bytes ("write zero").</exception>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public async ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed == Disposed, this);
        await WriteOutBufferAsync(cancellationToken).ConfigureAwait(true);
        await _inner.ShutdownAsync(cancellationToken).ConfigureAwait(true);
        _closed = ShutDown;
    }

    private Exception ClosedError() => _closed == Disposed
        ? new ObjectDisposedException(nameof(AsyncBufferedWriter))
        : new IOException("The writer was shut down: nothing more can be written.");

    private async ValueTask WriteOutBufferAsync(CancellationToken cancellationToken)
    {
        while (_flushed < _count)
        {
            int n = await _inner.WriteAsync(_buffer.AsMemory(_flushed, _count - _flushed), cancellationToken).ConfigureAwait(true);
            if (n <= 0)
            {
                throw new IOException("write zero: the inner writer took 0 bytes of a non-empty buffer.");
            }

            _flushed += n;
        }

        _flushed = _count = 0;
    }

    /// <summary>Drops what is buffered (unwritten) and disposes the inner writer if it is <see cref="IDisposable"/>.</summary>
    public void Dispose()
    {
        Drop();
        (_inner as IDisposable)?.Dispose();
    }

    /// <summary>Drops what is buffered; writes throw <see cref="ObjectDisposedException"/> from here on.</summary>
    internal void Drop()
    {
        _flushed = _count = 0;
        _closed = Disposed;
    }
}
