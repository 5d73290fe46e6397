// Design of RedisSubscriber: pub/sub on a connection of its own (a subscribed connection accepts only
// (P)(UN)SUBSCRIBE and PING, and the server pushes messages at any time, so it cannot be pipelined like
// RedisConnection).
// - One supervisor task owns the socket: it reads pushes and routes them (messages into an unbounded mpsc
//   channel that ReadMessagesAsync drains; subscribe/unsubscribe confirmations to the callers waiting for them),
//   and when the connection breaks it reconnects with backoff and subscribes again to everything wanted.
// - The wanted sets (_channels, _patterns) change only while holding _writeGate, and every command is written
//   under it too: so a (un)subscribe either reaches the current connection, or is in the sets before the
//   supervisor's resubscribe (which runs under the gate) reads them. Nothing is lost across a reconnect.
// - Confirmations: one FIFO of waiters per kind and name; a confirmation with no waiter (a resubscribe) is ignored.
// Threads: _channels, _patterns, _confirmations under _lock; _writer under _writeGate; the FramedRead only on the
// supervisor task.
using System.Runtime.CompilerServices;
using Kyoto.Codec;
using Kyoto.Net;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// A pub/sub subscriber: subscribes to channels and patterns on its own connection, delivers messages through
/// <see cref="ReadMessagesAsync"/>, and after the connection breaks (a server restart) reconnects with backoff and
/// subscribes again.
/// </summary>
/// <remarks>
/// Messages wait in an unbounded queue until read: a reader that falls behind costs memory, not lost messages.
/// Messages published while the connection is down are lost (Redis pub/sub does not keep them). Must be used on
/// a Kyoto runtime.
/// </remarks>
/// <example>
/// <code>
/// await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(options);
/// await sub.SubscribeAsync(["news"]);
/// await sub.PSubscribeAsync(["news.*"]);
/// await foreach (RedisMessage m in sub.ReadMessagesAsync(ct))
/// {
///     Console.WriteLine($"{m.Channel} ({m.Pattern}): {m.PayloadString}");
/// }
/// </code>
/// </example>
public sealed class RedisSubscriber : IAsyncDisposable
{
    private readonly RedisClientOptions _options;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _channels = new(StringComparer.Ordinal); // under _lock, changed under _writeGate
    private readonly HashSet<string> _patterns = new(StringComparer.Ordinal); // under _lock, changed under _writeGate
    private readonly Dictionary<(string Kind, string Name), Queue<TaskCompletionSource>> _confirmations = new(); // under _lock
    private readonly AsyncSemaphore _writeGate = new(1);
    private readonly MpscUnboundedSender<RedisMessage> _messages;
    private readonly MpscReceiver<RedisMessage> _messageReader;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FramedWrite<RedisCommand>? _writer; // under _writeGate; null while disconnected
    private TcpStream? _stream;
    private int _connects;

    private RedisSubscriber(RedisClientOptions options)
    {
        _options = options;
        (_messages, _messageReader) = Mpsc.CreateUnbounded<RedisMessage>();
    }

    /// <summary>How many times a connection was made (1 after connecting, +1 per reconnect).</summary>
    public int Connects => Volatile.Read(ref _connects);

    /// <summary>True while the subscriber has a live connection.</summary>
    public bool IsConnected => Volatile.Read(ref _stream) is not null;

