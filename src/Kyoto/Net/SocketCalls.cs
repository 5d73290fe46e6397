// The byte-moving calls of a connected socket (recv, send), made straight to libc instead of through
// System.Net.Sockets.Socket, whose synchronous path adds a disposed check, a blocking-mode check, telemetry, an
// error translation through System.Native and a second native hop per call: about a seventh of Kyoto's own CPU
// time per request in the echo server's profile. Also the zero-timeout poll with which accept avoids .NET's
// would-block exception.
//
// Invariants:
//  1. The descriptor is used only while a reference on the socket's SafeSocketHandle is held
//     (DangerousAddRef/DangerousRelease, as the runtime's own marshalling does), so a socket disposed by another
//     thread is closed only after the call returns and its number cannot be reused under it; a call after the
//     close throws ObjectDisposedException, as Socket's own does.
//  2. Only flags whose Linux values equal SocketFlags' (none, out-of-band, peek, don't-route) take this path;
//     anything else goes through Socket. A send never raises SIGPIPE (MSG_NOSIGNAL).
//  3. EINTR retries; EAGAIN is SocketError.WouldBlock; every other errno maps to the SocketError that .NET
//     reports for it (unknown ones to SocketError.SocketError), so callers see the same exceptions either way.
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kyoto.Net;

/// <summary>recv, send and a readability poll on a socket's descriptor (see the file's invariants).</summary>
internal static unsafe partial class SocketCalls
{
    private const int MsgNoSignal = 0x4000;
    private const SocketFlags DirectFlags = SocketFlags.OutOfBand | SocketFlags.Peek | SocketFlags.DontRoute;

    /// <summary>True when <paramref name="flags"/> can be passed to libc as they are (invariant 2).</summary>
    internal static bool IsDirect(SocketFlags flags) => (flags & ~DirectFlags) == 0;

    /// <summary>Receives into <paramref name="buffer"/>: the byte count, or 0 with the error.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int Receive(SafeSocketHandle handle, int fd, Span<byte> buffer, SocketFlags flags, out SocketError error)
    {
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        {
            return Call(handle, fd, p, buffer.Length, (int)flags, send: false, out error);
        }
    }

    /// <summary>Sends what fits of <paramref name="buffer"/>: the byte count, or 0 with the error.</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static int Send(SafeSocketHandle handle, int fd, ReadOnlySpan<byte> buffer, SocketFlags flags, out SocketError error)
    {
        fixed (byte* p = &MemoryMarshal.GetReference(buffer))
        {
            return Call(handle, fd, p, buffer.Length, (int)flags | MsgNoSignal, send: true, out error);
        }
    }

    private static int Call(SafeSocketHandle handle, int fd, byte* p, int length, int flags, bool send, out SocketError error)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            while (true)
            {
                nint n = send ? NativeSend(fd, p, (nuint)length, flags) : NativeRecv(fd, p, (nuint)length, flags);
                if (n >= 0)
                {
                    error = SocketError.Success;
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Native.Libc.EINTR)
                {
                    error = ToSocketError(errno);
                    return 0;
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Whether the socket has something to read now (for a listening socket: a pending connection), or an error
    /// or hang-up the next call will report; a zero-timeout poll that never waits and never throws.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal static bool PollReadable(SafeSocketHandle handle, int fd)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var poll = new Native.Libc.PollFd { Fd = fd, Events = Native.Libc.POLLIN };
            Native.Libc.TimeSpec zero = default;
            while (true)
            {
                int n = Native.Libc.ppoll(&poll, 1, &zero, null);
                if (n >= 0)
                {
                    return n > 0; // revents is set: readable, or an error the call itself will report
                }

                if (Marshal.GetLastPInvokeError() != Native.Libc.EINTR)
                {
                    return true; // let the call report it
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>The <see cref="SocketError"/> .NET reports for a Linux <paramref name="errno"/> (invariant 3).</summary>
    internal static SocketError ToSocketError(int errno) => errno switch
    {
        11 => SocketError.WouldBlock,           // EAGAIN
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

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint NativeRecv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint NativeSend(int fd, byte* buf, nuint len, int flags);
}
