using System.IO.Pipelines;

namespace Kyoto.IO;

/// <summary>
/// The <see cref="KyotoDuplexPipe.Input"/>: a thin delegate over a <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/>
/// reader that tells its owner when the application completes it (the owner closes the transport once both
/// sides are done).
/// </summary>
internal sealed class DuplexPipeReader : PipeReader
{
    private readonly PipeReader _inner;
    private readonly KyotoDuplexPipe _owner;
    private int _completed;

    internal DuplexPipeReader(PipeReader inner, KyotoDuplexPipe owner)
    {
        _inner = inner;
        _owner = owner;
    }

    public override bool TryRead(out ReadResult result) => _inner.TryRead(out result);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => _inner.ReadAsync(cancellationToken);

    protected override ValueTask<ReadResult> ReadAtLeastAsyncCore(int minimumSize, CancellationToken cancellationToken)
        => _inner.ReadAtLeastAsync(minimumSize, cancellationToken);

    public override void AdvanceTo(SequencePosition consumed) => _inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => _inner.CancelPendingRead();

    public override Task CopyToAsync(PipeWriter destination, CancellationToken cancellationToken = default) => _inner.CopyToAsync(destination, cancellationToken);

    public override Task CopyToAsync(Stream destination, CancellationToken cancellationToken = default) => _inner.CopyToAsync(destination, cancellationToken);

    public override void Complete(Exception? exception = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        try
        {
            _inner.Complete(exception);
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
        }
        finally
        {
            await _owner.SideCompletedAsync().ConfigureAwait(true);
        }
    }
}
