using System.IO.Pipelines;

namespace Kyoto.IO;

/// <summary>
/// Bridges between Kyoto's byte streams and .NET's: <c>AsStream</c> (Kyoto to <see cref="Stream"/>),
/// <c>AsAsyncDuplex</c> (<see cref="Stream"/> to Kyoto) and <c>AsDuplexPipe</c> (Kyoto to System.IO.Pipelines).
/// </summary>
/// <example>
/// <code>
/// using TcpStream tcp = await TcpStream.ConnectAsync(endPoint);
/// await using var tls = new SslStream(tcp.AsStream(leaveOpen: true));
/// await tls.AuthenticateAsClientAsync("example.com");
/// KyotoDuplexPipe pipe = tls.AsAsyncDuplex().AsDuplexPipe();
/// </code>
/// </example>
public static class StreamAdapterExtensions
{
    /// <summary>A readable and writable <see cref="Stream"/> over <paramref name="duplex"/> (see <see cref="KyotoStream"/>).</summary>
    /// <param name="duplex">The Kyoto stream to adapt.</param>
    /// <param name="leaveOpen">True to leave <paramref name="duplex"/> undisposed when the stream is disposed. Defaults to false.</param>
    public static KyotoStream AsStream(this IAsyncDuplex duplex, bool leaveOpen = false) => new(duplex, leaveOpen);

    /// <summary>A read-only <see cref="Stream"/> over <paramref name="reader"/> (see <see cref="KyotoStream"/>).</summary>
    /// <param name="reader">The Kyoto reader to adapt.</param>
    /// <param name="leaveOpen">True to leave <paramref name="reader"/> undisposed when the stream is disposed. Defaults to false.</param>
    public static KyotoStream AsStream(this IAsyncReader reader, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return new(reader, null, leaveOpen);
    }

    /// <summary>A write-only <see cref="Stream"/> over <paramref name="writer"/> (see <see cref="KyotoStream"/>).</summary>
    /// <param name="writer">The Kyoto writer to adapt.</param>
    /// <param name="leaveOpen">True to leave <paramref name="writer"/> undisposed when the stream is disposed. Defaults to false.</param>
    public static KyotoStream AsStream(this IAsyncWriter writer, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return new(null, writer, leaveOpen);
    }

    /// <summary>A Kyoto <see cref="IAsyncDuplex"/> over <paramref name="stream"/> (see <see cref="StreamDuplex"/> for what shutdown does per stream type).</summary>
    /// <param name="stream">The stream to adapt.</param>
    /// <param name="leaveOpen">True to leave <paramref name="stream"/> undisposed when the adapter is disposed. Defaults to false.</param>
    public static StreamDuplex AsAsyncDuplex(this Stream stream, bool leaveOpen = false) => new(stream, leaveOpen);

    /// <summary>An <see cref="IDuplexPipe"/> over <paramref name="duplex"/> (see <see cref="KyotoDuplexPipe"/>).</summary>
    /// <param name="duplex">The connection to read from and write to.</param>
    /// <param name="readerOptions">Buffer pool and sizes of the input. Defaults to the BCL's <see cref="StreamPipeReaderOptions"/>.</param>
    /// <param name="writerOptions">Buffer pool and minimum buffer size of the output. Defaults to the BCL's <see cref="StreamPipeWriterOptions"/>.</param>
    /// <param name="leaveOpen">True to leave <paramref name="duplex"/> undisposed when both sides complete. Defaults to false.</param>
    public static KyotoDuplexPipe AsDuplexPipe(this IAsyncDuplex duplex, StreamPipeReaderOptions? readerOptions = null, StreamPipeWriterOptions? writerOptions = null, bool leaveOpen = false)
        => new(duplex, readerOptions, writerOptions, leaveOpen);
}
