using System.Runtime.InteropServices;
using Kyoto.Signal;

namespace Kyoto.Tests;

/// <summary>
/// Sends real signals to the test process. Only raise a signal while a receiver of it exists and until the
/// handler has counted it (<see cref="RaiseCounted"/>): with no receiver, SIGUSR1/SIGTERM/... terminate the host.
/// </summary>
internal static partial class SignalSender
{
    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="kind"/> to this process (the handler runs later, on .NET's signal thread).</summary>
    public static void Raise(SignalKind kind)
    {
        Assert.True(Signals.ListenerCount(kind) > 0, $"raising {kind} with no receiver would terminate the test host");
        Assert.Equal(0, Kill(Environment.ProcessId, kind.Number));
    }

    /// <summary>
    /// Whether the kernel drops <paramref name="kind"/> for this process: a disposition inherited as ignored (SIGINT
    /// and SIGQUIT in a background job of a non-interactive shell, SIGHUP under nohup) is kept by .NET, so a test of
    /// that signal has nothing to observe. Read from /proc/self/status (SigIgn), after a receiver exists.
    /// </summary>
    public static bool IsIgnoredByProcess(SignalKind kind)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
            {
                ulong mask = Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16);
                return (mask & (1UL << (kind.Number - 1))) != 0;
            }
        }

        return false;
    }

    /// <summary>Sends <paramref name="kind"/> and waits (bounded) until the process-wide handler has counted it.</summary>
    public static void RaiseCounted(SignalKind kind)
    {
        long before = Signals.DeliveryCount(kind);
        Raise(kind);
        WaitCounted(kind, before + 1);
    }

    /// <summary>Waits (bounded) until the handler has counted <paramref name="target"/> deliveries of <paramref name="kind"/>.</summary>
    public static void WaitCounted(SignalKind kind, long target) =>
        Assert.True(
            SpinWait.SpinUntil(() => Signals.DeliveryCount(kind) >= target, Bounded.Timeout),
            $"the handler of {kind} did not count delivery {target} (counted {Signals.DeliveryCount(kind)})");
}
