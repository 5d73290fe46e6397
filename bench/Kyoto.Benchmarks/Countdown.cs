using System.Runtime.InteropServices;

namespace Kyoto.Benchmarks;

/// <summary>
/// Counts down; whoever brings it to zero wakes the blocked benchmark thread. The same helper as the peers'
/// <c>Countdown</c> (dotnet-bench and tokio-bench), shared by the Bcl and Kyoto sides of every workload and
/// allocated once per benchmark class, so that only the workload itself allocates.
/// </summary>
/// <remarks>
/// Threads: <see cref="Arm"/> and <see cref="Wait"/> only from the benchmark thread, while no workload runs;
/// <see cref="Hit"/> from any thread. The counter sits alone on its cache line (padded) so the hits do not
/// false-share with whatever the allocator put next to it.
/// </remarks>
internal sealed class Countdown
{
    /// <summary>
    /// Long enough for any single invocation of these workloads (milliseconds each), short enough that a lost
    /// wake-up or a task that threw fails the run instead of hanging it.
    /// </summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly ManualResetEventSlim _done = new(false);
    private PaddedInt32 _remaining;
    private int _armed;

    /// <summary>Expects <paramref name="hits"/> calls to <see cref="Hit"/> before <see cref="Wait"/> returns.</summary>
    public void Arm(int hits)
    {
        _done.Reset();
        _armed = hits;
        Volatile.Write(ref _remaining.Value, hits);
    }

    /// <summary>Counts one hit; the last one releases <see cref="Wait"/>.</summary>
    public void Hit()
    {
        if (Interlocked.Decrement(ref _remaining.Value) == 0)
        {
            _done.Set();
        }
    }

    /// <summary>Blocks until the last hit.</summary>
    /// <exception cref="TimeoutException">The hits did not all arrive within 30 seconds.</exception>
    public void Wait()
    {
        if (!_done.Wait(Timeout))
        {
            throw new TimeoutException(
                $"The workload did not finish within {Timeout.TotalSeconds} s: {Volatile.Read(ref _remaining.Value)} of {_armed} hits missing (a lost wake-up, or a task that threw).");
        }
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedInt32
    {
        [FieldOffset(64)]
        public int Value;
    }
}
