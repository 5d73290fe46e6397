using System.Runtime.InteropServices;

namespace Kyoto.Native;

/// <summary>The few libc calls the drivers use (Linux).</summary>
internal static unsafe partial class Libc
{
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;
    internal const short POLLIN = 0x1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int ppoll(PollFd* fds, nuint nfds, TimeSpec* timeout, void* sigmask);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);
}
