// The pending socket call of one direction of a SocketIo: a reusable IValueTaskSource, so that a read or write
// that has to wait allocates nothing (no async state machine, no posted continuation). It is armed on the
// ScheduledIo as that direction's listener. When an event comes, the reactor's dispatch only queues the retry
// (RetryItem) on the runtime of the task that started the call, as Tokio's driver only wakes a task; the
// worker that runs the retry makes the call and, when it completes, runs the task's continuation right there
// (KyotoValueTaskSource.TryCompleteInline), so the task is still one queue hop from the event. Retrying inside
// the dispatch loop instead (the first design) serialised every call of a batch of events on the thread that
// turned epoll, before any task ran and while the other workers could not help; queueing the retry and then
// queueing the continuation again (the second) cost a second hop: 19.7 µs per 64-byte round trip against 15.6.
//
// Invariants:
//  1. One operation in flight per direction (_inUse, 0 -> 1 by CAS in Start, back to 0 once the result is read
//     or the operation completed synchronously). A second concurrent call is refused with InvalidOperationException.
//  2. The call is made only by whoever started the operation or disarmed its listener: the starting task, or the
//     retry work item, queued by the reactor's dispatch (OnReady) or by a start without coop budget. A cancellation
//     (token or abort) completes the await only if it disarms it first (ScheduledIo.Disarm under its lock, for
//     the current version), so a cancelled read has read nothing, and a read that won the race delivers its bytes.
//  3. The token is registered before the operation can be armed and checked under ScheduledIo's lock when it
//     arms, so a cancellation between the call and the arming is never missed. A cancellation (token or abort)
//     that finds the operation unarmed (its retry queued: a start without budget, or an event's OnReady) leaves
//     its error in _cancelled before it tries to disarm; the retry checks it before the call, and TryArm checks
//     it under the lock (IsCancellationPending), so either the disarm finds the operation armed or the arming
//     sees the error. (An abort comes once: dropping it here left an aborted task parked on an idle socket.)
//  4. A caller without coop budget does not make the call: the operation starts from a work item queued at the
//     back of the run queue (Tokio's poll_proceed), so nothing is read and then held across the yield.
//  5. A datagram call carries its peer's address (_address): recvfrom writes the sender there, sendto reads the
//     destination. The caller leaves it untouched until the result is read (UdpSocket reads the sender before the
//     result, whose reading frees the operation for the next call); Release drops the reference.
using System.Net;
using System.Net.Sockets;
using Kyoto.Reactor;
using Kyoto.Scheduling;

namespace Kyoto.Net;

/// <summary>One direction's socket call waiting for readiness (see the file's invariants).</summary>
internal sealed class SocketOperation : KyotoValueTaskSource<int>, IReadinessListener
{
    private readonly SocketIo _owner;
    private readonly ScheduledIo _io;
    private readonly int _interest;
    private readonly bool _send;
    private readonly RetryItem _retry;
    private readonly long _stamp; // the registration this operation's socket owns (ScheduledIo slots are reused; its invariant 5)
    private Memory<byte> _buffer;
    private SocketFlags _flags;
    private SocketAddress? _address; // a datagram's peer: recvfrom fills it, sendto sends to it; null for plain calls
    private CancellationToken _token;
    private bool _sendAll;
    private int _done;
    private int _inUse;
    private Scheduler? _retryScheduler; // where the retry runs: the runtime of the task that started the call
    private PendingCancellation? _cancelled; // a cancellation that found the operation unarmed (invariant 3)

    // stamp: the registration the socket owns (ScheduledIo.StampOf its generation when it registered): an operation
    // made later, after the socket was disposed and its slot reused, must not arm on the new owner's (SocketIo
    // invariant 6), nor read or clear the new owner's readiness.
    internal SocketOperation(SocketIo owner, ScheduledIo io, bool send, long stamp)
    {
        _owner = owner;
        _io = io;
        _send = send;
        _interest = send ? Readiness.WriteInterest : Readiness.ReadInterest;
        _retry = new RetryItem(this);
        _stamp = stamp;
    }

    /// <summary>
    /// Continues a call whose first attempt returned EAGAIN after the caller read <paramref name="observed"/>
    /// (<paramref name="deferred"/> false), or starts it from the back of the run queue (the caller is out of
    /// coop budget). <paramref name="done"/> is what a write-all already sent. <paramref name="pending"/> says
    /// that the result is this operation's await (which must be awaited, or its result read, to release it),
    /// not a completed value.
    /// </summary>
    internal ValueTask<int> Start(
        Memory<byte> buffer, SocketFlags flags, SocketAddress? address, bool sendAll, int done, long observed, bool deferred, CancellationToken cancellationToken, out bool pending)
    {
        pending = false;
        if (Interlocked.CompareExchange(ref _inUse, 1, 0) != 0)
        {
            return ValueTask.FromException<int>(ScheduledIo.BusyError(_interest));
        }

        Reset();
        _buffer = buffer;
        _flags = flags;
        _address = address;
        _sendAll = sendAll;
        _done = done;
        _token = cancellationToken;
        RegisterCancellation(cancellationToken);
        _retryScheduler = RuntimeContext.ContinuationScheduler(out _);
        if (deferred && _retryScheduler is not null)
        {
            _retryScheduler.Schedule(_retry, isYield: true);
            pending = true;
            return AsValueTask();
        }

        bool completed;
        int n;
        Exception? error;
        try
        {
            completed = Run(deferred ? null : observed, out n, out error);
        }
        catch (Exception e)
        {
            // For example another task's readiness wait holds this direction (ScheduledIo.TryArm refuses).
            (completed, n, error) = (true, 0, e);
        }

        if (!completed)
        {
            pending = true;
            return AsValueTask();
        }

        // Completed without waiting: no await will read the source, so release it here.
        DisposeRegistration();
        Release();
        return error is null ? new ValueTask<int>(n) : ValueTask.FromException<int>(error);
    }

