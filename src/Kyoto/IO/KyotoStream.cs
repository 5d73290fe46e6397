// KyotoStream: a System.IO.Stream over Kyoto's IAsyncReader/IAsyncWriter, so BCL code that takes a Stream
// (SslStream, GZipStream, PipeReader.Create, StreamReader, HttpContent...) runs over Kyoto sockets.
//
// Design:
//  - The Memory/ValueTask overloads are the fast path: ReadAsync returns the inner reader's ValueTask as is;
//    WriteAsync returns a completed ValueTask when the first partial write took everything, and otherwise loops
//    (Stream.WriteAsync writes all bytes, IAsyncWriter.WriteAsync may take a prefix).
//  - The array/Task overloads and Begin/End forward to them (the base Stream would run a synchronous Read on
//    the thread pool instead).
//  - The synchronous Read/Write/Flush block the caller, which is only allowed off the runtime's workers
//    (a blocking-pool thread, the test thread, a foreign thread): on a worker they throw
//    InvalidOperationException before starting anything, because a blocked worker cannot drive the I/O that
//    would unblock it.
//  - Threading: the stream adds no awaits of its own except in the write loop, which uses ConfigureAwait(true);
//    a Kyoto awaitable resumes on its runtime whatever the caller's ConfigureAwait, so BCL callers that use
//    ConfigureAwait(false) (SslStream, StreamPipeReader) still continue on a runtime worker.
//
// Invariants:
//  1. At most one read and one write in flight at once (what Stream allows and SslStream does); the adapter
//     keeps no per-operation state, so it needs no lock.
//  2. _disposed goes 0 -> 1 once; the inner objects are disposed once, by whoever flips it, unless leaveOpen.
using System.Buffers;
using Kyoto.Sync;

namespace Kyoto.IO;

/// <summary>
/// A <see cref="Stream"/> over a Kyoto <see cref="IAsyncReader"/> and/or <see cref="IAsyncWriter"/> (usually one
/// <see cref="IAsyncDuplex"/> such as <c>Kyoto.Net.TcpStream</c>): hands Kyoto connections to BCL code that
/// takes a <see cref="Stream"/>, such as <see cref="System.Net.Security.SslStream"/>.
/// </summary>
/// <remarks>
/// <para><see cref="ReadAsync(Memory{byte}, CancellationToken)"/> forwards the inner reader's
/// <see cref="ValueTask{TResult}"/> unchanged (0 at end of stream); <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// writes every byte, looping over partial writes. The synchronous <see cref="Read(byte[], int, int)"/>,
/// <see cref="Write(byte[], int, int)"/> and <see cref="Flush"/> block and therefore throw
/// <see cref="InvalidOperationException"/> on a Kyoto worker thread; call them from <c>KyotoTask.SpawnBlocking</c>
/// or a non-runtime thread. The stream cannot seek.</para>
/// <para>Disposing the stream disposes the inner reader and writer (through <see cref="IAsyncDisposable"/> or
/// <see cref="IDisposable"/>) unless it was created with <c>leaveOpen</c>.</para>
/// </remarks>
/// <example>
/// <code>
/// using TcpStream tcp = await TcpStream.ConnectAsync(endPoint);
/// await using var tls = new SslStream(tcp.AsStream());
/// await tls.AuthenticateAsClientAsync("example.com");
/// </code>
/// </example>
public sealed class KyotoStream : Stream
{
    private readonly IAsyncReader? _reader;
    private readonly IAsyncWriter? _writer;
    private readonly bool _leaveOpen;
    private int _disposed;

    /// <summary>Creates a readable and writable stream over <paramref name="duplex"/>.</summary>
    /// <param name="duplex">The Kyoto stream to adapt.</param>
    /// <param name="leaveOpen">True to leave <paramref name="duplex"/> undisposed when this stream is disposed. Defaults to false.</param>
    public KyotoStream(IAsyncDuplex duplex, bool leaveOpen = false)
        : this(duplex ?? throw new ArgumentNullException(nameof(duplex)), duplex, leaveOpen)
    {
    }

