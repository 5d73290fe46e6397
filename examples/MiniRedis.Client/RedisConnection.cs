// Design of RedisConnection: one TCP connection, many commands in flight (pipelining).
//
//   caller ──TrySend──▶ [mpsc channel] ──▶ writer task ──Write+Enqueue──▶ [pending FIFO] ◀──Dequeue── reader task
//                                              │ FlushAsync (one write per batch)                  ▲ FramedRead
//                                              ▼                                                  │
//                                            socket ─────────────────▶ redis ─────────────────────┘
//
// Invariants:
// 1. Send order is enqueue order. Only the writer task encodes commands and only it appends to _pending, and it
//    does both for one request before taking the next, in the order the channel delivers them. So the i-th
//    command on the wire is the i-th entry of _pending; Redis answers in request order, so the reader completes
//    _pending's head with each reply it decodes. No lock is held across an await to get this.
// 2. An entry is in _pending before its bytes can reach the server: the writer encodes into FramedWrite's buffer
//    and enqueues, and only flushes (the socket write) after the whole batch is enqueued. The reader can therefore
//    never see a reply whose request is not yet pending.
// 3. A request leaves _pending only through the reader (a reply, in order) or through Fail (all at once). A
//    cancelled or timed-out request stays until its reply arrives and is dropped: cancelling never shifts which
//    reply goes to which caller. A request cancelled before the writer took it is skipped and never sent.
// 4. Failure is one decision (Fail, under _lock): _failure is set once, the pending entries are failed, the channel
//    is closed (later TrySends fail and the caller fails itself) and _stop wakes both tasks. The writer fails
//    whatever it still drains from the channel; it checks _failure under _lock before enqueueing, so no request
//    is enqueued after the drain. The last task to exit disposes the socket and the framed buffers.
//
// Threads: _pending and _failure only under _lock (writer, reader, Fail from any thread). _requests (FramedWrite)
// only on the writer task; _replies (FramedRead) only on the reader task.
using System.Runtime.CompilerServices;
using Kyoto.Codec;
using Kyoto.Net;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;
using MiniRedis.Client.Internal;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// A pipelining connection to a Redis server on Kyoto: any number of tasks may call it at once; their commands
/// share one TCP connection, leave in batches (one socket write per batch), and each caller gets its own reply.
/// </summary>
/// <remarks>
/// <para>Must be created and used on a Kyoto runtime (it spawns a reader and a writer task).</para>
/// <para>A connection that breaks stays broken (<see cref="IsConnected"/> false): every call in flight fails with
/// <see cref="RedisConnectionException"/>, and so does every later call. <see cref="RedisPool"/> reconnects.</para>
/// <para>Typed helpers (GET, SET, INCR, ...) are extension methods in <see cref="RedisCommands"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// await using RedisConnection redis = await RedisConnection.ConnectAsync(new RedisClientOptions { Port = 6379 });
/// await redis.SetAsync("greeting", "hello");
/// string? value = await redis.GetAsync("greeting");
/// long n = await redis.IncrAsync("visits");
/// RespValue raw = await redis.ExecuteAsync("HSET", "user:1", "name", "kyoto");
/// </code>
/// </example>
public sealed class RedisConnection : IRedisExecutor, IAsyncDisposable, IDisposable
{
    // How many queued requests the writer takes per channel receive (and so at most per flush, unless the
    // buffer passes FramedWrite's high-water mark first).
    private const int WriterBatch = 512;

    private readonly RedisClientOptions _options;
    private readonly TcpStream _stream;
    private readonly FramedRead<RespValue> _replies;
    private readonly FramedWrite<RedisCommand> _requests;
    private readonly MpscUnboundedSender<PendingRequest> _queue;
    private readonly MpscReceiver<PendingRequest> _queueReceiver;
    private readonly Lock _lock = new();
    private readonly Queue<PendingRequest> _pending = new(); // under _lock
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RedisConnectionException? _failure; // under _lock (read without it as a hint)
    private int _tasksRunning = 2;

    private RedisConnection(TcpStream stream, RedisClientOptions options)
    {
        _options = options;
        _stream = stream;
        _replies = new FramedRead<RespValue>(stream, options.CreateDecoder());
        _requests = new FramedWrite<RedisCommand>(stream, RespCommandEncoder.Instance);
        (_queue, _queueReceiver) = Mpsc.CreateUnbounded<PendingRequest>();
    }

    /// <summary>True until the connection breaks or is disposed.</summary>
    public bool IsConnected => Volatile.Read(ref _failure) is null;

    /// <summary>The options the connection was made with (a copy).</summary>
    public RedisClientOptions Options => _options;

    /// <summary>Completes once the connection has closed and released its socket (after a failure or dispose).</summary>
    public Task Completion => _closed.Task;

