using Microsoft.Win32.SafeHandles;

namespace Kyoto.Net;

/// <summary>
/// An accepted connection's descriptor, owned by Kyoto until a .NET Socket is asked for (<see cref="SocketIo"/>
/// invariant 5). Releasing it is a plain close(2): an orderly FIN (or what SO_LINGER says), never the reset
/// that disposing a <see cref="System.Net.Sockets.SafeSocketHandle"/> directly sends.
/// </summary>
internal sealed class SocketHandle : SafeHandleMinusOneIsInvalid
{
    internal SocketHandle(int fd)
        : base(ownsHandle: true) => SetHandle(fd);

    protected override bool ReleaseHandle() => Native.Libc.close((int)handle) == 0;
}