    /// <summary>
    /// Creates a stream that reads from <paramref name="reader"/> and writes to <paramref name="writer"/>
    /// (either may be null, not both): for example the two halves of a split connection.
    /// </summary>
    /// <param name="reader">Where reads come from; null for a write-only stream.</param>
    /// <param name="writer">Where writes go; null for a read-only stream.</param>
    /// <param name="leaveOpen">True to leave both undisposed when this stream is disposed. Defaults to false.</param>
    /// <exception cref="ArgumentException">Both are null.</exception>
    public KyotoStream(IAsyncReader? reader, IAsyncWriter? writer, bool leaveOpen = false)
    {
        if (reader is null && writer is null)
        {
            throw new ArgumentException("A KyotoStream needs a reader, a writer, or both.", nameof(reader));
        }

        _reader = reader;
        _writer = writer;
        _leaveOpen = leaveOpen;
    }

    /// <summary>The reader under this stream, or null if it is write-only.</summary>
    public IAsyncReader? InnerReader => _reader;

    /// <summary>The writer under this stream, or null if it is read-only.</summary>
    public IAsyncWriter? InnerWriter => _writer;

    /// <summary>True while the stream is open and has a reader.</summary>
    public override bool CanRead => _reader is not null && !IsDisposed;

    /// <summary>True while the stream is open and has a writer.</summary>
    public override bool CanWrite => _writer is not null && !IsDisposed;

