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
    private static readonly Dictionary<string, List<(double Mean, double P99, double EarlyPct, double Max)>> s_runs = new();

    /// <summary>Computes the statistics of one invocation (call from an <c>[IterationCleanup]</c>).</summary>
    /// <param name="method">The benchmark method the numbers belong to (<c>Bcl</c>, <c>Kyoto</c>).</param>
    /// <param name="lateTicks">
    /// Each timer's wake-up time minus its deadline, in <see cref="Stopwatch"/> ticks; signed, negative means the
    /// timer fired early. Read only (the statistics sort a copy).
    /// </param>
    public static void Record(string method, long[] lateTicks)
    {
        int n = lateTicks.Length;
        if (n == 0)
        {
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
        double p99 = us[Math.Min(n * 99 / 100, n - 1)]; // the peers' index
        if (!s_runs.TryGetValue(method, out var runs))
        {
            s_runs[method] = runs = new();
        }

        runs.Add((sum / n, p99, 100.0 * early / n, us[n - 1]));
    }

    /// <summary>
    /// Writes "<paramref name="method"/> lateness: mean X us, p99 Y us, early Z%" to the console: the medians over
    /// the recorded invocations, as the peers report medians over runs, plus the worst invocation.
    /// </summary>
    public static void Print(string method)
    {
        if (!s_runs.TryGetValue(method, out var runs) || runs.Count == 0)
        {
            Console.WriteLine($"{method} lateness: no invocation recorded");
            return;
        }

        static double Median(IEnumerable<double> values)
        {
            double[] v = values.OrderBy(x => x).ToArray();
            return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
        }

        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{method} lateness: mean {Median(runs.Select(r => r.Mean)):F1} us, p99 {Median(runs.Select(r => r.P99)):F1} us, early {Median(runs.Select(r => r.EarlyPct)):F2}% (medians over {runs.Count} invocations; worst invocation: mean {runs.Max(r => r.Mean):F1} us, p99 {runs.Max(r => r.P99):F1} us, max {runs.Max(r => r.Max):F1} us, early {runs.Max(r => r.EarlyPct):F2}%)"));
    }
}
