using Kyoto.Tasks;

namespace Kyoto.IO;

/// <summary>
/// A reader that is always at end of stream (Tokio's <c>io::empty</c>): every read returns 0. Also a buffered
/// reader whose buffer is always empty.
/// </summary>
/// <remarks>Reads spend the task's coop budget, and yield when it is spent, so a loop over it cannot starve a worker.</remarks>
public sealed class AsyncEmpty : IAsyncBufferedReader
{
    private AsyncEmpty()
    {
    }

    /// <summary>The shared instance (it has no state).</summary>
    public static AsyncEmpty Instance { get; } = new();

    /// <summary>Returns 0 (end of stream).</summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        return Coop.TryConsume() ? new ValueTask<int>(0) : AfterYieldAsync();
    }

    private static async ValueTask<int> AfterYieldAsync()
    {
        await KyotoTask.Yield();
        return 0;
    }

    /// <summary>Returns an empty buffer (end of stream).</summary>
    public async ValueTask<ReadOnlyMemory<byte>> FillBufferAsync(CancellationToken cancellationToken = default)
    {
        await ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(true);
        return ReadOnlyMemory<byte>.Empty;
    }

    /// <inheritdoc />
    public void Consume(int count) => ArgumentOutOfRangeException.ThrowIfNotEqual(count, 0);
}
