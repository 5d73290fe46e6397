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
