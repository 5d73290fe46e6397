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

    /// <summary>
    /// Creates the exception for a write to any <see cref="Kyoto.IO.IAsyncWriter"/> that took
    /// <paramref name="bytesWritten"/> bytes before <paramref name="innerException"/> (Kyoto.IO's write all).
    /// </summary>
    internal PartialWriteException(int bytesWritten, Exception innerException)
        : base($"The write failed after {bytesWritten} bytes: {innerException.Message}", innerException)
    {
        BytesWritten = bytesWritten;
    }

    /// <summary>How many bytes were written before the failure.</summary>
    public int BytesWritten { get; }

    /// <summary>
    /// The socket error that stopped the write; <see cref="SocketError.SocketError"/> when the failure was not a
    /// socket error (a write to another <see cref="Kyoto.IO.IAsyncWriter"/>: see <see cref="Exception.InnerException"/>).
    /// </summary>
    public SocketError SocketError => InnerException is SocketException e ? e.SocketErrorCode : SocketError.SocketError;
}
