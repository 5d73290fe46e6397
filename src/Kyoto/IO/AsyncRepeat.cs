using Kyoto.Tasks;

namespace Kyoto.IO;

/// <summary>
/// A reader that never ends, each read filling the whole buffer with one byte value (Tokio's <c>io::repeat</c>).
/// Bound it yourself (for example read a fixed count with <see cref="AsyncReaderExtensions.ReadExactlyAsync"/>).
/// </summary>
/// <remarks>Reads spend the task's coop budget, and yield when it is spent, so a loop over it cannot starve a worker.</remarks>
public sealed class AsyncRepeat : IAsyncReader
{
    /// <summary>A reader of <paramref name="value"/>, forever.</summary>
    public AsyncRepeat(byte value) => Value = value;

    /// <summary>The byte every read yields.</summary>
    public byte Value { get; }

    /// <summary>Fills <paramref name="buffer"/> with <see cref="Value"/> and returns its length.</summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (Coop.TryConsume())
        {
            buffer.Span.Fill(Value);
            return new ValueTask<int>(buffer.Length);
        }

        return AfterYieldAsync(buffer);
    }

    private async ValueTask<int> AfterYieldAsync(Memory<byte> buffer)
    {
        await KyotoTask.Yield();
        buffer.Span.Fill(Value);
        return buffer.Length;
    }
}
