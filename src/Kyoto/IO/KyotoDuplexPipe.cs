// KyotoDuplexPipe: System.IO.Pipelines over a Kyoto IAsyncDuplex (Kestrel-style protocol code over Kyoto sockets).
//
// Design: no Pipe pair and no pump tasks. Input is PipeReader.Create and Output is PipeWriter.Create over a
// KyotoStream (leaveOpen), wrapped to add the connection semantics a stream reader/writer lacks:
//  - the application reads on its own task: Input.ReadAsync calls the socket read directly into the pipe's
//    pooled segments, so a read costs one socket call and no copy, thread hop or extra task (a pump design
//    would copy into a Pipe and wake a second task per chunk);
//  - Output buffers in pooled segments and FlushAsync writes them (all bytes, looping over partial writes);
//  - completing Output flushes and shuts the transport's write side down (the peer reads end of stream);
//  - completing both Input and Output disposes the transport (unless leaveOpen); so does DisposeAsync.
// End of stream: Input's ReadResult.IsCompleted becomes true once the socket read returns 0. Errors: a failed
// socket read or write surfaces as the exception of Input.ReadAsync or Output.FlushAsync.
// Zero-byte reads are always off: a Kyoto reader answers an empty buffer with 0 at once, which a stream reader
// would take for end of stream.
//
// Threading: every await the application makes on Input or Output resumes on the runtime. Inside, the BCL
// reader/writer await the Kyoto socket with ConfigureAwait(false), but a Kyoto awaitable resumes on its runtime
// regardless; the application's own await captured the worker's SynchronizationContext, so it comes back to
// the runtime and to the same Kyoto task. The PipeOptions switch useSynchronizationContext does not apply (there
// is no Pipe); the pipe's continuations are the socket's.
//
// Invariants: _sidesDone counts completed sides (0..2); the transport is disposed once, by whoever brings it
// to 2 or by DisposeAsync (_disposed 0 -> 1).
using System.IO.Pipelines;

namespace Kyoto.IO;

/// <summary>
/// An <see cref="IDuplexPipe"/> over a Kyoto <see cref="IAsyncDuplex"/> (such as a <c>TcpStream</c>): read
/// protocol messages from <see cref="Input"/> and write replies to <see cref="Output"/>.
/// </summary>
/// <remarks>
/// <para><see cref="Input"/> reads from the transport on the caller's task (no pump task, no copy);
/// <c>ReadResult.IsCompleted</c> is true at end of stream; a transport error is thrown by
/// <c>ReadAsync</c>. <see cref="Output"/> buffers until <c>FlushAsync</c>, which writes everything.</para>
/// <para>Completing <see cref="Output"/> flushes (unless completed with an exception) and shuts the transport's
/// write direction down, so the peer reads end of stream; prefer <c>CompleteAsync</c> on a Kyoto worker, since
/// the synchronous <c>Complete</c> cannot flush there. Once both <see cref="Input"/> and <see cref="Output"/> are
/// completed, or on <see cref="DisposeAsync"/>, the transport is disposed unless the pipe was created with
/// <c>leaveOpen</c>.</para>
/// <para>Awaits on <see cref="Input"/> and <see cref="Output"/> from a Kyoto task resume on the runtime, in the
/// same task.</para>
/// </remarks>
/// <example>
/// <code>
/// using TcpStream tcp = await acceptor.AcceptAsync();
/// KyotoDuplexPipe pipe = tcp.AsDuplexPipe();
/// while (true)
/// {
///     ReadResult result = await pipe.Input.ReadAsync();
///     // parse result.Buffer, write replies to pipe.Output, await pipe.Output.FlushAsync() ...
///     pipe.Input.AdvanceTo(consumed, result.Buffer.End);
///     if (result.IsCompleted) break;
/// }
/// await pipe.DisposeAsync();
/// </code>
/// </example>
public sealed class KyotoDuplexPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly IAsyncDuplex _transport;
    private readonly bool _leaveOpen;
    private readonly DuplexPipeReader _input;
    private readonly DuplexPipeWriter _output;
    private int _sidesDone;
    private int _disposed;

    /// <summary>Creates a pipe over <paramref name="transport"/>.</summary>
    /// <param name="transport">The connection to read from and write to.</param>
    /// <param name="readerOptions">Buffer pool and sizes of <see cref="Input"/>. Defaults to the BCL's
    /// (<see cref="StreamPipeReaderOptions"/>: shared pool, 4 KiB buffers). Its <c>LeaveOpen</c> and
    /// <c>UseZeroByteReads</c> are ignored (see <paramref name="leaveOpen"/>; zero-byte reads are off).</param>
    /// <param name="writerOptions">Buffer pool and minimum buffer size of <see cref="Output"/>. Defaults to the
    /// BCL's (<see cref="StreamPipeWriterOptions"/>: shared pool, 4 KiB). Its <c>LeaveOpen</c> is ignored.</param>
    /// <param name="leaveOpen">True to leave <paramref name="transport"/> undisposed when both sides complete
    /// or the pipe is disposed. Defaults to false.</param>
    public KyotoDuplexPipe(IAsyncDuplex transport, StreamPipeReaderOptions? readerOptions = null, StreamPipeWriterOptions? writerOptions = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _leaveOpen = leaveOpen;
        var stream = new KyotoStream(transport, leaveOpen: true);
        readerOptions ??= new StreamPipeReaderOptions();
        writerOptions ??= new StreamPipeWriterOptions();
        PipeReader reader = PipeReader.Create(stream, new StreamPipeReaderOptions(
            readerOptions.Pool, readerOptions.BufferSize, readerOptions.MinimumReadSize, leaveOpen: true, useZeroByteReads: false));
        PipeWriter writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(
            writerOptions.Pool, writerOptions.MinimumBufferSize, leaveOpen: true));
        _input = new DuplexPipeReader(reader, this);
        _output = new DuplexPipeWriter(writer, transport, this);
    }

    /// <summary>The connection under the pipe.</summary>
    public IAsyncDuplex Transport => _transport;

    /// <summary>What the peer sent: <c>ReadResult.IsCompleted</c> at end of stream.</summary>
    public PipeReader Input => _input;

    /// <summary>What to send: completing it flushes and shuts the transport's write side down.</summary>
    public PipeWriter Output => _output;

    /// <summary>
    /// Completes <see cref="Output"/> (flush and shutdown; their errors are swallowed, the connection is being
    /// closed anyway) and <see cref="Input"/>, then disposes the transport unless left open.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _output.CompleteAsync().ConfigureAwait(true);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // Closing anyway: a failed final flush or shutdown has nobody to report to.
        }

        await _input.CompleteAsync().ConfigureAwait(true);
        await DisposeTransportAsync().ConfigureAwait(true);
    }

    /// <summary>Called once by each side when the application completes it.</summary>
    internal void SideCompleted()
    {
        if (Interlocked.Increment(ref _sidesDone) == 2 && Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen)
        {
            AdapterSync.Dispose(_transport);
        }
    }

    /// <inheritdoc cref="SideCompleted"/>
    internal ValueTask SideCompletedAsync() => Interlocked.Increment(ref _sidesDone) == 2 ? DisposeTransportAsync() : default;

    private ValueTask DisposeTransportAsync()
        => Interlocked.Exchange(ref _disposed, 1) == 0 && !_leaveOpen ? AdapterSync.DisposeAsync(_transport) : default;
}
