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

    internal const int EPOLL_CLOEXEC = 0x80000;
    internal const int EPOLL_CTL_ADD = 1;
    internal const int EPOLL_CTL_DEL = 2;
    internal const int EPOLL_CTL_MOD = 3;
    internal const uint EPOLLIN = 0x001;
    internal const uint EPOLLPRI = 0x002;
    internal const uint EPOLLOUT = 0x004;
    internal const uint EPOLLERR = 0x008;
    internal const uint EPOLLHUP = 0x010;
    internal const uint EPOLLRDHUP = 0x2000;
    internal const uint EPOLLET = 0x80000000;

    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int SOCK_CLOEXEC = 0x80000;

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

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_create1(int flags);

    /// <summary><paramref name="ev"/> points to a <c>struct epoll_event</c> (see <see cref="EpollEventSize"/>).</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int epoll_pwait2(int epfd, void* events, int maxevents, TimeSpec* timeout, void* sigmask);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int socketpair(int domain, int type, int protocol, int* sv);

    internal const int ECONNABORTED = 103;
    internal const int ENOTCONN = 107;
    internal const int EINPROGRESS = 115;

    /// <summary>Takes the next pending connection; the address arguments may be null.</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int accept4(int fd, byte* address, uint* addressLength, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int socket(int domain, int type, int protocol);

    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int F_DUPFD_CLOEXEC = 1030;

    /// <summary>fcntl with an int argument (the commands above; all take one or ignore it).</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int connect(int fd, byte* address, uint addressLength);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    /// <summary>
    /// The size of <c>struct epoll_event</c>: packed (12 bytes: u32 events, u64 data) on x86-64, naturally
    /// aligned (16 bytes) elsewhere.
    /// </summary>
    internal static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Writes an epoll event (events, data) at <paramref name="at"/>.</summary>
    internal static void WriteEpollEvent(byte* at, uint events, ulong data)
    {
        *(uint*)at = events;
        *(ulong*)(at + (EpollEventSize == 12 ? 4 : 8)) = data;
    }

    /// <summary>Reads the epoll event at <paramref name="at"/>.</summary>
    internal static (uint Events, ulong Data) ReadEpollEvent(byte* at) =>
        (*(uint*)at, *(ulong*)(at + (EpollEventSize == 12 ? 4 : 8)));

    // Appended for Kyoto.Net (Unix sockets, AsyncFd and their tests).
    internal const int SOCK_DGRAM = 2;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc")]
    internal static partial uint getuid();

    [LibraryImport("libc")]
    internal static partial uint getgid();

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int pipe2(int* fds, int flags);

    internal const int FUTEX_WAIT_PRIVATE = 128;
    internal const int FUTEX_WAKE_PRIVATE = 129;
    internal const int ETIMEDOUT = 110;

    /// <summary>The futex syscall number of this architecture (x86-64 or arm64); -1 elsewhere.</summary>
    internal static readonly long SysFutex = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 202,
        Architecture.Arm64 => 98,
        _ => -1,
    };

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, int* uaddr, int op, int val, TimeSpec* timeout);

    /// <summary>Sleeps while <c>*addr == expected</c>, until woken or <paramref name="timeout"/> (null: none) passes.</summary>
    internal static long FutexWait(int* addr, int expected, TimeSpec* timeout) => syscall(SysFutex, addr, FUTEX_WAIT_PRIVATE, expected, timeout);

    /// <summary>Wakes up to <paramref name="count"/> threads sleeping on <paramref name="addr"/>.</summary>
    internal static long FutexWake(int* addr, int count) => syscall(SysFutex, addr, FUTEX_WAKE_PRIVATE, count, null);
}
