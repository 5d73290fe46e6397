using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>Socket options shared by Kyoto's socket types, in Tokio's shapes.</summary>
internal static class SocketOptions
{
    internal static TimeSpan? GetLinger(Socket socket)
    {
        LingerOption option = socket.LingerState!;
        return option.Enabled ? TimeSpan.FromSeconds(option.LingerTime) : null;
    }

    internal static void SetLinger(Socket socket, TimeSpan? linger)
    {
        if (linger is { } value)
        {
            if (value < TimeSpan.Zero || value.TotalSeconds > ushort.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(linger), value, "Linger must be between zero and 65535 seconds.");
            }

            socket.LingerState = new LingerOption(true, (int)Math.Ceiling(value.TotalSeconds));
        }
        else
        {
            socket.LingerState = new LingerOption(false, 0);
        }
    }
}
