// Helpers shared by the Unix domain socket types: socketpair(2) into .NET Sockets, and the path inside a
// sockaddr_un (unnamed: null; abstract: a leading NUL, as UnixDomainSocketEndPoint takes it).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Kyoto.Native;

namespace Kyoto.Net;

/// <summary>Unix domain socket plumbing for <see cref="UnixStream"/>, <see cref="UnixListener"/> and <see cref="UnixDatagram"/>.</summary>
internal static class UnixSockets
{
    /// <summary>The size of <c>struct sockaddr_un</c> on Linux.</summary>
    internal const int AddressSize = 110;

    /// <summary>
    /// A connected pair of <paramref name="type"/> wrapped by <paramref name="wrap"/> (the second joins the first's
    /// reactor, <paramref name="reactorOf"/>); nothing is left open if a wrap fails.
    /// </summary>
    internal static (T First, T Second) WrappedPair<T>(int type, Func<Socket, Reactor.IoReactor?, T> wrap, Func<T, Reactor.IoReactor> reactorOf)
        where T : IDisposable
    {
        (Socket a, Socket b) = Pair(type);
        T first;
        try
        {
            first = wrap(a, null);
        }
        catch
        {
            b.Dispose();
            throw;
        }

        try
        {
            return (first, wrap(b, reactorOf(first)));
        }
        catch
        {
            first.Dispose();
            throw;
        }
    }

    /// <summary>A connected pair of non-blocking, close-on-exec Unix sockets of <paramref name="type"/>.</summary>
    /// <exception cref="SocketException">socketpair failed (for example the descriptor limit was reached).</exception>
    internal static unsafe (Socket A, Socket B) Pair(int type)
    {
        int* sv = stackalloc int[2];
        if (Libc.socketpair(Libc.AF_UNIX, type | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, sv) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new SocketException(errno == 24 || errno == 23 ? (int)SocketError.TooManyOpenSockets : (int)SocketError.SocketError);
        }

        Socket? a = null;
        try
        {
            a = Adopt(sv[0]);
        }
        catch
        {
            Libc.close(sv[1]);
            throw;
        }

        try
        {
            return (a, Adopt(sv[1]));
        }
        catch
        {
            a.Dispose();
            throw;
        }
    }

    private static Socket Adopt(int fd)
    {
        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        try
        {
            return new Socket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The path of a Unix endpoint: null if unnamed.</summary>
    internal static string? PathOf(EndPoint? endPoint) => endPoint is null ? null : PathOf(endPoint.Serialize());

    /// <summary>The path inside a <c>sockaddr_un</c>: null if unnamed, a leading NUL for an abstract name.</summary>
    internal static string? PathOf(SocketAddress address)
    {
        if (address.Size <= 2)
        {
            return null;
        }

        ReadOnlySpan<byte> path = address.Buffer.Span[2..address.Size];
        if (path[0] == 0)
        {
            return path.Length == 1 ? null : "\0" + Encoding.UTF8.GetString(path[1..]);
        }

        int end = path.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? path : path[..end]);
    }

    /// <summary>A Unix endpoint for <paramref name="path"/>, with argument checks.</summary>
    /// <exception cref="ArgumentException">The path is empty or too long.</exception>
    internal static UnixDomainSocketEndPoint EndPointOf(string path, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(path, paramName);
        try
        {
            return new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"The path is longer than a Unix socket address holds ({AddressSize - 3} bytes).", paramName, e);
        }
    }
}