    /// <summary>
    /// Makes the call until it completes (true: the byte count or the error) or the listener is armed (false).
    /// <paramref name="wouldBlockAfter"/> is the state read before a call that already returned EAGAIN.
    /// </summary>
    private bool Run(long? wouldBlockAfter, out int n, out Exception? error)
    {
        n = 0;
        error = null;
        long observed = wouldBlockAfter.GetValueOrDefault();
        bool wouldBlock = wouldBlockAfter.HasValue;
        while (true)
        {
            if (!wouldBlock)
            {
                if (_owner.IsDisposed)
                {
                    error = new ObjectDisposedException(nameof(Socket));
                    return true;
                }

                if (PendingCancellationError() is { } cancelled)
                {
                    error = cancelled;
                    return true;
                }

                if (_token.IsCancellationRequested)
                {
                    error = new OperationCanceledException(_token);
                    return true;
                }

                observed = _io.StateFor(_stamp);
                SocketError status;
                int moved;
                try
                {
                    moved = _send
                        ? _owner.SendNow(_buffer.Span[_done..], _flags, _address, out status)
                        : _owner.ReceiveNow(_buffer.Span, _flags, _address, out status);
                }
                catch (ObjectDisposedException e)
                {
                    error = e;
                    return true;
                }

                if (status == SocketError.Success)
                {
                    if (_sendAll)
                    {
                        bool filled = _owner.IsStream && moved < _buffer.Length - _done;
                        _done += moved;
                        if (_done < _buffer.Length)
                        {
                            // A short send filled the kernel's buffer: wait for the edge without another try.
                            wouldBlock = filled;
                            continue;
                        }

                        moved = _done;
                    }
                    else if (_send ? _owner.IsStream && moved < _buffer.Length : _owner.IsShortStreamRead(moved, _buffer.Length, _flags))
                    {
                        _io.ClearReadiness(observed, _send ? Readiness.Writable : Readiness.Readable);
                    }

                    n = moved;
                    return true;
                }

                if (status != SocketError.WouldBlock)
                {
                    var failure = new SocketException((int)status);
                    error = _sendAll ? new PartialWriteException(_done, failure) : failure;
                    return true;
                }
            }

            wouldBlock = false;
            _io.ClearReadiness(observed, (_send ? Readiness.Writable : Readiness.Readable) | Readiness.Error);
            switch (_io.TryArm(_interest, this, _token, _stamp))
            {
                case ArmResult.Armed:
                    return false;
                case ArmResult.Ready:
                    continue;
                case ArmResult.Shutdown:
                    error = new ObjectDisposedException(nameof(Socket));
                    return true;
                default:
                    error = PendingCancellationError() ?? new OperationCanceledException(_token);
                    return true;
            }
        }
    }

    private void Continue(RuntimeContext ctx)
    {
        bool done;
        int n;
        Exception? error;
        try
        {
            done = Run(null, out n, out error);
        }
        catch (Exception e)
        {
            (done, n, error) = (true, 0, e);
        }

        if (done)
        {
            TryCompleteInline(n, error, ctx);
        }
    }

    /// <summary>The error of a cancellation of the current await that came while it was not armed, if any.</summary>
    private Exception? PendingCancellationError() =>
        Volatile.Read(ref _cancelled) is { } pending && pending.Version == Version ? pending.Error : null;

    private void Release()
    {
        _cancelled = null;
        _buffer = default;
        _address = null;
        _token = default;
        Volatile.Write(ref _inUse, 0);
    }

    /// <inheritdoc />
    public void OnReady(long state)
    {
        // The reactor only queues the retry (Tokio's wake): the worker that runs it makes the call and runs the
        // task's continuation, and idle workers can steal the retries of one batch of events.
        Scheduler? scheduler = _retryScheduler;
        if (scheduler is not null)
        {
            scheduler.Schedule(_retry, isYield: false);
        }
        else
        {
            Continue(RuntimeContext.Current);
        }
    }

    /// <inheritdoc />
    public void OnShutdown() => TrySetException(new ObjectDisposedException(nameof(Socket), "The socket was closed while a task waited on it."));

    bool IReadinessListener.IsCurrentVersion(short version) => IsCurrentVersion(version);

    bool IReadinessListener.IsCancellationPending => PendingCancellationError() is not null;

    protected override void OnCancellationRequested(Exception error, short version)
    {
        if (!IsCurrentVersion(version))
        {
            return;
        }

        // Before the disarm (invariant 3): if the operation is not armed, its retry or its arming sees this. Tagged
        // with its await's version, so a late one never cancels a later await (rare path: the record is allocated).
        var record = new PendingCancellation(error, version);
        PendingCancellation? current = Volatile.Read(ref _cancelled);
        while (current is null || current.Version != version)
        {
            PendingCancellation? seen = Interlocked.CompareExchange(ref _cancelled, record, current);
            if (ReferenceEquals(seen, current))
            {
                break;
            }

            current = seen;
        }

        if (_io.Disarm(this, _interest, version))
        {
            TrySetException(error);
        }
    }

    protected override void OnConsumed() => Release();

    private sealed record PendingCancellation(Exception Error, short Version);

    /// <summary>
    /// The work item that makes the call on a worker: after a readiness event (queued by <see cref="OnReady"/>), or
    /// to start an operation whose caller was out of coop budget.
    /// </summary>
    private sealed class RetryItem(SocketOperation operation) : IWorkItem
    {
        public void Execute(RuntimeContext ctx) => operation.Continue(ctx);

        public void Discard() => operation.TrySetException(new RuntimeShutdownException("The runtime shut down before the socket call ran."));
    }
}
