using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>The abort scenario the socket types share: a task that owns a resource, blocked in a call on it, is aborted.</summary>
internal static class AbortWhileBlocked
{
    /// <summary>
    /// Spawns a task that owns <paramref name="resource"/> (disposing it as it unwinds) and blocks in
    /// <paramref name="blockingCall"/>; aborts it once it has started; true if its join reports cancellation.
    /// </summary>
    internal static async Task<bool> RunAsync<T>(T resource, Func<T, Task> blockingCall) where T : IDisposable
    {
        var (startedTx, startedRx) = Kyoto.Sync.Oneshot.Create<bool>();
        JoinHandle blocked = KyotoTask.Spawn(async () =>
        {
            using (resource)
            {
                startedTx.TrySend(true);
                await blockingCall(resource);
            }
        });
        await startedRx;
        await KyotoTask.Yield();
        blocked.Abort();
        try
        {
            await blocked;
            return false;
        }
        catch (JoinException e) when (e.IsCancelled)
        {
            return true;
        }
    }
}