    /// <summary>
    /// Connects to the server named by <paramref name="options"/> (defaults: <c>127.0.0.1:6379</c>). Must be
    /// called on a Kyoto runtime.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> a cancelled connect leaves nothing open.</remarks>
    /// <exception cref="RedisConnectionException">The TCP connection failed or timed out
    /// (<see cref="RedisClientOptions.ConnectTimeout"/>).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<RedisConnection> ConnectAsync(RedisClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        RedisClientOptions copy = options?.Clone() ?? new RedisClientOptions();
        TcpStream stream = await OpenSocketAsync(copy, cancellationToken).ConfigureAwait(true);
        var connection = new RedisConnection(stream, copy);
        connection.Start();
        return connection;
    }

    /// <summary>Opens the TCP connection with <see cref="RedisClientOptions.ConnectTimeout"/> (shared with <see cref="RedisSubscriber"/>).</summary>
    internal static async ValueTask<TcpStream> OpenSocketAsync(RedisClientOptions options, CancellationToken cancellationToken)
    {
        try
        {
            TcpStream stream = await KyotoTime.Timeout(
                options.ConnectTimeout,
                ct => TcpStream.ConnectAsync(options.Host, options.Port, ct),
                cancellationToken).ConfigureAwait(true);
            stream.NoDelay = true;
            return stream;
        }
        catch (ElapsedException e)
        {
            throw new RedisConnectionException($"Connecting to {options.Host}:{options.Port} timed out after {options.ConnectTimeout}.", e);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException)
        {
            throw new RedisConnectionException($"Could not connect to {options.Host}:{options.Port}: {e.Message}", e);
        }
    }

    private void Start()
    {
        KyotoTask.Spawn(WriterLoopAsync);
        KyotoTask.Spawn(ReaderLoopAsync);
    }

    /// <summary>Sends a command (its name then its arguments) with the default timeout and returns its reply.</summary>
    /// <inheritdoc cref="IRedisExecutor.ExecuteAsync" path="/remarks"/>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">The connection is broken or broke before the reply.</exception>
    /// <exception cref="RedisTimeoutException">No reply within <see cref="RedisClientOptions.CommandTimeout"/>.</exception>
    public ValueTask<RespValue> ExecuteAsync(params RedisArgument[] command) => ExecuteAsync(new RedisCommand(command), null, default);

    /// <summary>Sends <paramref name="command"/> with the default timeout and returns its reply.</summary>
    /// <inheritdoc cref="IRedisExecutor.ExecuteAsync" path="/remarks"/>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">The connection is broken or broke before the reply.</exception>
    /// <exception cref="RedisTimeoutException">No reply within <see cref="RedisClientOptions.CommandTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<RespValue> ExecuteAsync(RedisCommand command, CancellationToken cancellationToken) => ExecuteAsync(command, null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<RespValue> ExecuteAsync(RedisCommand command, TimeSpan? timeout, CancellationToken cancellationToken = default)
    {
        if (command.Parts is null || command.Parts.Length == 0)
        {
            throw new ArgumentException("A command needs at least its name.", nameof(command));
        }

        TimeSpan bound = timeout ?? _options.CommandTimeout;
        if (bound == Timeout.InfiniteTimeSpan)
        {
            ValueTask<RespValue> reply = SendAsync(command, cancellationToken);
            return reply.IsCompletedSuccessfully ? new ValueTask<RespValue>(ThrowIfError(reply.Result)) : AwaitReplyAsync(reply);
        }

        return ExecuteWithTimeoutAsync(command, bound, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RespValue> AwaitReplyAsync(ValueTask<RespValue> reply) => ThrowIfError(await reply.ConfigureAwait(true));

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RespValue> ExecuteWithTimeoutAsync(RedisCommand command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        RespValue reply;
        try
        {
            reply = await KyotoTime.Timeout(timeout, ct => SendAsync(command, ct), cancellationToken).ConfigureAwait(true);
        }
        catch (ElapsedException e)
        {
            throw new RedisTimeoutException(command.Name, timeout, e);
        }

        return ThrowIfError(reply);
    }

    private static RespValue ThrowIfError(RespValue reply) =>
        reply.IsError ? throw new RedisServerException(reply.AsString() ?? "") : reply;

    /// <summary>Queues <paramref name="command"/> for the writer task; the result completes with the raw reply.</summary>
    private ValueTask<RespValue> SendAsync(RedisCommand command, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            return ValueTask.FromException<RespValue>(Fresh(failure));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RespValue>(cancellationToken);
        }

        var request = PendingRequest.Rent(command, cancellationToken);
        ValueTask<RespValue> reply = request.AsValueTask();
        if (!_queue.TrySend(request))
        {
            // The channel closed (Fail): the writer will never see this request.
            request.TryFail(Fresh(Volatile.Read(ref _failure)));
            request.ReleaseConnection();
        }

        return reply;
    }

    private async Task WriterLoopAsync()
    {
        var batch = new PendingRequest[WriterBatch];
        Exception? error = null;
        try
        {
            while (true)
            {
                int n = await _queueReceiver.RecvManyAsync(batch, _stop.Token).ConfigureAwait(true);
                if (n == 0)
                {
                    break; // closed by Fail and drained
                }

                for (int i = 0; i < n; i++)
                {
                    PendingRequest request = batch[i];
                    batch[i] = null!;
                    EncodeAndEnqueue(request);
                }

                await _requests.FlushAsync(_stop.Token).ConfigureAwait(true);
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            Fail(error is null or OperationCanceledException ? null : new RedisConnectionException($"Writing to the server failed: {error.Message}", error));
            while (_queueReceiver.TryRecv(out PendingRequest request))
            {
                FailRequest(request);
            }

            TaskExited();
        }
    }

    /// <summary>Invariants 1 and 2: encode into the unflushed buffer, then enqueue, in channel order.</summary>
    private void EncodeAndEnqueue(PendingRequest request)
    {
        if (request.IsCompleted)
        {
            // Cancelled or timed out before it was sent: never send it (invariant 3).
            request.ReleaseConnection();
            return;
        }

        try
        {
            _requests.Write(request.Command);
        }
        catch (FrameException e)
        {
            // Nothing of it was buffered (FramedWrite rolls back), so the stream stays in sync.
            request.TryFail(new RedisException($"Could not encode {request.Command.Name}: {e.Message}", e));
            request.ReleaseConnection();
            return;
        }

        lock (_lock)
        {
            if (_failure is null)
            {
                _pending.Enqueue(request);
                return;
            }
        }

        FailRequest(request);
    }

    private async Task ReaderLoopAsync()
    {
        RedisConnectionException? error = null;
        try
        {
            while (await _replies.WaitToReadAsync(_stop.Token).ConfigureAwait(true))
            {
                while (_replies.TryRead(out RespValue reply))
                {
                    PendingRequest? request;
                    lock (_lock)
                    {
                        _pending.TryDequeue(out request);
                    }

                    if (request is null)
                    {
                        throw new RedisConnectionException($"The server sent a reply with no command pending ({reply}).");
                    }

                    // False when the caller cancelled or timed out: the reply is dropped (invariant 3).
                    request.TryComplete(reply);
                    request.ReleaseConnection();
                }
            }

            error = new RedisConnectionException("The server closed the connection.");
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Fail already decided why.
        }
        catch (RedisConnectionException e)
        {
            error = e;
        }
        catch (Exception e)
        {
            error = new RedisConnectionException($"Reading from the server failed: {e.Message}", e);
        }
        finally
        {
            Fail(error);
            TaskExited();
        }
    }

    /// <summary>Invariant 4: breaks the connection once; fails every pending request. Any thread.</summary>
    private void Fail(RedisConnectionException? cause)
    {
        PendingRequest[] failed;
        RedisConnectionException failure;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return;
            }

            failure = cause ?? new RedisConnectionException("The connection was closed.");
            Volatile.Write(ref _failure, failure);
            failed = _pending.ToArray();
            _pending.Clear();
        }

        // Completions run after the lock is released.
        _queueReceiver.Close();
        _stop.Cancel();
        foreach (PendingRequest request in failed)
        {
            FailRequest(request);
        }
    }

    private void FailRequest(PendingRequest request)
    {
        request.TryFail(Fresh(Volatile.Read(ref _failure)));
        request.ReleaseConnection();
    }

    // Each caller gets its own exception object (one instance thrown from many tasks would mix stack traces).
    private static RedisConnectionException Fresh(RedisConnectionException? failure) =>
        new(failure?.Message ?? "The connection was closed.", failure?.InnerException);

    private void TaskExited()
    {
        if (Interlocked.Decrement(ref _tasksRunning) != 0)
        {
            return;
        }

        // Both tasks are done: nobody touches the framed reader, writer or socket any more.
        _ = _replies.DisposeAsync();
        _ = _requests.DisposeAsync();
        _stream.Dispose();
        _closed.TrySetResult();
    }

    /// <summary>
    /// Closes the connection: calls in flight fail with <see cref="RedisConnectionException"/>, and the socket is
    /// closed once the reader and writer tasks have stopped (see <see cref="Completion"/>).
    /// </summary>
    public void Dispose() => Fail(new RedisConnectionException("The connection was disposed."));

    /// <summary>Closes the connection as <see cref="Dispose"/> does and waits until its socket is closed.</summary>
    public async ValueTask DisposeAsync()
    {
        Dispose();
        await _closed.Task.ConfigureAwait(true);
    }
}
