// One client connection: a Kyoto task running the request loop, plus one forwarder task per pub/sub
// subscription.
//
// The request loop (pipelining): wait until a request is buffered, then decode every buffered request, run it
// and feed its replies into the framed writer (which flushes on its own only above its 64 KiB high-water
// mark), and flush once when the input buffer is drained. A batch of N pipelined requests costs one read and
// one write system call.
//
// Invariants:
//  1. The framed reader is used by the loop only; the framed writer by the loop and the forwarders. Before the
//     client's first SUBSCRIBE there are no forwarders and the loop writes without locking; from then on every
//     writer holds _writeLock while it feeds and flushes, so a pushed message never splits a reply.
//  2. Replies that refer to the request (ECHO) are fed before the next request is decoded (RespCommand reuse).
//  3. Shutdown (or a lagging subscription) cancels _stop, which only the wait for the next request observes: a
//     batch already read is executed and its replies are written in full before the connection closes, so a
//     client never sees a half-written reply from a graceful stop.
//  4. Writes wait for the client to read for at most ClientWriteTimeout (a Kyoto timer, armed only when a write
//     would block); then the write is cancelled and the client disconnected with a log line. Output is bounded
//     by the high-water mark. _writeTimeout is cancelled only then: every write after it fails at once.
//  5. Every exit path goes through RunAsync's finally: subscriptions end, the socket closes, the counters drop.
using System.Net.Sockets;
using Kyoto.Codec;
using Kyoto.Net;
using Kyoto.Sync;
using Kyoto.Tasks;
using Kyoto.Time;
using Microsoft.Extensions.Logging;
using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Serves one client.</summary>
internal sealed class Connection
{
    private static readonly byte[] s_message = "message"u8.ToArray();
    private static readonly byte[] s_pmessage = "pmessage"u8.ToArray();

    private readonly TcpStream _stream;
    private readonly Framed<RespCommand, RespReply> _framed;
    private readonly ClientSession _session;
    private readonly CommandDispatcher _dispatcher;
    private readonly ServerOptions _options;
    private readonly ILogger _logger;
    private readonly ReplyBuffer _replies = new();
    private readonly AsyncSemaphore _writeLock = new(1);
    private readonly CancellationTokenSource _stop;
    private readonly CancellationTokenSource _writeTimeout;
    private string _closeReason = "client closed the connection";

    public Connection(TcpStream stream, long id, CommandDispatcher dispatcher, ServerOptions options, ILogger logger, CancellationToken shutdown)
    {
        _stream = stream;
        _framed = new Framed<RespCommand, RespReply>(stream, new RespDecoder(), RespEncoder.Instance);
        _session = new ClientSession(id);
        _dispatcher = dispatcher;
        _options = options;
        _logger = logger;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        _writeTimeout = new CancellationTokenSource();
    }

    public long Id => _session.Id;