    /// <summary>Always false: a Kyoto stream cannot seek.</summary>
    public override bool CanSeek => false;

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Length => throw new NotSupportedException("A KyotoStream cannot seek.");

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Position
    {
        get => throw new NotSupportedException("A KyotoStream cannot seek.");
        set => throw new NotSupportedException("A KyotoStream cannot seek.");
    }

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Reads into <paramref name="buffer"/>, waiting until at least one byte is available.</summary>
    /// <returns>The byte count; 0 at end of stream (or for an empty buffer).</returns>
    /// <remarks><b>Cancel safety:</b> that of the inner reader (a Kyoto socket read cancelled through its token has read nothing).</remarks>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="NotSupportedException">The stream has no reader.</exception>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        IAsyncReader reader = Reader();
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<int>(cancellationToken)
            : reader.ReadAsync(buffer, cancellationToken);
    }

    /// <inheritdoc cref="ReadAsync(Memory{byte}, CancellationToken)"/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Writes all of <paramref name="buffer"/>, looping over the inner writer's partial writes.</summary>
    /// <remarks><b>Cancel safety:</b> not safe: a write cancelled midway may have written a prefix of the buffer.</remarks>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="NotSupportedException">The stream has no writer.</exception>
    /// <exception cref="IOException">The inner writer took no bytes of a non-empty buffer (a broken writer).</exception>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        IAsyncWriter writer = Writer();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (buffer.IsEmpty)
        {
            return default;
        }

        ValueTask<int> first = writer.WriteAsync(buffer, cancellationToken);
        if (first.IsCompletedSuccessfully)
        {
            int n = Checked(first.Result, buffer.Length);
            return n == buffer.Length ? default : WriteRemainingAsync(writer, buffer[n..], cancellationToken);
        }

        return WriteSlowAsync(writer, first, buffer, cancellationToken);
    }

    /// <inheritdoc cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Flushes the inner writer; completes at once for a read-only stream.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        return _writer is null ? Task.CompletedTask : _writer.FlushAsync(cancellationToken).AsTask();
    }

    /// <summary>
    /// Flushes and closes the write direction of the inner writer (<see cref="IAsyncWriter.ShutdownAsync"/>: a
    /// socket sends FIN, the peer reads end of stream); reading goes on. A <see cref="Stream"/> has no such
    /// operation, so code that owns the <see cref="KyotoStream"/> calls it directly, for example after
    /// <see cref="System.Net.Security.SslStream.ShutdownAsync"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    /// <exception cref="NotSupportedException">The stream has no writer.</exception>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => Writer().ShutdownAsync(cancellationToken);

    /// <summary>Reads synchronously, blocking the caller: not on a Kyoto worker thread.</summary>
    /// <exception cref="InvalidOperationException">Called on a Kyoto runtime worker thread.</exception>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        BlockingWait.ThrowIfOnWorker("KyotoStream.Read");
        return BlockingWait.Wait(ReadAsync(buffer.AsMemory(offset, count)));
    }

    /// <inheritdoc cref="Read(byte[], int, int)"/>
    public override int Read(Span<byte> buffer)
    {
        BlockingWait.ThrowIfOnWorker("KyotoStream.Read");
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = BlockingWait.Wait(ReadAsync(rented.AsMemory(0, buffer.Length)));
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Writes all bytes synchronously, blocking the caller: not on a Kyoto worker thread.</summary>
    /// <exception cref="InvalidOperationException">Called on a Kyoto runtime worker thread.</exception>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        BlockingWait.ThrowIfOnWorker("KyotoStream.Write");
        BlockingWait.Wait(WriteAsync(buffer.AsMemory(offset, count)));
    }

    /// <inheritdoc cref="Write(byte[], int, int)"/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        BlockingWait.ThrowIfOnWorker("KyotoStream.Write");
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            buffer.CopyTo(rented);
            BlockingWait.Wait(WriteAsync(rented.AsMemory(0, buffer.Length)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Flushes synchronously. A flush that completes at once (a Kyoto socket buffers nothing) is allowed
    /// anywhere; one that would block throws on a Kyoto worker thread (after it has started).
    /// </summary>
    /// <exception cref="InvalidOperationException">The flush would block a Kyoto runtime worker thread.</exception>
    public override void Flush()
    {
        ThrowIfDisposed();
        if (_writer is null)
        {
            return;
        }

        ValueTask pending = _writer.FlushAsync();
        if (!pending.IsCompleted)
        {
            BlockingWait.ThrowIfOnWorker("KyotoStream.Flush");
        }

        BlockingWait.Wait(pending);
    }

    /// <summary>Begins an asynchronous read (forwards to <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>).</summary>
    public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state)
        => TaskToAsyncResult.Begin(ReadAsync(buffer, offset, count, CancellationToken.None), callback, state);

    /// <summary>Ends an asynchronous read: the byte count, 0 at end of stream.</summary>
    public override int EndRead(IAsyncResult asyncResult) => TaskToAsyncResult.End<int>(asyncResult);

    /// <summary>Begins an asynchronous write (forwards to <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>).</summary>
    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state)
        => TaskToAsyncResult.Begin(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);

    /// <summary>Ends an asynchronous write.</summary>
    public override void EndWrite(IAsyncResult asyncResult) => TaskToAsyncResult.End(asyncResult);

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A KyotoStream cannot seek.");

    /// <summary>Not supported.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void SetLength(long value) => throw new NotSupportedException("A KyotoStream cannot seek.");

    /// <summary>Disposes the inner reader and writer (unless left open); later operations throw <see cref="ObjectDisposedException"/>.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen)
        {
            await AdapterSync.DisposeAsync(_reader).ConfigureAwait(true);
            if (!ReferenceEquals(_reader, _writer))
            {
                await AdapterSync.DisposeAsync(_writer).ConfigureAwait(true);
            }
        }

        await base.DisposeAsync().ConfigureAwait(true);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen)
        {
            AdapterSync.Dispose(_reader);
            if (!ReferenceEquals(_reader, _writer))
            {
                AdapterSync.Dispose(_writer);
            }
        }

        base.Dispose(disposing);
    }

    private static int Checked(int written, int length)
    {
        if (written <= 0 || written > length)
        {
            throw new IOException($"The inner writer reported {written} bytes written of a {length}-byte buffer; it must take between 1 and {length}.");
        }

        return written;
    }

    private static async ValueTask WriteSlowAsync(IAsyncWriter writer, ValueTask<int> first, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        int n = Checked(await first.ConfigureAwait(true), buffer.Length);
        if (n < buffer.Length)
        {
            await WriteRemainingAsync(writer, buffer[n..], cancellationToken).ConfigureAwait(true);
        }
    }

    private static async ValueTask WriteRemainingAsync(IAsyncWriter writer, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = Checked(await writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(true), buffer.Length);
            buffer = buffer[n..];
        }
    }

    private IAsyncReader Reader()
    {
        ThrowIfDisposed();
        return _reader ?? throw new NotSupportedException("This KyotoStream has no reader: it is write-only.");
    }

    private IAsyncWriter Writer()
    {
        ThrowIfDisposed();
        return _writer ?? throw new NotSupportedException("This KyotoStream has no writer: it is read-only.");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);
}
