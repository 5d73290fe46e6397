using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>Socket options shared by Kyoto's socket types, in Tokio's shapes.</summary>
internal static class SocketOptions
{
    internal const int SolSocket = 1;
    internal const int SoReuseAddr = 2;
    internal const int SoReusePort = 15;

    /// <summary>
    /// Sets SO_REUSEADDR alone. .NET's <see cref="SocketOptionName.ReuseAddress"/> sets SO_REUSEPORT with it on
    /// Linux, which would let a second server bind a port in use and split its connections.
    /// </summary>
    internal static void SetReuseAddress(Socket socket, bool value)
    {
        Span<byte> raw = stackalloc byte[4];
        BitConverter.TryWriteBytes(raw, value ? 1 : 0);
        socket.SetRawSocketOption(SolSocket, SoReuseAddr, raw);
    }

    /// <summary>
    /// Makes an IPv6 socket dual-stack (IPV6_V6ONLY off), as Linux's default and Tokio's sockets are: .NET turns
    /// IPV6_V6ONLY on, so a server bound to [::] refused IPv4 clients and IPv4-mapped addresses failed.
    /// </summary>
    internal static Socket DualStack(Socket socket)
    {
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }

        return socket;
    }
    internal const int SoLinger = 13;

    internal static TimeSpan? GetLinger(Socket socket)
    {
        LingerOption option = socket.LingerState!;
        return FromLinger(option.Enabled, option.LingerTime);
    }

    internal static void SetLinger(Socket socket, TimeSpan? linger)
    {
        (bool enabled, int seconds) = ToLinger(linger);
        socket.LingerState = new LingerOption(enabled, seconds);
    }

    /// <summary>SO_LINGER straight from the descriptor (<c>struct linger</c>: two ints, on/off and seconds).</summary>
    internal static TimeSpan? GetLinger(SocketIo io)
    {
        Span<int> linger = stackalloc int[2];
        io.GetOption(SolSocket, SoLinger, System.Runtime.InteropServices.MemoryMarshal.AsBytes(linger));
        return FromLinger(linger[0] != 0, linger[1]);
    }

    /// <summary>SO_LINGER straight on the descriptor.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than <see cref="ushort.MaxValue"/> seconds.</exception>
    internal static void SetLinger(SocketIo io, TimeSpan? linger)
    {
        (bool enabled, int seconds) = ToLinger(linger);
        Span<int> value = stackalloc int[] { enabled ? 1 : 0, seconds };
        io.SetOption(SolSocket, SoLinger, System.Runtime.InteropServices.MemoryMarshal.AsBytes(value));
    }

    private static TimeSpan? FromLinger(bool enabled, int seconds) => enabled ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>Tokio's shape to SO_LINGER's: none is off; a time is on, in whole seconds rounded up.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or more than <see cref="ushort.MaxValue"/> seconds.</exception>
    private static (bool Enabled, int Seconds) ToLinger(TimeSpan? linger)
    {
        if (linger is not { } value)
        {
            return (false, 0);
        }

        if (value < TimeSpan.Zero || value.TotalSeconds > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(linger), value, "Linger must be between zero and 65535 seconds.");
        }

        return (true, (int)Math.Ceiling(value.TotalSeconds));
    }
}
