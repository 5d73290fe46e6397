// The byte-moving calls of a socket (recv and send, and recvfrom and sendto with an address), made straight to
// the kernel instead of through System.Net.Sockets.Socket, whose synchronous path adds a disposed check, a
// blocking-mode check, telemetry, an error translation through System.Native and a second native hop per call:
// about a seventh of Kyoto's own CPU time per request in the echo server's profile. Socket's calls with an
// address also report EAGAIN by throwing, once per wait of a datagram socket. Also accept (Socket.Accept throws
// for EAGAIN too, and builds a Socket, its endpoints and its engine state for every connection), connect (whose
// progress Socket.Connect reports by throwing as well), integer socket options and shutdown, which let a stream
// live without a Socket object until one is asked for.
//
// Invariants:
//  1. The descriptor is used only while a reference on the socket's SafeHandle is held
//     (DangerousAddRef/DangerousRelease, as the runtime's own marshalling does), so a socket disposed by another
//     thread is closed only after the call returns and its number cannot be reused under it; a call after the
//     close throws ObjectDisposedException, as Socket's own does.
//  2. Only flags whose Linux values equal SocketFlags' (none, out-of-band, peek, don't-route) take this path;
//     anything else goes through Socket. A send never raises SIGPIPE (MSG_NOSIGNAL).
//  3. EINTR retries; EAGAIN is SocketError.WouldBlock; every other errno maps to the SocketError that .NET
//     reports for it (unknown ones to SocketError.SocketError), so callers see the same exceptions either way.
//  4. A call of at most 64 KiB skips the GC transition (SuppressGCTransition): it never sleeps (MSG_DONTWAIT,
//     whatever the socket's blocking mode), copies at most 64 KiB and calls back into nothing, so a GC waits for
//     it a few microseconds at most; the transition's frame and thread lookup cost more than that per call on
//     the echo path. With no transition no runtime code runs between the call and the read of errno (the
//     runtime's signal handlers preserve it). Larger calls keep the transition and SetLastError. The small calls
//     go through syscall(2) rather than libc's recv and send, which are thread-cancellation points and update
//     the thread's cancellation state around every call (Kyoto never cancels threads).
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kyoto.Net;

/// <summary>recv, send, recvfrom, sendto, accept, connect, shutdown and integer options on a socket's descriptor (see the file's invariants).</summary>
internal static unsafe partial class SocketCalls
{
    private const int MsgNoSignal = 0x4000;
    private const int MsgDontWait = 0x40;

    /// <summary>The largest call made without the GC transition (invariant 4).</summary>
    private const int SmallTransfer = 64 * 1024;

