// Synchronous bridges used by the Stream and Pipe adapters: the places where a System.IO API is synchronous
// (Stream.Read, Stream.Write, Stream.Flush, Stream.Dispose, PipeWriter.Complete) but the Kyoto object under it
// is asynchronous. A runtime worker is never blocked: a blocking wait there would stop the very tasks (and, on
// the current-thread flavour, the I/O driver) that could finish the operation.
using Kyoto.Scheduling;

namespace Kyoto.IO;

internal static class AdapterSync
{
    /// <summary>True on a runtime worker thread (any runtime), where blocking is refused.</summary>
    internal static bool OnWorker => RuntimeContext.CurrentOrNull?.Worker is not null;

    /// <summary>
    /// Completes <paramref name="pending"/> synchronously if it already is, blocks for it off the runtime, and on a
    /// worker lets it finish in the background (its failure is observed and dropped): for cleanup paths
    /// (Dispose, Complete) that must not throw just because they ran on a worker.
    /// </summary>
    internal static void FinishOrDetach(ValueTask pending)
    {
        if (pending.IsCompleted)
        {
            pending.GetAwaiter().GetResult();
            return;
        }

        if (!OnWorker)
        {
            pending.AsTask().GetAwaiter().GetResult();
            return;
        }

        _ = ObserveAsync(pending);
    }

    private static async Task ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(true);
        }
        catch (Exception)
        {
            // Cleanup from a synchronous Dispose/Complete on a worker: nobody is left to report the failure to.
        }
    }

    /// <summary>Disposes <paramref name="owned"/> synchronously, preferring <see cref="IDisposable"/>.</summary>
    internal static void Dispose(object? owned)
    {
        switch (owned)
        {
            case IDisposable d:
                d.Dispose();
                break;
            case IAsyncDisposable ad:
                FinishOrDetach(ad.DisposeAsync());
                break;
        }
    }

    /// <summary>Disposes <paramref name="owned"/> asynchronously, preferring <see cref="IAsyncDisposable"/>.</summary>
    internal static ValueTask DisposeAsync(object? owned)
    {
        switch (owned)
        {
            case IAsyncDisposable ad:
                return ad.DisposeAsync();
            case IDisposable d:
                d.Dispose();
                return default;
            default:
                return default;
        }
    }
}
