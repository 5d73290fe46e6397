namespace Kyoto.Tests;

/// <summary>Counting the process's open descriptors, for leak tests (run them in <c>DescriptorCountCollection</c>).</summary>
internal static class Descriptors
{
    /// <summary>
    /// Open sockets, pipes, epoll sets and eventfds. Mapped files are left out: the JIT may load an assembly (a
    /// mapped file, so a descriptor) at any point of a long loop when it recompiles a hot method.
    /// </summary>
    internal static int CountOpen() => Directory.GetFiles("/proc/self/fd").Count(f =>
    {
        try
        {
            return new FileInfo(f).LinkTarget is { } target && !target.StartsWith('/');
        }
        catch (IOException)
        {
            return false; // closed while listed
        }
    });
}