    /// <summary>recvfrom's and sendto's syscall numbers on x86-64 and arm64; -1 elsewhere (invariant 4).</summary>
    private static readonly long SysRecvFrom = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 45,
        Architecture.Arm64 => 207,
        _ => -1,
    };

    private static readonly long SysSendTo = SysRecvFrom < 0 ? -1 : SysRecvFrom - 1;
    private const SocketFlags DirectFlags = SocketFlags.OutOfBand | SocketFlags.Peek | SocketFlags.DontRoute;

    /// <summary>True when <paramref name="flags"/> can be passed to libc as they are (invariant 2).</summary>
    internal static bool IsDirect(SocketFlags flags) => (flags & ~DirectFlags) == 0;

    /// <summary>Receives into <paramref name="buffer"/>: the byte count, or 0 with the error.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int Receive(SafeHandle handle, int fd, Span<byte> buffer, SocketFlags flags, out SocketError error)
    {
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        {
            return Call(handle, fd, p, buffer.Length, (int)flags, send: false, null, null, out error);
        }
    }

    /// <summary>Sends what fits of <paramref name="buffer"/>: the byte count, or 0 with the error.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int Send(SafeHandle handle, int fd, ReadOnlySpan<byte> buffer, SocketFlags flags, out SocketError error)
    {
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        {
            return Call(handle, fd, p, buffer.Length, (int)flags | MsgNoSignal, send: true, null, null, out error);
        }
    }

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/> (truncated to it) and its sender's address into
    /// <paramref name="address"/>, whose size is set: the byte count, or 0 with the error.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int ReceiveFrom(SafeHandle handle, int fd, Span<byte> buffer, SocketFlags flags, SocketAddress address, out SocketError error)
    {
        Span<byte> name = address.Buffer.Span;
        uint nameLength = (uint)name.Length;
        int n;
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        fixed (byte* a = &MemoryMarshal.GetReference(name))
        {
            n = Call(handle, fd, p, buffer.Length, (int)flags, send: false, a, &nameLength, out error);
        }

        if (error == SocketError.Success)
        {
            address.Size = (int)Math.Min(nameLength, (uint)name.Length);
        }

        return n;
    }

    /// <summary>Sends <paramref name="buffer"/> as one datagram to <paramref name="address"/>: the byte count, or 0 with the error.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int SendTo(SafeHandle handle, int fd, ReadOnlySpan<byte> buffer, SocketFlags flags, SocketAddress address, out SocketError error)
    {
        ReadOnlySpan<byte> name = address.Buffer.Span[..address.Size];
        uint nameLength = (uint)name.Length;
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        fixed (byte* a = &MemoryMarshal.GetReference(name))
        {
            return Call(handle, fd, p, buffer.Length, (int)flags | MsgNoSignal, send: true, a, &nameLength, out error);
        }
    }

    // Never inlined: the callers are async state machines, whose bodies are try regions, and on 64-bit a P/Invoke
    // inside a try region is not inlined but made through a marshalling stub. For the same reason no try/finally
    // here: nothing between the AddRef and the Release can throw.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Call(
        SafeHandle handle, int fd, byte* p, int length, int flags, bool send, byte* address, uint* addressLength, out SocketError error)
    {
        bool added = false;
        handle.DangerousAddRef(ref added); // ObjectDisposedException once the socket is closed (invariant 1)
        flags |= MsgDontWait;

        // recvfrom takes the address length by reference, sendto by value; both take no address as (null, 0).
        nint lengthArgument = address is null ? 0 : send ? (nint)(*addressLength) : (nint)addressLength;
        nint n;
        int errno;
        do
        {
            if (length <= SmallTransfer)
            {
                n = SysRecvFrom < 0
                    ? (send ? SendToSmall(fd, p, (nuint)length, flags, address, lengthArgument) : RecvFromSmall(fd, p, (nuint)length, flags, address, lengthArgument))
                    : SyscallSmall(send ? SysSendTo : SysRecvFrom, fd, p, (nuint)length, flags, address, lengthArgument);
                errno = n < 0 ? Marshal.GetLastSystemError() : 0; // nothing ran since the call (invariant 4)
            }
            else
            {
                n = send ? NativeSendTo(fd, p, (nuint)length, flags, address, lengthArgument) : NativeRecvFrom(fd, p, (nuint)length, flags, address, lengthArgument);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
        }
        while (n < 0 && errno == Native.Libc.EINTR);

        handle.DangerousRelease();
        error = n >= 0 ? SocketError.Success : ToSocketError(errno);
        return n >= 0 ? (int)n : 0;
    }

    /// <summary>
    /// Takes the next pending connection of a listening socket, non-blocking and close-on-exec from the start:
    /// its handle, or null with the error (WouldBlock: none pending). A connection reset while it waited in the
    /// queue (ECONNABORTED) is skipped, as an interrupted call is retried: neither is the listener's failure.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The listening socket was closed.</exception>
    internal static SocketHandle? Accept(SafeHandle listener, int fd, out SocketError error)
    {
        using var lease = new Lease(listener);
        while (true)
        {
            int accepted = Native.Libc.accept4(fd, null, null, Native.Libc.SOCK_NONBLOCK | Native.Libc.SOCK_CLOEXEC);
            if (accepted >= 0)
            {
                error = SocketError.Success;
                return new SocketHandle(accepted);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (Native.Libc.EINTR or Native.Libc.ECONNABORTED))
            {
                error = ToSocketError(errno);
                return null;
            }
        }
    }

    /// <summary>Opens a TCP socket of <paramref name="family"/>, non-blocking and close-on-exec from the start.</summary>
    /// <exception cref="SocketException">The kernel refused (for example: out of descriptors).</exception>
    internal static SocketHandle OpenStream(AddressFamily family)
    {
        // Linux's numbers, not .NET's enum (whose InterNetworkV6 is Windows' 23, where Linux's AF_INET6 is 10).
        int domain = family switch
        {
            AddressFamily.InterNetwork => 2,
            AddressFamily.InterNetworkV6 => 10,
            _ => throw new ArgumentOutOfRangeException(nameof(family), family, "Only IPv4 and IPv6 stream sockets are opened here."),
        };
        int fd = Native.Libc.socket(domain, Native.Libc.SOCK_STREAM | Native.Libc.SOCK_NONBLOCK | Native.Libc.SOCK_CLOEXEC, 6 /* IPPROTO_TCP */);
        return fd >= 0 ? new SocketHandle(fd) : throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
    }

    /// <summary>
    /// Takes the kernel socket out of a configured .NET <paramref name="socket"/> (options set, maybe bound) and
    /// disposes the Socket: a duplicate descriptor (close-on-exec) keeps the socket, with its options and its
    /// address, alive; the Socket's own descriptor is closed. The duplicate is made non-blocking after the
    /// dispose, which may change the blocking mode the two descriptors share.
    /// </summary>
    /// <exception cref="SocketException">The kernel refused (for example: out of descriptors).</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static SocketHandle TakeFrom(Socket socket)
    {
        SocketHandle handle;
        using (socket)
        using (var lease = new Lease(socket.SafeHandle))
        {
            int copy = Native.Libc.fcntl((int)socket.SafeHandle.DangerousGetHandle(), Native.Libc.F_DUPFD_CLOEXEC, 0);
            handle = copy >= 0 ? new SocketHandle(copy) : throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
        }

        int fd = (int)handle.DangerousGetHandle();
        int flags = Native.Libc.fcntl(fd, Native.Libc.F_GETFL, 0);
        if (flags < 0 || Native.Libc.fcntl(fd, Native.Libc.F_SETFL, flags | Native.Libc.O_NONBLOCK) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new SocketException((int)ToSocketError(errno));
        }

        return handle;
    }

    /// <summary>
    /// Starts connecting <paramref name="handle"/> (non-blocking) to <paramref name="remote"/>: true while the
    /// connection is in progress (writability will say when it is done, SO_ERROR how it went), false if it is done.
    /// </summary>
    /// <exception cref="SocketException">The connection failed at once (refused...).</exception>
    internal static bool Connect(SocketHandle handle, SocketAddress remote)
    {
        using var lease = new Lease(handle);
        fixed (byte* address = remote.Buffer.Span)
        {
            if (Native.Libc.connect((int)handle.DangerousGetHandle(), address, (uint)remote.Size) == 0)
            {
                return false;
            }
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno is Native.Libc.EINPROGRESS or Native.Libc.EINTR // an interrupted connect goes on in the background
            ? true
            : throw new SocketException((int)ToSocketError(errno));
    }

    /// <summary>Reads an integer socket option.</summary>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int GetOption(SafeHandle handle, int fd, int level, int name)
    {
        int value = 0;
        GetOption(handle, fd, level, name, MemoryMarshal.AsBytes(new Span<int>(ref value)));
        return value;
    }

    /// <summary>Sets an integer socket option.</summary>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static void SetOption(SafeHandle handle, int fd, int level, int name, int value) =>
        SetOption(handle, fd, level, name, MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in value)));

    /// <summary>Reads a socket option into <paramref name="value"/>: the length the kernel wrote.</summary>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int GetOption(SafeHandle handle, int fd, int level, int name, Span<byte> value)
    {
        using var lease = new Lease(handle);
        uint length = (uint)value.Length;
        fixed (byte* p = value)
        {
            if (Native.Libc.getsockopt(fd, level, name, p, &length) != 0)
            {
                throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
            }
        }

        return (int)length;
    }

    /// <summary>Sets a socket option to <paramref name="value"/>.</summary>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static void SetOption(SafeHandle handle, int fd, int level, int name, ReadOnlySpan<byte> value)
    {
        using var lease = new Lease(handle);
        fixed (byte* p = value)
        {
            if (Native.Libc.setsockopt(fd, level, name, p, (uint)value.Length) != 0)
            {
                throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
            }
        }
    }

    /// <summary>
    /// Shuts down the sending side of a connected stream (SHUT_WR): the peer reads end of stream once what was
    /// sent arrives. ENOTCONN (the connection already reached CLOSE, say after a reset) is success, as .NET's
    /// Socket.Shutdown treats it for a socket that was connected.
    /// </summary>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static void ShutdownSend(SafeHandle handle, int fd)
    {
        using var lease = new Lease(handle);
        if (Native.Libc.shutdown(fd, 1) != 0 && Marshal.GetLastPInvokeError() is int errno && errno != Native.Libc.ENOTCONN)
        {
            throw new SocketException((int)ToSocketError(errno));
        }
    }

    /// <summary>
    /// A reference on a socket's handle for the length of a call (invariant 1): taken by the constructor, which
    /// throws <see cref="ObjectDisposedException"/> once the handle is closed, and given back by Dispose.
    /// </summary>
    private readonly ref struct Lease
    {
        private readonly SafeHandle _handle;

        internal Lease(SafeHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle; // added is true here: DangerousAddRef throws rather than return without the reference
        }

        public void Dispose() => _handle.DangerousRelease();
    }

    /// <summary>The <see cref="SocketError"/> .NET reports for a Linux <paramref name="errno"/> (invariant 3).</summary>
    internal static SocketError ToSocketError(int errno) => errno switch
    {
        11 => SocketError.WouldBlock,           // EAGAIN
        2 => SocketError.AddressNotAvailable,   // ENOENT (a Unix socket path nobody bound)
        4 => SocketError.Interrupted,           // EINTR
        9 => SocketError.OperationAborted,      // EBADF
        12 => SocketError.NoBufferSpaceAvailable, // ENOMEM
        13 => SocketError.AccessDenied,         // EACCES
        14 => SocketError.Fault,                // EFAULT
        22 => SocketError.InvalidArgument,      // EINVAL
        23 => SocketError.TooManyOpenSockets,   // ENFILE
        24 => SocketError.TooManyOpenSockets,   // EMFILE
        32 => SocketError.Shutdown,             // EPIPE
        88 => SocketError.NotSocket,            // ENOTSOCK
        89 => SocketError.DestinationAddressRequired, // EDESTADDRREQ
        90 => SocketError.MessageSize,          // EMSGSIZE
        91 => SocketError.ProtocolType,         // EPROTOTYPE
        92 => SocketError.ProtocolOption,       // ENOPROTOOPT
        93 => SocketError.ProtocolNotSupported, // EPROTONOSUPPORT
        95 => SocketError.OperationNotSupported, // EOPNOTSUPP
        97 => SocketError.AddressFamilyNotSupported, // EAFNOSUPPORT
        98 => SocketError.AddressAlreadyInUse,  // EADDRINUSE
        99 => SocketError.AddressNotAvailable,  // EADDRNOTAVAIL
        100 => SocketError.NetworkDown,         // ENETDOWN
        101 => SocketError.NetworkUnreachable,  // ENETUNREACH
        102 => SocketError.NetworkReset,        // ENETRESET
        103 => SocketError.ConnectionAborted,   // ECONNABORTED
        104 => SocketError.ConnectionReset,     // ECONNRESET
        105 => SocketError.NoBufferSpaceAvailable, // ENOBUFS
        106 => SocketError.IsConnected,         // EISCONN
        107 => SocketError.NotConnected,        // ENOTCONN
        108 => SocketError.Shutdown,            // ESHUTDOWN
        110 => SocketError.TimedOut,            // ETIMEDOUT
        111 => SocketError.ConnectionRefused,   // ECONNREFUSED
        112 => SocketError.HostDown,            // EHOSTDOWN
        113 => SocketError.HostUnreachable,     // EHOSTUNREACH
        114 => SocketError.AlreadyInProgress,   // EALREADY
        115 => SocketError.InProgress,          // EINPROGRESS
        125 => SocketError.OperationAborted,    // ECANCELED
        _ => SocketError.SocketError,
    };

    // Invariant 4: without the GC transition, and straight to the kernel where the syscall numbers are known.
    // The last argument is recvfrom's socklen_t* or sendto's socklen_t, as nint.
    [DllImport("libc", EntryPoint = "syscall", ExactSpelling = true)]
    [SuppressGCTransition]
    private static extern nint SyscallSmall(long number, int fd, byte* buf, nuint len, int flags, byte* address, nint addressLength);

    [DllImport("libc", EntryPoint = "recvfrom", ExactSpelling = true)]
    [SuppressGCTransition]
    private static extern nint RecvFromSmall(int fd, byte* buf, nuint len, int flags, byte* address, nint addressLength);

    [DllImport("libc", EntryPoint = "sendto", ExactSpelling = true)]
    [SuppressGCTransition]
    private static extern nint SendToSmall(int fd, byte* buf, nuint len, int flags, byte* address, nint addressLength);

    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    private static partial nint NativeRecvFrom(int fd, byte* buf, nuint len, int flags, byte* address, nint addressLength);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint NativeSendTo(int fd, byte* buf, nuint len, int flags, byte* address, nint addressLength);
}