    public async Task RunAsync()
    {
        try
        {
            await ServeAsync();
        }
        catch (RespProtocolException e)
        {
            _closeReason = "protocol error";
            Log.ProtocolError(_logger, Id, e.Message);
            await TryWriteLastAsync(RespReply.Error("ERR " + e.Message));
        }
        catch (TruncatedFrameException e)
        {
            _closeReason = "truncated request";
            Log.TruncatedRequest(_logger, Id, e.RemainingBytes);
        }
        catch (ClientWriteTimeoutException)
        {
            _closeReason = "not reading its replies";
            Log.SlowClient(_logger, Id, _options.ClientWriteTimeout, _framed.BufferedBytes);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // server shutdown, or a lagging subscription closed us (already logged)
            if (_closeReason.Length == 0 || _closeReason == "client closed the connection")
            {
                _closeReason = "server shutdown";
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            _closeReason = "connection failed";
            Log.ConnectionFailed(_logger, Id, e);
        }
        catch (Exception e) when (e is not TaskAbortedException)
        {
            _closeReason = "internal error";
            Log.ConnectionCrashed(_logger, Id, e);
        }
        finally
        {
            _dispatcher.UnsubscribeAll(_session);
            StopEndedForwarders();
            _stop.Cancel();
            await _framed.DisposeAsync();
            _stream.Dispose();
            _stop.Dispose();
            _writeTimeout.Dispose();
            Log.ClientClosed(_logger, Id, _closeReason);
        }
    }

    private async Task ServeAsync()
    {
        CancellationToken stop = _stop.Token;
        while (await _framed.WaitToReadAsync(stop))
        {
            while (_framed.TryRead(out RespCommand command))
            {
                _dispatcher.Execute(command, _session, _replies);
                if (_session.EverSubscribed)
                {
                    using (await _writeLock.AcquireAsync())
                    {
                        await FeedRepliesAsync();
                    }
                }
                else
                {
                    await FeedRepliesAsync();
                }
                if (_session.CloseAfterReply)
                {
                    _closeReason = "QUIT";
                    await FlushLockedAsync();
                    return;
                }
            }

            await FlushLockedAsync();
            StartPendingForwarders();
            StopEndedForwarders();
        }
    }

    private async ValueTask FeedRepliesAsync()
    {
        try
        {
            for (int i = 0; i < _replies.Count; i++)
            {
                ValueTask feed = _framed.FeedAsync(_replies[i], _writeTimeout.Token);
                if (!feed.IsCompletedSuccessfully)
                {
                    await WaitForClientAsync(feed);
                }
            }
        }
        finally
        {
            _replies.Clear();
        }
    }

    private async ValueTask FlushLockedAsync()
    {
        if (_framed.BufferedBytes == 0)
        {
            return;
        }
        if (!_session.EverSubscribed)
        {
            await FlushAsync();
            return;
        }
        using (await _writeLock.AcquireAsync())
        {
            await FlushAsync();
        }
    }

    private ValueTask FlushAsync()
    {
        ValueTask flush = _framed.FlushAsync(_writeTimeout.Token);
        return flush.IsCompletedSuccessfully ? default : WaitForClientAsync(flush);
    }

    // The slow path of a write: the socket is full, so the client has not read; give it ClientWriteTimeout
    // (a Kyoto timer), then cancel the write and disconnect. Allocates, but only when a client is slow.
    private async ValueTask WaitForClientAsync(ValueTask write)
    {
        Task pending = write.AsTask();
        try
        {
            await KyotoTime.Timeout(_options.ClientWriteTimeout, ct => new ValueTask(pending.WaitAsync(ct)), CancellationToken.None);
        }
        catch (ElapsedException)
        {
            _writeTimeout.Cancel();
            try
            {
                await pending;
            }
            catch (OperationCanceledException)
            {
                // the write gave up, as asked
            }
            throw new ClientWriteTimeoutException();
        }
    }

    private async ValueTask TryWriteLastAsync(RespReply reply)
    {
        try
        {
            if (_session.EverSubscribed)
            {
                using (await _writeLock.AcquireAsync())
                {
                    await _framed.FeedAsync(reply, _writeTimeout.Token);
                }
            }
            else
            {
                await _framed.FeedAsync(reply, _writeTimeout.Token);
            }
            await FlushLockedAsync();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or ClientWriteTimeoutException or OperationCanceledException)
        {
            // the client is gone or not reading: nothing more to tell it
        }
    }

    private void StartPendingForwarders()
    {
        foreach (Subscription subscription in _session.PendingForwarders)
        {
            Subscription s = subscription;
            s.Forwarder = KyotoTask.Spawn(() => ForwardAsync(s));
        }
        _session.PendingForwarders.Clear();
    }

    private void StopEndedForwarders()
    {
        // The forwarders stop by themselves at their next receive (Stop is cancelled, the receiver disposed).
        _session.EndedSubscriptions.Clear();
    }

    // Forwards one subscription's messages to the client, in order, each as one uninterrupted reply.
    private async Task ForwardAsync(Subscription subscription)
    {
        CancellationToken stop = subscription.Stop.Token;
        try
        {
            while (true)
            {
                PubSubMessage message = await subscription.Receiver.RecvAsync(stop);
                using (await _writeLock.AcquireAsync())
                {
                    if (stop.IsCancellationRequested)
                    {
                        return; // unsubscribed while waiting for the lock: Redis sends nothing after UNSUBSCRIBE
                    }
                    await PushAsync(message);
                    if (subscription.Receiver.IsEmpty)
                    {
                        await FlushAsync();
                    }
                }
            }
        }
        catch (BroadcastLaggedException e)
        {
            Log.SubscriberLagged(_logger, Id, System.Text.Encoding.UTF8.GetString(subscription.Name), e.SkippedCount);
            _closeReason = "pub/sub subscriber lagged";
            using (await _writeLock.AcquireAsync())
            {
                await TryPushErrorAsync($"ERR MiniRedis: this subscriber fell behind and {e.SkippedCount} message(s) were dropped; closing the connection");
            }
            _stop.Cancel();
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or ClosedChannelException)
        {
            // unsubscribed, or the connection is closing
        }
        catch (ClientWriteTimeoutException)
        {
            _closeReason = "not reading pub/sub messages";
            Log.SlowClient(_logger, Id, _options.ClientWriteTimeout, _framed.BufferedBytes);
            _stop.Cancel();
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            _stop.Cancel();
        }
    }

    private async ValueTask PushAsync(PubSubMessage message)
    {
        if (message.Pattern is null)
        {
            await FeedAsync(RespReply.Array(3));
            await FeedAsync(RespReply.Bulk(s_message));
        }
        else
        {
            await FeedAsync(RespReply.Array(4));
            await FeedAsync(RespReply.Bulk(s_pmessage));
            await FeedAsync(RespReply.Bulk(message.Pattern));
        }
        await FeedAsync(RespReply.Bulk(message.Channel));
        await FeedAsync(RespReply.Bulk(message.Payload));
    }

    private ValueTask FeedAsync(RespReply reply)
    {
        ValueTask feed = _framed.FeedAsync(reply, _writeTimeout.Token);
        return feed.IsCompletedSuccessfully ? default : WaitForClientAsync(feed);
    }

    private async ValueTask TryPushErrorAsync(string message)
    {
        try
        {
            await FeedAsync(RespReply.Error(message));
            await FlushAsync();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or ClientWriteTimeoutException or OperationCanceledException)
        {
            // the client is not reading: it learns from the disconnect
        }
    }
}
