// Design of UdpFramed<T> (tokio-util's UdpFramed): one receive buffer of MaxDatagramSize bytes rented from the
// pool; a datagram is received into it whole and decoded with TryDecode while frames come out, and the rest with
// TryDecodeEof (a datagram is its own end of stream: a truncated frame in it is an error, and the rest of that
// datagram is dropped). Frames that are slices of the buffer are valid until the next ReceiveAsync. Sending
// encodes into a pooled buffer and sends it as one datagram. One receiving task and one sending task at a time.
using System.Buffers;
using System.Net;
using System.Runtime.CompilerServices;
using Kyoto.Codec.Internal;
using Kyoto.Net;

namespace Kyoto.Codec;

/// <summary>
/// Frames over UDP (tokio-util's <c>UdpFramed</c>): each received datagram is decoded into frames paired with its
/// sender's address; each frame sent is encoded into one datagram to a given address.
/// </summary>
/// <typeparam name="T">The frame type.</typeparam>
/// <remarks>
/// <para>A datagram may hold several frames: <see cref="ReceiveAsync"/> returns them one by one before receiving
/// the next datagram. A frame cut short by the end of its datagram is a <see cref="TruncatedFrameException"/>;
/// the rest of that datagram is dropped and the next call receives the next one.</para>
/// <para><b>Frame lifetime:</b> frames that are slices of the receive buffer are valid until the next
/// <see cref="ReceiveAsync"/>. Does not own the socket.</para>
/// </remarks>
/// <example>
/// <code>
/// using UdpSocket socket = UdpSocket.Bind(IPAddress.Loopback, 0);
/// await using var framed = new UdpFramed&lt;string&gt;(socket, new LinesCodec(), new LinesCodec());
/// (string line, IPEndPoint from) = await framed.ReceiveAsync();
/// await framed.SendAsync("echo: " + line, from);
/// </code>
/// </example>
public sealed class UdpFramed<T> : IAsyncDisposable
{
    /// <summary>The default <see cref="MaxDatagramSize"/>: 65,536 bytes, enough for any UDP datagram over IPv4.</summary>
    public const int DefaultMaxDatagramSize = 64 * 1024;

    private readonly UdpSocket _socket;
    private readonly IDecoder<T> _decoder;
    private readonly IEncoder<T> _encoder;
    private readonly PooledBufferWriter _output;
    private readonly int _maxDatagramSize;
    private byte[] _input;
    private int _start;
    private int _end;
    private IPEndPoint? _from;
    private bool _disposed;

    /// <summary>Frames <paramref name="socket"/>.</summary>
    /// <param name="socket">The bound socket; not owned.</param>
    /// <param name="decoder">Turns a datagram's bytes into frames.</param>
    /// <param name="encoder">Turns a frame into a datagram's bytes.</param>
    /// <param name="maxDatagramSize">The receive buffer's size: a longer datagram is truncated by the kernel. Defaults to <see cref="DefaultMaxDatagramSize"/>.</param>
    public UdpFramed(UdpSocket socket, IDecoder<T> decoder, IEncoder<T> encoder, int maxDatagramSize = DefaultMaxDatagramSize)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDatagramSize);
        _socket = socket;
        _decoder = decoder;
        _encoder = encoder;
        _maxDatagramSize = maxDatagramSize;
        _input = ArrayPool<byte>.Shared.Rent(maxDatagramSize);
        _output = new PooledBufferWriter(2048);
    }

    /// <summary>The socket.</summary>
    public UdpSocket Socket => _socket;

    /// <summary>The largest datagram received whole, in bytes.</summary>
    public int MaxDatagramSize => _maxDatagramSize;

    /// <summary>
    /// Receives the next frame and the address of the datagram it came in: the next frame of the current datagram,
    /// else the first of the next datagram that has one (empty datagrams are skipped).
    /// </summary>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: a cancelled receive has taken no datagram; frames left in the current datagram
    /// are still returned by the next call.
    /// </remarks>
    /// <exception cref="TruncatedFrameException">A datagram ends in the middle of a frame (the rest of it is dropped).</exception>
    /// <exception cref="FrameException">The decoder refused a datagram's bytes (the rest of it is dropped).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(T Frame, IPEndPoint RemoteEndPoint)> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (true)
        {
            if (_from is { } from && TryDecodeDatagram(out T frame))
            {
                return (frame, from);
            }

            UdpReceiveFromResult result = await _socket.ReceiveFromAsync(_input.AsMemory(0, _maxDatagramSize), cancellationToken).ConfigureAwait(true);
            _start = 0;
            _end = result.Count;
            _from = result.RemoteEndPoint;
        }
    }

    private bool TryDecodeDatagram(out T frame)
    {
        var buffer = new ReadOnlySequence<byte>(_input, _start, _end - _start);
        bool decoded = false;
        try
        {
            decoded = _decoder.TryDecode(ref buffer, out frame) || _decoder.TryDecodeEof(ref buffer, out frame);
            return decoded;
        }
        catch
        {
            // The decoder refused a frame: the rest of the datagram goes (below), and the datagram's end is the
            // decoder's end of stream, so what it keeps for the refused frame (a lines codec discarding up to the
            // next newline) does not reach into the next datagram and eat its first line.
            var nothing = ReadOnlySequence<byte>.Empty;
            try
            {
                _decoder.TryDecodeEof(ref nothing, out _);
            }
            catch (FrameException)
            {
                // the datagram already failed; this is only the decoder's end of stream
            }

            throw;
        }
        finally
        {
            if (decoded)
            {
                _start = _end - (int)buffer.Length;
            }
            else
            {
                // Done with this datagram (no frame left, or the decoder refused it): drop what remains.
                _start = _end = 0;
                _from = null;
            }
        }
    }

    /// <summary>Encodes <paramref name="frame"/> and sends it as one datagram to <paramref name="remoteEndPoint"/>.</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled send has sent nothing (send the frame again).</remarks>
    /// <exception cref="FrameException">The encoder refused the frame.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The socket refused the datagram (too long, unreachable).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(T frame, IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _output.Reset(64 * 1024);
        _encoder.Encode(frame, _output);
        await _socket.SendToAsync(_output.WrittenMemory, remoteEndPoint, cancellationToken).ConfigureAwait(true);
        _output.Reset(64 * 1024);
    }

    /// <summary>Returns the buffers to the pool. Does not dispose <see cref="Socket"/>. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            _output.Release();
            byte[] input = _input;
            _input = [];
            ArrayPool<byte>.Shared.Return(input);
        }

        return default;
    }
}
