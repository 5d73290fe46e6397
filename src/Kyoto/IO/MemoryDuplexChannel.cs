// One direction of a MemoryDuplex: a bounded ring buffer with one writing end and one reading end.
//
// Invariants (every field below is read and written only under _lock, except the two Notify objects, which
// have their own lock and are signalled after _lock is released):
//  1. 0 <= _count <= _buffer.Length; the unread bytes are _buffer[_head .. _head + _count) modulo the length,
//     in the order they were written. A read removes a prefix, a write appends; nothing is ever reordered.
//  2. The reader waits (on _readable) only after seeing _count == 0 with the writer open; the writer waits (on
//     _writable) only after seeing _count == _buffer.Length with both sides open. Every change out of those
//     states (a write into an empty buffer, a read from a full one, any close) signals the matching Notify
//     after the lock is released. Notify.NotifyOne stores a permit when nobody waits yet, so a signal sent
//     between a side's check and its wait is not lost; a stale permit only costs one extra check.
//  3. A waiter is a Notify wait, nothing else: it transfers no bytes. So a cancelled or aborted wait loses
//     nothing, and Notify takes the waiter out of its queue on cancellation (no leak).
//  4. _writer only moves Open -> ShutDown -> Disposed or Open -> Disposed; _readerDisposed only false -> true.
//     Once the reader is disposed the buffered bytes are dropped (nobody can read them) and every write fails
//     with "broken pipe". Once the writer is not Open, the reader drains what is buffered, then reads 0.
//  5. The coop budget is spent before an operation that can complete at once; out of budget, the operation
//     yields first, so a task looping over a pipe that is always ready cannot starve its worker.
using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.IO;

/// <summary>One direction of a <see cref="MemoryDuplex"/> pair (see the invariants at the top of the file).</summary>
internal sealed class MemoryDuplexChannel
{
    private enum WriterState
    {
        Open,
        ShutDown,
        Disposed,
    }

    private readonly Lock _lock = new();
    private readonly byte[] _buffer;
    private readonly Notify _readable = new();
    private readonly Notify _writable = new();
    private int _head;
    private int _count;
    private WriterState _writer;
    private bool _readerDisposed;

    internal MemoryDuplexChannel(int capacity) => _buffer = new byte[capacity];

    /// <summary>Bytes buffered (a snapshot).</summary>
    internal int Buffered
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Tasks waiting on this direction (a snapshot, for tests).</summary>
    internal int WaiterCount => _readable.WaiterCount + _writable.WaiterCount;

    internal ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (!Coop.TryConsume())
        {
            return ReadSlowAsync(destination, yieldFirst: true, cancellationToken);
        }

        try
        {
            if (TryRead(destination.Span, out int n))
            {
                return new ValueTask<int>(n);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Failures travel in the ValueTask, as they would from an async method.
            return ValueTask.FromException<int>(e);
        }

        return ReadSlowAsync(destination, yieldFirst: false, cancellationToken);
    }

    private async ValueTask<int> ReadSlowAsync(Memory<byte> destination, bool yieldFirst, CancellationToken cancellationToken)
    {
        if (yieldFirst)
        {
            await KyotoTask.Yield();
        }

        while (true)
        {
            if (TryRead(destination.Span, out int n))
            {
                return n;
            }

            await _readable.NotifiedAsync(cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>True with the count read (0 at end of stream), or false if the reader must wait.</summary>
    private bool TryRead(Span<byte> destination, out int read)
    {
        bool wasFull;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_readerDisposed, typeof(MemoryDuplexEnd));
            if (destination.IsEmpty)
            {
                read = 0;
                return true;
            }

            if (_count == 0)
            {
                read = 0;
                return _writer != WriterState.Open;
            }

            wasFull = _count == _buffer.Length;
            read = Math.Min(destination.Length, _count);
            int first = Math.Min(read, _buffer.Length - _head);
            _buffer.AsSpan(_head, first).CopyTo(destination);
            _buffer.AsSpan(0, read - first).CopyTo(destination[first..]);
            _head = (_head + read) % _buffer.Length;
            _count -= read;
            if (_count == 0)
            {
                _head = 0;
            }
        }

        if (wasFull)
        {
            _writable.NotifyOne();
        }

        return true;
    }

    internal ValueTask<int> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (!Coop.TryConsume())
        {
            return WriteSlowAsync(source, yieldFirst: true, cancellationToken);
        }

        try
        {
            if (TryWrite(source.Span, out int n))
            {
                return new ValueTask<int>(n);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Failures travel in the ValueTask, as they would from an async method.
            return ValueTask.FromException<int>(e);
        }

        return WriteSlowAsync(source, yieldFirst: false, cancellationToken);
    }

    private async ValueTask<int> WriteSlowAsync(ReadOnlyMemory<byte> source, bool yieldFirst, CancellationToken cancellationToken)
    {
        if (yieldFirst)
        {
            await KyotoTask.Yield();
        }

        while (true)
        {
            if (TryWrite(source.Span, out int n))
            {
                return n;
            }

            await _writable.NotifiedAsync(cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>True with the count written, or false if the writer must wait; throws once either side closed.</summary>
    private bool TryWrite(ReadOnlySpan<byte> source, out int written)
    {
        bool wasEmpty;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_writer == WriterState.Disposed, typeof(MemoryDuplexEnd));
            if (_writer == WriterState.ShutDown)
            {
                throw new IOException("Cannot write to a memory duplex end after its write side was shut down.");
            }

            if (_readerDisposed)
            {
                throw new IOException("broken pipe: the other end of the memory duplex was disposed.");
            }

            if (source.IsEmpty)
            {
                written = 0;
                return true;
            }

            int space = _buffer.Length - _count;
            if (space == 0)
            {
                written = 0;
                return false;
            }

            wasEmpty = _count == 0;
            written = Math.Min(space, source.Length);
            int tail = (_head + _count) % _buffer.Length;
            int first = Math.Min(written, _buffer.Length - tail);
            source[..first].CopyTo(_buffer.AsSpan(tail));
            source[first..written].CopyTo(_buffer);
            _count += written;
        }

        if (wasEmpty)
        {
            _readable.NotifyOne();
        }

        return true;
    }

    /// <summary>The writing end shuts down: the reader drains, then reads 0. Idempotent.</summary>
    internal void ShutdownWriter()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_writer == WriterState.Disposed, typeof(MemoryDuplexEnd));
            if (_writer != WriterState.Open)
            {
                return;
            }

            _writer = WriterState.ShutDown;
        }

        _readable.NotifyOne();
    }

    /// <summary>The writing end is disposed: as a shutdown for the reader; its own pending write fails.</summary>
    internal void DisposeWriter()
    {
        lock (_lock)
        {
            _writer = WriterState.Disposed;
        }

        _readable.NotifyOne();
        _writable.NotifyOne();
    }

    /// <summary>The reading end is disposed: buffered bytes are dropped, writes fail with broken pipe.</summary>
    internal void DisposeReader()
    {
        lock (_lock)
        {
            _readerDisposed = true;
            _head = _count = 0;
        }

        _readable.NotifyOne();
        _writable.NotifyOne();
    }
}
