using Microsoft.Win32.SafeHandles;

namespace Kyoto.Net;

/// <summary>
/// The descriptor of a connection Kyoto accepted or connected itself, owned by Kyoto even once a .NET Socket is
/// made over it (<see cref="SocketIo"/> invariant 5). Releasing it is a plain close(2): an orderly FIN (or what
/// SO_LINGER says), never the reset that disposing an owning <see cref="System.Net.Sockets.SafeSocketHandle"/>
/// sends.
/// </summary>
internal sealed class SocketHandle : SafeHandleMinusOneIsInvalid
{
    internal SocketHandle(int fd)
        : base(ownsHandle: true) => SetHandle(fd);

    protected override bool ReleaseHandle() => Native.Libc.close((int)handle) == 0;
}
