using Kyoto.Tasks;

// Stress tests are heavy: run them one at a time so each has the machine to itself and its timing
// (and its budget in CI) is predictable.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Kyoto.Tests;

/// <summary>Seeds for the randomized races: fixed per run unless KYOTO_STRESS_SEED is set, and always reported.</summary>
internal static class Seeds
{
    /// <summary>The seed of this run: KYOTO_STRESS_SEED if set, else a fresh one (printed in every failure).</summary>
    public static readonly int Run = int.TryParse(Environment.GetEnvironmentVariable("KYOTO_STRESS_SEED"), out int s) ? s : Environment.TickCount;

    /// <summary>A deterministic per-worker generator derived from the run seed.</summary>
    public static Random For(int stream) => new(unchecked(Run * 31 + stream));

    public static string Describe => $"(seed {Run}; rerun with KYOTO_STRESS_SEED={Run})";
}

/// <summary>Random cancellation for one operation of a stress game.</summary>
internal static class RandomCancellation
{
    /// <summary>
    /// A token for one operation: with odds 1 in <paramref name="outOf"/> one already cancelled, with odds
    /// <paramref name="cancelledLater"/> in <paramref name="outOf"/> one that another task cancels after 0-3
    /// yields (await its <c>Canceller</c>), otherwise none.
    /// </summary>
    public static (CancellationTokenSource? Cts, JoinHandle? Canceller) Next(Random rng, int outOf, int cancelledLater)
    {
        int pick = rng.Next(outOf);
        if (pick == 0)
        {
            var cts = new CancellationTokenSource();
            cts.Cancel();
            return (cts, null);
        }

        if (pick <= cancelledLater)
        {
            var cts = new CancellationTokenSource();
            int yields = rng.Next(4);
            JoinHandle canceller = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < yields; i++)
                {
                    await KyotoTask.Yield();
                }

                cts.Cancel();
            });
            return (cts, canceller);
        }

        return (null, null);
    }
}
