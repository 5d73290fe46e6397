using Kyoto.Tasks;

namespace Kyoto.IO;

/// <summary>
/// A writer that takes every byte and discards it (Tokio's <c>io::sink</c>): every write takes the whole buffer.
/// </summary>
/// <remarks>Writes spend the task's coop budget, and yield when it is spent, so a loop over it cannot starve a worker.</remarks>
public sealed class AsyncSink : IAsyncWriter
{
    private AsyncSink()
    {
    }

    /// <summary>The shared instance (it has no state).</summary>
    public static AsyncSink Instance { get; } = new();

    /// <summary>Discards <paramref name="buffer"/> and returns its length.</summary>
    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        return Coop.TryConsume() ? new ValueTask<int>(buffer.Length) : AfterYieldAsync(buffer.Length);
    }

    private static async ValueTask<int> AfterYieldAsync(int length)
    {
        await KyotoTask.Yield();
        return length;
    }

    /// <summary>Completes at once.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled(cancellationToken) : default;

    /// <summary>Completes at once; the sink keeps accepting writes (it has no state to close).</summary>
    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default) => FlushAsync(cancellationToken);
}
