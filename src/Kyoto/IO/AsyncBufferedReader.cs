// Invariants: 0 <= _position <= _filled <= _buffer.Length; the unread bytes are _buffer[_position.._filled].
// _position == _filled means the buffer is empty, and then both are reset to 0 before the next fill, so a
// fill always has the whole buffer. Only one operation at a time (the IAsyncReader contract), so no lock.
// A read larger than the buffer, made while the buffer is empty, goes straight to the inner reader (Tokio's
// BufReader does the same): nothing would be gained by copying it through the buffer.
namespace Kyoto.IO;

/// <summary>
/// Adds a buffer to an <see cref="IAsyncReader"/> (Tokio's <c>BufReader</c>): many small reads cost one read of
/// the inner source, and the buffer can be inspected (<see cref="FillBufferAsync"/>), which read line and read
/// until need.
/// </summary>
/// <remarks>
/// Not thread-safe: one operation at a time, like any <see cref="IAsyncReader"/>. Disposing disposes the inner
/// reader if it is <see cref="IDisposable"/>.
/// </remarks>
/// <example>
/// <code>
/// var reader = new AsyncBufferedReader(tcpStream);
/// string? greeting = await reader.ReadLineAsync(cancellationToken);
/// </code>
/// </example>
public sealed class AsyncBufferedReader : IAsyncBufferedReader, IDisposable
{
    /// <summary>The default capacity: 8 KiB.</summary>
    public const int DefaultCapacity = 8 * 1024;

    private readonly IAsyncReader _inner;
    private readonly byte[] _buffer;
    private int _position;
    private int _filled;

    /// <summary>Wraps <paramref name="inner"/> with a buffer of <paramref name="capacity"/> bytes.</summary>
    /// <param name="inner">The source.</param>
    /// <param name="capacity">The buffer size. Defaults to <see cref="DefaultCapacity"/> (8 KiB).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public AsyncBufferedReader(IAsyncReader inner, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _inner = inner;
        _buffer = new byte[capacity];
    }

    /// <summary>The wrapped reader. Reading from it directly skips what is buffered here.</summary>
    public IAsyncReader Inner => _inner;

    /// <summary>The buffer size.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The bytes buffered and not yet read (no wait, no read of the inner source).</summary>
    public ReadOnlyMemory<byte> Buffered => _buffer.AsMemory(_position, _filled - _position);

    /// <summary>
    /// Reads into <paramref name="buffer"/>: from what is buffered if anything is, otherwise by refilling the
    /// buffer, or, for a read at least as large as the buffer, straight from the inner reader.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe if the inner reader's reads are: a cancelled read consumed nothing.</remarks>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return new ValueTask<int>(0);
        }

        if (_position == _filled)
        {
            if (buffer.Length >= _buffer.Length)
            {
                _position = _filled = 0;
                return _inner.ReadAsync(buffer, cancellationToken);
            }

            return ReadThroughFillAsync(buffer, cancellationToken);
        }

        return new ValueTask<int>(CopyOut(buffer.Span));
    }

    private async ValueTask<int> ReadThroughFillAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await FillBufferAsync(cancellationToken).ConfigureAwait(true);
        return CopyOut(buffer.Span);
    }

    private int CopyOut(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _filled - _position);
        _buffer.AsSpan(_position, n).CopyTo(destination);
        _position += n;
        return n;
    }

    /// <inheritdoc />
    /// <remarks><b>Cancel safety:</b> safe if the inner reader's reads are: a cancelled fill buffered nothing.</remarks>
    public ValueTask<ReadOnlyMemory<byte>> FillBufferAsync(CancellationToken cancellationToken = default)
    {
        if (_position < _filled)
        {
            return new ValueTask<ReadOnlyMemory<byte>>(Buffered);
        }

        _position = _filled = 0;
        ValueTask<int> read = _inner.ReadAsync(_buffer, cancellationToken);
        if (read.IsCompletedSuccessfully)
        {
            _filled = read.Result;
            return new ValueTask<ReadOnlyMemory<byte>>(Buffered);
        }

        return FillSlowAsync(read);
    }

    private async ValueTask<ReadOnlyMemory<byte>> FillSlowAsync(ValueTask<int> read)
    {
        _filled = await read.ConfigureAwait(true);
        return Buffered;
    }

    /// <inheritdoc />
    public void Consume(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _filled - _position);
        _position += count;
    }

    /// <summary>Drops what is buffered and disposes the inner reader if it is <see cref="IDisposable"/>.</summary>
    public void Dispose()
    {
        Drop();
        (_inner as IDisposable)?.Dispose();
    }

    /// <summary>Drops what is buffered: later reads go to the inner reader.</summary>
    internal void Drop() => _position = _filled = 0;
}
