namespace Kyoto.Tests;

/// <summary>
/// Measures what a synchronous hot path allocates once warm, on the calling thread, robustly against one-off
/// allocations the runtime makes on that thread while the tests run in parallel (a shared <c>ArrayPool</c> trimmed
/// by another test's gen-2 collection, the JIT's tiering worker started again): the body runs in several rounds
/// and the smallest round counts. A path that allocates per call allocates in every round, so it still fails.
/// </summary>
internal static class SteadyAllocation
{
    /// <summary>
    /// Runs <paramref name="body"/> 10 times to warm it, then <paramref name="rounds"/> rounds of
    /// <paramref name="perRound"/> calls; returns the fewest bytes this thread allocated in one round.
    /// </summary>
    public static long FewestBytes(Action<int> body, int perRound = 1000, int rounds = 3)
    {
        for (int i = 0; i < 10; i++)
        {
            body(i);
        }

        long fewest = long.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < perRound; i++)
            {
                body(i);
            }

            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return fewest;
    }
}
