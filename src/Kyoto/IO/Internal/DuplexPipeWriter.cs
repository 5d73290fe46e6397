using System.IO.Pipelines;

namespace Kyoto.IO;

/// <summary>
/// The <see cref="KyotoDuplexPipe.Output"/>: a thin delegate over a <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions?)"/>
/// writer that, when the application completes it, flushes what is buffered and shuts the transport's write
/// direction down (the peer reads end of stream), then tells its owner.
/// </summary>
/// <remarks>
/// Completing with an exception discards the unflushed bytes (as the BCL writer does) and still shuts the write
/// side down: TCP has no way to send the error itself, and a peer left waiting for more would hang.
/// </remarks>
internal sealed class DuplexPipeWriter : PipeWriter
{
    private readonly PipeWriter _inner;
    private readonly IAsyncWriter _transport;
    private readonly KyotoDuplexPipe _owner;
    private int _completed;

    internal DuplexPipeWriter(PipeWriter inner, IAsyncWriter transport, KyotoDuplexPipe owner)
    {
        _inner = inner;
        _transport = transport;
        _owner = owner;
    }

    public override bool CanGetUnflushedBytes => _inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => _inner.UnflushedBytes;

    public override void Advance(int bytes) => _inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        => _inner.WriteAsync(source, cancellationToken);

    public override void CancelPendingFlush() => _inner.CancelPendingFlush();

    /// <summary>
    /// Synchronous completion: the BCL writer would flush with a blocking Stream.Write, which a worker refuses,
    /// so on a worker with unflushed bytes this throws before completing anything (flush first, or use
    /// CompleteAsync). The shutdown finishes in the background if it cannot finish at once on a worker.
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        if (exception is null && AdapterSync.OnWorker && _inner.CanGetUnflushedBytes && _inner.UnflushedBytes > 0 && Volatile.Read(ref _completed) == 0)
        {
            throw new InvalidOperationException(
                $"PipeWriter.Complete would write {_inner.UnflushedBytes} buffered bytes with a blocking write on a Kyoto worker thread. Await FlushAsync before Complete, or await CompleteAsync instead.");
        }

        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        try
        {
            _inner.Complete(exception);
            AdapterSync.FinishOrDetach(_transport.ShutdownAsync());
        }
        finally
        {
            _owner.SideCompleted();
        }
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        try
        {
            await _inner.CompleteAsync(exception).ConfigureAwait(true);
            await _transport.ShutdownAsync().ConfigureAwait(true);
        }
        finally
        {
            await _owner.SideCompletedAsync().ConfigureAwait(true);
        }
    }
}
