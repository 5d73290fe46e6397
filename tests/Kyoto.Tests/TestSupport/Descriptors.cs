namespace Kyoto.Tests;

/// <summary>Counting the process's open descriptors, for leak tests (run them in <c>DescriptorCountCollection</c>).</summary>
internal static class Descriptors
{
    /// <summary>
    /// Open sockets, pipes, epoll sets and eventfds. Mapped files are left out: the JIT may load an assembly (a
    /// mapped file, so a descriptor) at any point of a long loop when it recompiles a hot method.
    /// </summary>
    internal static int CountOpen()
    {
        // Sockets an earlier test dropped without disposing close in their finalizers: let them close now, not
        // in the middle of a measurement.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Directory.GetFiles("/proc/self/fd").Count(IsCounted);
    }

    private static bool IsCounted(string f)
    {
        try
        {
            return new FileInfo(f).LinkTarget is { } target && !target.StartsWith('/');
        }
        catch (IOException)
        {
            return false; // closed while listed
        }
    }

    /// <summary>
    /// A leak is a count that grew. It may shrink: a runtime an earlier test disposed may still be closing its
    /// reactor's descriptors on another thread.
    /// </summary>
    internal static void AssertNoLeak(int before, int after) =>
        Assert.True(after <= before, $"{after - before} descriptors leaked ({before} open before, {after} after)");
}
