namespace Kyoto.IO;

/// <summary>
/// One end of an in-memory connection made by <see cref="MemoryDuplex.Create"/>: reads what the other end
/// writes, writes what the other end reads.
/// </summary>
/// <remarks>
/// <para>Thread-safe for one reader and one writer at a time (they may be different tasks on different
/// threads); as with a socket, two concurrent reads (or writes) on one end are not supported.</para>
/// <para>Closing: <see cref="ShutdownAsync"/> closes this end's write direction (the other end reads the bytes
/// already written, then end of stream) and this end can still read. <see cref="Dispose"/> closes both: the
/// other end reads end of stream after draining, and its writes fail with <see cref="IOException"/> ("broken
/// pipe"); bytes this end had not read are dropped.</para>
/// </remarks>
public sealed class MemoryDuplexEnd : IAsyncDuplex, IDisposable
{
    private readonly MemoryDuplexChannel _read;
    private readonly MemoryDuplexChannel _write;

    internal MemoryDuplexEnd(MemoryDuplexChannel read, MemoryDuplexChannel write)
    {
        _read = read;
        _write = write;
    }

    /// <summary>Tasks waiting on this end's read or write (a snapshot, for tests).</summary>
    internal int WaiterCount => _read.WaiterCount + _write.WaiterCount;

    /// <summary>Bytes written by this end that the other end has not read yet (a snapshot).</summary>
    internal int PendingWrite => _write.Buffered;

    /// <summary>
    /// Reads what the other end wrote, waiting until there is something: the count; 0 once the other end shut
    /// down or was disposed and everything it wrote has been read.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled read has read nothing, and leaves no waiter behind.</remarks>
    /// <exception cref="ObjectDisposedException">This end was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _read.ReadAsync(buffer, cancellationToken);

    /// <summary>
    /// Writes as much of <paramref name="buffer"/> as the direction has room for, waiting while it is full: the
    /// count (at least 1 unless the buffer is empty).
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled write has written nothing, and leaves no waiter behind.</remarks>
    /// <exception cref="IOException">
    /// The other end was disposed ("broken pipe"), or this end's write side was shut down.
    /// </exception>
    /// <exception cref="ObjectDisposedException">This end was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _write.WriteAsync(buffer, cancellationToken);

    /// <summary>Completes at once: a written byte is readable by the other end immediately.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled(cancellationToken) : default;

    /// <summary>
    /// Closes this end's write direction: the other end reads what was written, then end of stream. This end
    /// can still read. Idempotent.
    /// </summary>
    /// <exception cref="ObjectDisposedException">This end was disposed.</exception>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            _write.ShutdownWriter();
            return default;
        }
        catch (ObjectDisposedException e)
        {
            return ValueTask.FromException(e);
        }
    }

    /// <summary>
    /// Closes both directions: the other end reads end of stream once it has drained what this end wrote, and
    /// its writes fail with "broken pipe". Pending operations on this end fail with
    /// <see cref="ObjectDisposedException"/>. Idempotent.
    /// </summary>
    public void Dispose()
    {
        _write.DisposeWriter();
        _read.DisposeReader();
    }
}
