// Design of PendingRequest:
// - One command in flight: the command to encode, and the completion its caller awaits (an IValueTaskSource
//   over ManualResetValueTaskSourceCore, so a call allocates no Task). Pooled: a request is reused once both of
//   its owners are done with it.
// - Two owners, counted in _refs (2 at Start): the caller, who releases in GetResult; the connection, which
//   releases once the request has left its pipeline: its reply was read (or dropped), it was skipped unsent, or
//   the connection failed it. Whoever releases last resets it and returns it to the pool.
// - Completion happens once (_done CAS): by the reply, by a connection failure, or by the caller's token
//   (cancellation or timeout). A request completed by its token while its bytes are on the wire stays in the
//   connection's pending queue; its reply is read and dropped, which keeps replies matched in order.
// - Continuations run asynchronously (RunContinuationsAsynchronously): on the awaiting task's Kyoto context
//   when there is one, never inline on the connection's reader task.
using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Internal;

internal sealed class PendingRequest : IValueTaskSource<RespValue>
{
    // Enough for thousands of pipelined calls without churn; beyond it requests are left to the GC.
    private const int MaxPooled = 4096;
    private static readonly ConcurrentQueue<PendingRequest> Pool = new();
    private static int s_pooled;

    private ManualResetValueTaskSourceCore<RespValue> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private int _refs;
    private int _done;

    /// <summary>The command; written by the caller before the request is queued, read by the writer task.</summary>
    public RedisCommand Command { get; private set; }

    /// <summary>The token of the current use, for the caller's ValueTask.</summary>
    public short Version => _core.Version;

    /// <summary>True once a reply, a failure or a cancellation completed the request.</summary>
    public bool IsCompleted => Volatile.Read(ref _done) != 0;

    public static PendingRequest Rent(RedisCommand command, CancellationToken cancellationToken)
    {
        if (!Pool.TryDequeue(out PendingRequest? request))
        {
            request = new PendingRequest();
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }

        request.Command = command;
        request._done = 0;
        request._refs = 2;
        if (cancellationToken.CanBeCanceled)
        {
            request._registration = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingRequest)state!).TryFail(new OperationCanceledException(token)), request);
        }

        return request;
    }

    public ValueTask<RespValue> AsValueTask() => new(this, _core.Version);

    public bool TryComplete(RespValue reply)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return false;
        }

        _core.SetResult(reply);
        return true;
    }

    public bool TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return false;
        }

        _core.SetException(error);
        return true;
    }

    /// <summary>The connection is done with the request.</summary>
    public void ReleaseConnection() => Release();

    public RespValue GetResult(short token)
    {
        // A stale token (a second await of the same ValueTask) throws here, before the caller's release.
        _ = _core.GetStatus(token);
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Waits for a cancellation callback that is running, so none can touch the request after reuse.
            _registration.Dispose();
            _registration = default;
            Release();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0)
        {
            return;
        }

        Command = default;
        _core.Reset();
        if (Interlocked.Increment(ref s_pooled) <= MaxPooled)
        {
            Pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }
}
