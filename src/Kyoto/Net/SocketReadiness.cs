// Socket calls' would-block results: a try-call's SocketError turned into "done" or "would block" (any other
// error thrown as .NET's calls do), and EAGAIN recognised when a .NET call reports it as a SocketException.
using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>Would-block handling shared by the socket types' try-calls.</summary>
internal static class SocketReadiness
{
    /// <summary>True for success, false for EAGAIN; throws any other error as .NET's calls do.</summary>
    /// <exception cref="SocketException">The call failed.</exception>
    internal static bool Succeeded(SocketError error) => error switch
    {
        SocketError.Success => true,
        SocketError.WouldBlock => false,
        _ => throw new SocketException((int)error),
    };

    /// <summary>Whether <paramref name="e"/> is EAGAIN reported as an exception.</summary>
    internal static bool IsWouldBlock(SocketException e) => e.SocketErrorCode == SocketError.WouldBlock;
}
