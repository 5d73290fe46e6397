using System.Net.Sockets;

namespace Kyoto.Net;

/// <summary>A write failed after part of the data went out: <see cref="BytesWritten"/> says how much.</summary>
public sealed class PartialWriteException : IOException
{
    /// <summary>Creates the exception for a write that sent <paramref name="bytesWritten"/> bytes before <paramref name="innerException"/>.</summary>
    public PartialWriteException(int bytesWritten, SocketException innerException)
        : base($"The write failed after {bytesWritten} bytes: {innerException.Message}", innerException)
    {
        BytesWritten = bytesWritten;
    }

    /// <summary>How many bytes were written before the failure.</summary>
    public int BytesWritten { get; }

    /// <summary>The socket error that stopped the write.</summary>
    public SocketError SocketError => ((SocketException)InnerException!).SocketErrorCode;
}