    /// <summary>Connects a subscriber to the server named by <paramref name="options"/>. Must be called on a Kyoto runtime.</summary>
    /// <exception cref="RedisConnectionException">The first connection failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask<RedisSubscriber> ConnectAsync(RedisClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        RedisClientOptions copy = options?.Clone() ?? new RedisClientOptions();
        TcpStream stream = await RedisConnection.OpenSocketAsync(copy, cancellationToken).ConfigureAwait(true);
        var subscriber = new RedisSubscriber(copy);
        _ = KyotoTask.Spawn(() => subscriber.SuperviseAsync(stream));
        return subscriber;
    }

    /// <summary><c>SUBSCRIBE</c> to <paramref name="channels"/>; completes once the server confirmed each.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled call may still have subscribed (the subscription is kept and
    /// restored after reconnects); call <see cref="UnsubscribeAsync"/> to undo it.</remarks>
    /// <exception cref="RedisTimeoutException">No confirmation within <see cref="RedisClientOptions.CommandTimeout"/>
    /// (the subscription stays wanted and is retried on reconnect).</exception>
    /// <exception cref="ObjectDisposedException">The subscriber was disposed.</exception>
    public ValueTask SubscribeAsync(IReadOnlyList<string> channels, CancellationToken cancellationToken = default)
        => ChangeAsync("SUBSCRIBE", "subscribe", channels, cancellationToken);

    /// <summary><c>PSUBSCRIBE</c> to glob-style <paramref name="patterns"/> (<c>news.*</c>); completes once each is confirmed.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="SubscribeAsync"/>.</remarks>
    /// <exception cref="RedisTimeoutException">No confirmation in time.</exception>
    /// <exception cref="ObjectDisposedException">The subscriber was disposed.</exception>
    public ValueTask PSubscribeAsync(IReadOnlyList<string> patterns, CancellationToken cancellationToken = default)
        => ChangeAsync("PSUBSCRIBE", "psubscribe", patterns, cancellationToken);

    /// <summary><c>UNSUBSCRIBE</c> from <paramref name="channels"/>; completes once each is confirmed. Messages
    /// already queued for them are still delivered.</summary>
    /// <remarks><b>Cancel safety:</b> a cancelled call may still have unsubscribed; the channels are no longer
    /// restored after reconnects.</remarks>
    /// <exception cref="RedisTimeoutException">No confirmation in time.</exception>
    /// <exception cref="ObjectDisposedException">The subscriber was disposed.</exception>
    public ValueTask UnsubscribeAsync(IReadOnlyList<string> channels, CancellationToken cancellationToken = default)
        => ChangeAsync("UNSUBSCRIBE", "unsubscribe", channels, cancellationToken);

    /// <summary><c>PUNSUBSCRIBE</c> from <paramref name="patterns"/>; completes once each is confirmed.</summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="UnsubscribeAsync"/>.</remarks>
    /// <exception cref="RedisTimeoutException">No confirmation in time.</exception>
    /// <exception cref="ObjectDisposedException">The subscriber was disposed.</exception>
    public ValueTask PUnsubscribeAsync(IReadOnlyList<string> patterns, CancellationToken cancellationToken = default)
        => ChangeAsync("PUNSUBSCRIBE", "punsubscribe", patterns, cancellationToken);

    /// <summary>
    /// The messages received, in order, until the subscriber is disposed (then the sequence ends after the
    /// queued ones). One reader at a time.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled wait takes no message.</remarks>
    public async IAsyncEnumerable<RedisMessage> ReadMessagesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            RedisMessage message;
            try
            {
                message = await _messageReader.RecvAsync(cancellationToken).ConfigureAwait(true);
            }
            catch (ClosedChannelException)
            {
                yield break;
            }

            yield return message;
        }
    }

    /// <summary>Waits for the next message.</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled wait takes no message.</remarks>
    /// <exception cref="ClosedChannelException">The subscriber was disposed and every message was read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<RedisMessage> ReceiveAsync(CancellationToken cancellationToken = default) => _messageReader.RecvAsync(cancellationToken);

    private async ValueTask ChangeAsync(string command, string confirmation, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(names);
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        if (names.Count == 0)
        {
            return;
        }

        var waits = new Task[names.Count];
        using (SemaphorePermit gate = await _writeGate.AcquireAsync(cancellationToken).ConfigureAwait(true))
        {
            lock (_lock)
            {
                for (int i = 0; i < names.Count; i++)
                {
                    string name = names[i];
                    _ = command switch
                    {
                        "SUBSCRIBE" => _channels.Add(name),
                        "PSUBSCRIBE" => _patterns.Add(name),
                        "UNSUBSCRIBE" => _channels.Remove(name),
                        _ => _patterns.Remove(name),
                    };
                    var key = (confirmation, name);
                    if (!_confirmations.TryGetValue(key, out Queue<TaskCompletionSource>? queue))
                    {
                        _confirmations[key] = queue = new Queue<TaskCompletionSource>();
                    }

                    var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    queue.Enqueue(tcs);
                    waits[i] = tcs.Task;
                }
            }

            if (_writer is { } writer)
            {
                var parts = new RedisArgument[1 + names.Count];
                parts[0] = command;
                for (int i = 0; i < names.Count; i++)
                {
                    parts[1 + i] = names[i];
                }

                try
                {
                    await writer.SendAsync(parts, cancellationToken).ConfigureAwait(true);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    // The connection is breaking: the supervisor reconnects and applies the wanted sets, which
                    // already include this change; its confirmations will come from there.
                }
            }
        }

        try
        {
            await KyotoTime.Timeout(_options.CommandTimeout, async ct =>
            {
                await Task.WhenAll(waits).WaitAsync(ct).ConfigureAwait(true);
                return true;
            }, cancellationToken).ConfigureAwait(true);
        }
        catch (ElapsedException e)
        {
            throw new RedisTimeoutException(command, _options.CommandTimeout, e);
        }
    }

    private async Task SuperviseAsync(TcpStream first)
    {
        TcpStream? stream = first;
        int failures = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (stream is null)
                {
                    failures++;
                    await KyotoTime.Sleep(_options.Backoff(failures), _stop.Token);
                    try
                    {
                        stream = await RedisConnection.OpenSocketAsync(_options, _stop.Token).ConfigureAwait(true);
                    }
                    catch (RedisConnectionException)
                    {
                        continue;
                    }
                }

                failures = 0;
                await RunSessionAsync(stream).ConfigureAwait(true);
                stream = null;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // disposed
        }
        finally
        {
            stream?.Dispose();
            _messages.Dispose();
            _stopped.TrySetResult();
        }
    }

    /// <summary>One connection's life: resubscribe, then read pushes until it breaks.</summary>
    private async Task RunSessionAsync(TcpStream stream)
    {
        await using var reader = new FramedRead<RespValue>(stream, _options.CreateDecoder());
        var writer = new FramedWrite<RedisCommand>(stream, RespCommandEncoder.Instance);
        try
        {
            using (SemaphorePermit gate = await _writeGate.AcquireAsync(_stop.Token).ConfigureAwait(true))
            {
                RedisArgument[]? channels;
                RedisArgument[]? patterns;
                lock (_lock)
                {
                    channels = _channels.Count == 0 ? null : ["SUBSCRIBE", .. _channels.Select(c => (RedisArgument)c)];
                    patterns = _patterns.Count == 0 ? null : ["PSUBSCRIBE", .. _patterns.Select(p => (RedisArgument)p)];
                }

                if (channels is not null)
                {
                    writer.Write(channels);
                }

                if (patterns is not null)
                {
                    writer.Write(patterns);
                }

                await writer.FlushAsync(_stop.Token).ConfigureAwait(true);
                _writer = writer;
                Volatile.Write(ref _stream, stream);
                Interlocked.Increment(ref _connects);
                CompleteStaleUnsubscribes();
            }

            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(true))
            {
                while (reader.TryRead(out RespValue push))
                {
                    Route(push);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            // The connection broke (or spoke garbage): reconnect.
        }
        finally
        {
            using (SemaphorePermit gate = await _writeGate.AcquireAsync().ConfigureAwait(true))
            {
                _writer = null;
                Volatile.Write(ref _stream, null);
                await writer.DisposeAsync().ConfigureAwait(true);
            }

            stream.Dispose();
        }
    }

    /// <summary>
    /// An unsubscribe that was waiting when the connection broke is done: a new connection starts with only the
    /// wanted subscriptions, and the server will never confirm the old request. Called under the write gate.
    /// </summary>
    private void CompleteStaleUnsubscribes()
    {
        var done = new List<TaskCompletionSource>();
        lock (_lock)
        {
            foreach (var key in _confirmations.Keys.Where(k => k.Kind is "unsubscribe" or "punsubscribe").ToArray())
            {
                done.AddRange(_confirmations[key]);
                _confirmations.Remove(key);
            }
        }

        foreach (TaskCompletionSource waiter in done)
        {
            waiter.TrySetResult(); // after the lock is released
        }
    }

    private void Route(RespValue push)
    {
        RespValue[]? parts = push.Type == RespType.Array ? push.AsArray() : null;
        if (parts is not { Length: >= 3 })
        {
            return; // PONG or anything else outside pub/sub: nothing waits for it
        }

        string kind = parts[0].AsString() ?? "";
        switch (kind)
        {
            case "message":
                _messages.TrySend(new RedisMessage(parts[1].AsString() ?? "", null, parts[2].AsMemory()));
                break;
            case "pmessage" when parts.Length >= 4:
                _messages.TrySend(new RedisMessage(parts[2].AsString() ?? "", parts[1].AsString(), parts[3].AsMemory()));
                break;
            case "subscribe" or "psubscribe" or "unsubscribe" or "punsubscribe":
                if (parts[1].AsString() is { } name)
                {
                    Confirm(kind, name);
                }

                break;
        }
    }

    private void Confirm(string kind, string name)
    {
        TaskCompletionSource? waiter = null;
        lock (_lock)
        {
            if (_confirmations.TryGetValue((kind, name), out Queue<TaskCompletionSource>? queue))
            {
                waiter = queue.Dequeue();
                if (queue.Count == 0)
                {
                    _confirmations.Remove((kind, name));
                }
            }
        }

        waiter?.TrySetResult(); // completions after the lock is released
    }

    /// <summary>Closes the connection and stops reconnecting; <see cref="ReadMessagesAsync"/> ends after the queued messages.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _stopped.Task.ConfigureAwait(true);
        TaskCompletionSource[] waiting;
        lock (_lock)
        {
            waiting = _confirmations.Values.SelectMany(q => q).ToArray();
            _confirmations.Clear();
        }

        foreach (TaskCompletionSource waiter in waiting)
        {
            waiter.TrySetException(new RedisConnectionException("The subscriber was disposed."));
        }
    }
}
