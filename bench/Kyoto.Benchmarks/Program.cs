// Kyoto's benchmarks: one class per workload of ../shared/peers/, each with the plain .NET thread-pool
// version as the baseline (Bcl) and Kyoto's version (Kyoto). See README.md for how to run and compare.
using BenchmarkDotNet.Running;

namespace Kyoto.Benchmarks;

public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
