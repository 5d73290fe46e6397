using System.Diagnostics;
using System.Globalization;

namespace Kyoto.Benchmarks;

/// <summary>
/// Prints the timer lateness of a benchmark's last invocation, with the statistics of the peers' timer_many
/// (dotnet-bench and tokio-bench report <c>lateness_us_mean</c>, <c>lateness_us_p99</c> and <c>early_pct</c>).
/// BenchmarkDotNet has no easy custom column for these, so a <c>[GlobalCleanup]</c> calls <see cref="Print"/>
/// and the line appears in the benchmark's log.
/// </summary>
internal static class LatenessReport
{
    /// <summary>
    /// Writes "<paramref name="method"/> lateness: mean X us, p99 Y us, early Z%" to the console.
    /// </summary>
    /// <param name="method">The benchmark method the numbers belong to (<c>Bcl</c>, <c>Kyoto</c>).</param>
    /// <param name="lateTicks">
    /// Each timer's wake-up time minus its deadline, in <see cref="Stopwatch"/> ticks; signed, negative means the
    /// timer fired early. Read only (the statistics sort a copy).
    /// </param>
    public static void Print(string method, long[] lateTicks)
    {
        int n = lateTicks.Length;
        if (n == 0)
        {
            Console.WriteLine($"{method} lateness: no timers");
            return;
        }

        double usPerTick = 1e6 / Stopwatch.Frequency;
        var us = new double[n];
        double sum = 0;
        int early = 0;
        for (int i = 0; i < n; i++)
        {
            double l = lateTicks[i] * usPerTick;
            us[i] = l;
            sum += l;
            if (l < 0)
            {
                early++;
            }
        }

        Array.Sort(us);
        double mean = sum / n;
        double p99 = us[Math.Min(n * 99 / 100, n - 1)]; // the peers' index
        double earlyPct = 100.0 * early / n;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{method} lateness: mean {mean:F1} us, p99 {p99:F1} us, early {earlyPct:F2}% (min {us[0]:F1} us, max {us[n - 1]:F1} us; {n} timers of the last invocation)"));
    }
}
