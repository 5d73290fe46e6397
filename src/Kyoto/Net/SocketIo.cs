// A non-blocking socket registered with the runtime's reactor, and the calls of Kyoto's socket types on it:
// reads and writes (a fast path here, the wait in the direction's SocketOperation), try-calls, accept, readiness
// waits. The Socket only ever runs its synchronous, non-blocking calls, so .NET's own socket engine never
// registers it: Kyoto's reactor is the only one watching the descriptor. Awaits inside Kyoto's own code use
// ConfigureAwait(true): an async method's ValueTask awaited with ConfigureAwait(false) would resume off the runtime.
//
// Invariants:
//  1. Registered once for the socket's life; Dispose deregisters (failing pending waits with
//     ObjectDisposedException) before the socket is closed, so no event for a reused descriptor number reaches it.
//  2. One reader and one writer at a time (ScheduledIo invariant 2), which is what a stream's read and write
//     halves need.
//  3. A read or write is tried at once only when the readiness of its direction is set (an event-driven retry
//     always tries); a call that got EAGAIN, or a short read
//     or write of a stream socket (the kernel's buffer drained or filled), clears the readiness it observed
//     before the call, and only if no newer edge came (ScheduledIo invariant 1). So the next call waits for an
//     edge instead of making a syscall that would fail, and an edge that arrives meanwhile is never lost.
//  4. Whether a call parked comes from the call itself (SocketOperation.Start's `pending`), never from the
//     status of the ValueTask it returned: a parked operation may complete on another worker at any moment, and
//     its await must still be handed to the caller, whose GetResult is what frees the direction.
//  5. A connection Kyoto accepted or connected itself starts as a bare descriptor in Kyoto's own SocketHandle:
//     reads, writes, NoDelay, Linger, shutdown and Dispose use it, and a .NET Socket (endpoints, other options,
//     the public Socket property) is made on first use, once, under the lock on the receive operation, over a
//     SafeSocketHandle that does not own the descriptor. Dispose marks the object disposed before it takes
//     that lock, so no Socket is made after Dispose looks; it disposes the Socket it saw (if any), then the
//     SocketHandle, whose close(2) runs once no call holds a reference. The descriptor is closed exactly once,
//     in an orderly way.
//  6. The receiving direction's SocketOperation is made with the SocketIo; the sending one when a write first
//     has to wait (one writer at a time, so at most one is made; a compare-and-swap keeps it so anyway). Both,
//     and every readiness wait and state read of this object, carry the registration's stamp taken at Register
//     (ScheduledIo invariant 5), so a call that outlives Dispose (whose deregistration may hand the slot to
//     another socket) is refused when it arms, reads that registration as ended, and never waits on, clears or
//     takes another socket's readiness.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kyoto.Reactor;
using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto.Net;

internal sealed class SocketIo : IDisposable
{
    private readonly ScheduledIo _io;
    private readonly SocketOperation _receive;
    private readonly long _stamp; // the registration this socket owns (its slot is reused after Dispose; ScheduledIo invariant 5)
    private SocketOperation? _send; // made at the first write that has to wait (invariant 6)
    private readonly SafeHandle _handle; // the Socket's SafeSocketHandle, or a SocketHandle (invariant 5)
    private readonly int _fd;
    private Socket? _socket; // written once, under the lock (invariant 5)
    private int _disposed;

    /// <summary>Registers <paramref name="socket"/> with the current runtime's reactor.</summary>
    internal SocketIo(Socket socket)
        : this(socket, IoReactor.OfCurrentRuntime())
    {
    }

    /// <summary>Registers <paramref name="socket"/> with <paramref name="reactor"/>.</summary>
    internal SocketIo(Socket socket, IoReactor reactor)
    {
        socket.Blocking = false;
        _socket = socket;
        IsStream = socket.SocketType == SocketType.Stream;
        _handle = socket.SafeHandle;
        _fd = (int)_handle.DangerousGetHandle();
        _io = reactor.Register(_fd);
        _stamp = _io.Stamp;
        _receive = new SocketOperation(this, _io, send: false, _stamp);
    }

    /// <summary>
    /// Registers a connection's <paramref name="handle"/> (accepted, or connected by Kyoto; already non-blocking)
    /// with <paramref name="reactor"/>; its <see cref="Socket"/> is made when first asked for.
    /// </summary>
    internal SocketIo(SocketHandle handle, bool isStream, IoReactor reactor)
    {
        IsStream = isStream;
        _handle = handle;
        _fd = (int)handle.DangerousGetHandle();
        _io = reactor.Register(_fd);
        _stamp = _io.Stamp;
        _receive = new SocketOperation(this, _io, send: false, _stamp);
    }

    /// <summary>Registers an accepted stream connection's <paramref name="handle"/>, closing it if registration fails.</summary>
    internal static SocketIo ForAccepted(SocketHandle handle, IoReactor reactor)
    {
        try
        {
            return new SocketIo(handle, isStream: true, reactor);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The sending direction's operation, made the first time a write has to wait (invariant 6): a server that
    /// answers requests rarely fills a socket's send buffer, so most connections never need one.
    /// </summary>
    private SocketOperation SendOperation
    {
        get
        {
            if (Volatile.Read(ref _send) is { } made)
            {
                return made;
            }

            var operation = new SocketOperation(this, _io, send: true, _stamp);
            return Interlocked.CompareExchange(ref _send, operation, null) ?? operation;
        }
    }

    internal IoReactor Reactor => _io.Reactor;

    /// <summary>The descriptor (for tests and diagnostics; calls on it go through the handle).</summary>
    internal int Descriptor => _fd;

    /// <summary>The .NET socket over the descriptor; over a <see cref="SocketHandle"/>, made on first use (invariant 5).</summary>
    /// <exception cref="ObjectDisposedException">Made after the socket was disposed.</exception>
    internal Socket Socket => Volatile.Read(ref _socket) ?? CreateSocket();

    private Socket CreateSocket()
    {
        lock (_receive)
        {
            if (_socket is { } made)
            {
                return made;
            }

            ObjectDisposedException.ThrowIf(IsDisposed, typeof(Socket));
            // Socket reads the family, type, protocol and endpoints from the descriptor; it takes a handle it did
            // not create to be blocking, so it is told otherwise (the descriptor already is non-blocking). Its
            // handle does not own the descriptor: disposing a SafeSocketHandle that owns one resets the connection.
            var socket = new Socket(new SafeSocketHandle(_handle.DangerousGetHandle(), ownsHandle: false)) { Blocking = false };
            Volatile.Write(ref _socket, socket);
            return socket;
        }
    }

    /// <summary>Closes the sending side of a connected stream (the peer reads end of stream), straight on the descriptor.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    /// <exception cref="SocketException">The kernel refused.</exception>
    internal void ShutdownSend()
    {
        ThrowIfDisposed();
        SocketCalls.ShutdownSend(_handle, _fd);
    }

    /// <summary>Reads an option straight from the descriptor into <paramref name="value"/>: the length written.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    internal int GetOption(int level, int name, Span<byte> value)
    {
        ThrowIfDisposed();
        return SocketCalls.GetOption(_handle, _fd, level, name, value);
    }

    /// <summary>Sets an option straight on the descriptor.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    internal void SetOption(int level, int name, ReadOnlySpan<byte> value)
    {
        ThrowIfDisposed();
        SocketCalls.SetOption(_handle, _fd, level, name, value);
    }

    /// <summary>Reads an integer option straight from the descriptor (no <see cref="Socket"/> is made).</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    internal int GetOption(int level, int name)
    {
        ThrowIfDisposed();
        return SocketCalls.GetOption(_handle, _fd, level, name);
    }

    /// <summary>Sets an integer option straight on the descriptor (no <see cref="Socket"/> is made).</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    internal void SetOption(int level, int name, int value)
    {
        ThrowIfDisposed();
        SocketCalls.SetOption(_handle, _fd, level, name, value);
    }

    /// <summary>
    /// A stream socket: a call that moved fewer bytes than asked drained the kernel's buffer (or filled it), so
    /// its readiness is cleared then and the next call waits for an edge instead of trying (Tokio does the same).
    /// Not for datagrams, where a short read is just a short datagram.
    /// </summary>
    internal bool IsStream { get; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// One non-blocking receive: the byte count, or 0 with the error (WouldBlock: nothing there). With
    /// <paramref name="address"/>, a datagram's, and its sender's written there (<see cref="ReceiveFromNow"/>).
    /// A stream socket's goes straight to the kernel (<see cref="SocketCalls"/>; the reactor, hence this object,
    /// exists only on Linux).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal int ReceiveNow(Span<byte> buffer, SocketFlags flags, SocketAddress? address, out SocketError error) =>
        address is not null ? ReceiveFromNow(buffer, flags, address, out error)
        : SocketCalls.IsDirect(flags) ? SocketCalls.Receive(_handle, _fd, buffer, flags, out error) // recv(2), for datagrams too, as receive-from
        : Socket.Receive(buffer, flags, out error);

    /// <summary>
    /// One non-blocking send: the byte count, or 0 with the error (WouldBlock: nothing fits). With
    /// <paramref name="address"/>, a datagram to it (<see cref="SendToNow"/>; no flags).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal int SendNow(ReadOnlySpan<byte> buffer, SocketFlags flags, SocketAddress? address, out SocketError error) =>
        address is not null ? SendToNow(buffer, address, out error)
        : IsStream && SocketCalls.IsDirect(flags) ? SocketCalls.Send(_handle, _fd, buffer, flags, out error)
        : Socket.Send(buffer, flags, out error);

    /// <summary>
    /// One non-blocking receive of a datagram and its sender's address (into <paramref name="address"/>, whose
    /// size is set): the byte count, or 0 with the error (WouldBlock: nothing there). No exception for EAGAIN,
    /// unlike Socket.ReceiveFrom.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal int ReceiveFromNow(Span<byte> buffer, SocketFlags flags, SocketAddress address, out SocketError error)
    {
        if (SocketCalls.IsDirect(flags))
        {
            return SocketCalls.ReceiveFrom(_handle, _fd, buffer, flags, address, out error);
        }

        try
        {
            error = SocketError.Success;
            return Socket.ReceiveFrom(buffer, flags, address);
        }
        catch (SocketException e) when (SocketReadiness.IsWouldBlock(e))
        {
            error = SocketError.WouldBlock;
            return 0;
        }
    }

    /// <summary>One non-blocking send of a datagram to <paramref name="address"/>: the byte count, or 0 with the error (WouldBlock: no room).</summary>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    internal int SendToNow(ReadOnlySpan<byte> buffer, SocketAddress address, out SocketError error) =>
        SocketCalls.SendTo(_handle, _fd, buffer, SocketFlags.None, address, out error);

    /// <summary>Receives into <paramref name="buffer"/>: the byte count, 0 at end of stream.</summary>
    /// <remarks>
    /// Tries the call at once if the reactor's readiness says it may succeed (after spending one unit of coop
    /// budget, as Tokio's poll_proceed: a connection whose data is always ready yields, and nothing read is held
    /// across the yield); known-unready, or EAGAIN, parks the direction's reusable <see cref="SocketOperation"/>
    /// without another syscall. A short read of a stream clears the readiness it saw (the buffer is drained).
    /// Allocates nothing either way.
    /// </remarks>
    internal ValueTask<int> ReceiveAsync(Memory<byte> buffer, SocketFlags flags, CancellationToken cancellationToken) =>
        Receive(buffer, flags, null, cancellationToken, out _);

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/> and its sender into <paramref name="address"/>, as
    /// <see cref="ReceiveAsync(Memory{byte}, SocketFlags, CancellationToken)"/>: the byte count. With
    /// <paramref name="pending"/>, the result is the await of <see cref="ReceiveOperation"/> (current version),
    /// and <paramref name="address"/> must stay untouched until that result is read.
    /// </summary>
    internal ValueTask<int> ReceiveFromAsync(Memory<byte> buffer, SocketFlags flags, SocketAddress address, CancellationToken cancellationToken, out bool pending) =>
        Receive(buffer, flags, address, cancellationToken, out pending);

    /// <summary>Sends <paramref name="buffer"/> as one datagram to <paramref name="address"/> (which must stay untouched until it completes): the byte count.</summary>
    internal ValueTask<int> SendToAsync(ReadOnlyMemory<byte> buffer, SocketAddress address, CancellationToken cancellationToken) =>
        Send(buffer, sendAll: false, address, cancellationToken, out _);

    /// <summary>The receiving direction's operation, whose version a pending <see cref="ReceiveFromAsync"/> awaits.</summary>
    internal SocketOperation ReceiveOperation => _receive;

    private ValueTask<int> Receive(Memory<byte> buffer, SocketFlags flags, SocketAddress? address, CancellationToken cancellationToken, out bool pending)
    {
        pending = false;
        if (!Precheck(cancellationToken, out bool deferred, out ValueTask<int> refused))
        {
            return refused;
        }

        if (buffer.IsEmpty && address is null && IsStream)
        {
            return new ValueTask<int>(0); // (an empty receive of a datagram still waits for one and takes it)
        }

        long observed = 0;
        if (!deferred)
        {
            observed = State;
            if ((ScheduledIo.ReadyBits(observed) & Readiness.ReadInterest) != 0)
            {
                int n = ReceiveNow(buffer.Span, flags, address, out SocketError error);
                if (error == SocketError.Success)
                {
                    if (IsShortStreamRead(n, buffer.Length, flags))
                    {
                        _io.ClearReadiness(observed, Readiness.Readable);
                    }

                    return new ValueTask<int>(n);
                }

                if (error != SocketError.WouldBlock)
                {
                    return ValueTask.FromException<int>(new SocketException((int)error));
                }
            }
        }

        return _receive.Start(buffer, flags, address, sendAll: false, done: 0, observed, deferred, cancellationToken, out pending);
    }

    /// <summary>
    /// True if a receive of <paramref name="n"/> bytes into <paramref name="length"/> drained a stream socket's
    /// buffer (a peek drains nothing; 0 is end of stream, whose readiness stays).
    /// </summary>
    internal bool IsShortStreamRead(int n, int length, SocketFlags flags) =>
        IsStream && n > 0 && n < length && (flags & SocketFlags.Peek) == 0;

    /// <summary>Receives into <paramref name="buffer"/>: the byte count, 0 at end of stream.</summary>
    internal ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>Sends what fits of <paramref name="buffer"/> (waiting until something fits): the byte count.</summary>
    internal ValueTask<int> SendSomeAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken) =>
        Send(buffer, sendAll: false, null, cancellationToken, out _);

    /// <summary>Sends all of <paramref name="buffer"/>; a failure reports how much went out (<see cref="PartialWriteException"/>).</summary>
    internal ValueTask SendAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        // Completed at once (sent, or failed: the ValueTask wraps the result or the exception, no source), or
        // parked on the direction's operation, whose current await this same version is. Which one is known from
        // Send, never from the ValueTask's status: a parked operation may complete on another worker before the
        // status is read, and a status that says "succeeded" would then drop the await whose GetResult releases
        // the operation (the next write would find the direction busy).
        ValueTask<int> send = Send(buffer, sendAll: true, null, cancellationToken, out bool pending);
        return pending ? _send!.AsValueTaskVoid() // made by the Send that parked
            : send.IsCompletedSuccessfully ? ValueTask.CompletedTask
            : new ValueTask(send.AsTask()); // failed: the task carries the exception
    }

    private ValueTask<int> Send(ReadOnlyMemory<byte> buffer, bool sendAll, SocketAddress? address, CancellationToken cancellationToken, out bool pending)
    {
        pending = false;
        if (!Precheck(cancellationToken, out bool deferred, out ValueTask<int> refused))
        {
            return refused;
        }

        long observed = 0;
        int sent = 0;
        if (!deferred)
        {
            while (true)
            {
                observed = State;
                if ((ScheduledIo.ReadyBits(observed) & Readiness.WriteInterest) == 0)
                {
                    break; // known unwritable (a short send filled the buffer): wait for the edge
                }

                int n = SendNow(buffer.Span[sent..], SocketFlags.None, address, out SocketError error);
                if (error == SocketError.Success)
                {
                    bool filled = IsStream && n < buffer.Length - sent;
                    sent += n;
                    if (filled)
                    {
                        _io.ClearReadiness(observed, Readiness.Writable);
                    }

                    if (!sendAll || sent == buffer.Length)
                    {
                        return new ValueTask<int>(sent);
                    }

                    continue;
                }

                if (error != SocketError.WouldBlock)
                {
                    var failure = new SocketException((int)error);
                    return ValueTask.FromException<int>(sendAll ? new PartialWriteException(sent, failure) : failure);
                }

                break;
            }
        }

        Memory<byte> writable = System.Runtime.InteropServices.MemoryMarshal.AsMemory(buffer);
        return SendOperation.Start(writable, SocketFlags.None, address, sendAll, sent, observed, deferred, cancellationToken, out pending);
    }

    /// <summary>
    /// The checks before a call: disposed, cancelled, aborted (false, with the failed result), and whether the
    /// coop budget allows the call now (<paramref name="deferred"/> false) or only after a yield.
    /// </summary>
    private bool Precheck(CancellationToken cancellationToken, out bool deferred, out ValueTask<int> refused)
    {
        deferred = false;
        refused = default;
        if (IsDisposed)
        {
            refused = ValueTask.FromException<int>(new ObjectDisposedException(nameof(System.Net.Sockets.Socket)));
            return false;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            refused = ValueTask.FromCanceled<int>(cancellationToken);
            return false;
        }

        switch (Coop.Proceed(out TaskId? aborted))
        {
            case CoopDecision.Aborted:
                refused = ValueTask.FromException<int>(new TaskAbortedException(aborted));
                return false;
            case CoopDecision.Yield:
                deferred = true;
                break;
        }

        return true;
    }

    /// <summary>Tries a receive without waiting: false (and the readiness cleared) if nothing is available.</summary>
    internal bool TryReceive(Span<byte> buffer, SocketFlags flags, out int received)
    {
        ThrowIfDisposed();
        long observed = State;
        received = ReceiveNow(buffer, flags, null, out SocketError error);
        return Finish(error, observed, Readiness.Readable);
    }

    /// <summary>Tries a send without waiting: false (and the readiness cleared) if nothing fits.</summary>
    internal bool TrySend(ReadOnlySpan<byte> buffer, out int sent)
    {
        ThrowIfDisposed();
        long observed = State;
        sent = SendNow(buffer, SocketFlags.None, null, out SocketError error);
        return Finish(error, observed, Readiness.Writable);
    }

    private bool Finish(SocketError error, long observed, int readinessBit)
    {
        if (error == SocketError.Success)
        {
            return true;
        }

        if (error == SocketError.WouldBlock)
        {
            _io.ClearReadiness(observed, readinessBit | Readiness.Error);
            return false;
        }

        throw new SocketException((int)error);
    }

    /// <summary>Waits until the socket is writable (a non-blocking connect finishing).</summary>
    internal ValueTask<long> WritableAsync(CancellationToken cancellationToken) => _io.ReadyAsync(Readiness.WriteInterest, cancellationToken, _stamp);

    /// <summary>
    /// The step of a custom readiness loop after a socket call returned EAGAIN: clears the readiness observed
    /// (<see cref="State"/> read before the call) and waits for the next edge in <paramref name="interest"/>
    /// (<see cref="Readiness.ReadInterest"/> or <see cref="Readiness.WriteInterest"/>).
    /// </summary>
    internal ValueTask<long> WaitAfterWouldBlockAsync(long observed, int interest, CancellationToken cancellationToken) =>
        _io.WaitAfterWouldBlockAsync(observed, interest, cancellationToken);


    /// <summary>The readiness state of this socket's registration (a shut-down state once that ended: ScheduledIo invariant 5).</summary>
    internal long State => _io.StateFor(_stamp);

    /// <summary>Waits until the socket is ready for <paramref name="interest"/>: the readiness seen.</summary>
    internal async ValueTask<Kyoto.IO.Ready> ReadyAsync(Kyoto.IO.Interest interest, CancellationToken cancellationToken)
    {
        int mask = Readiness.MaskOf(interest);
        ThrowIfDisposed();
        long state = await _io.ReadyAnyAsync(mask, cancellationToken, _stamp).ConfigureAwait(true);
        return (Kyoto.IO.Ready)(ScheduledIo.ReadyBits(state) & 0x1F);
    }

    /// <summary>
    /// Accepts the next connection of a listening socket (TCP or Unix), wrapped by <paramref name="wrap"/> (a
    /// static lambda making the acceptor's stream type, which closes the handle if it fails). A connection
    /// already pending is taken at once (one unit of coop budget, as a read) and returned without an async state
    /// machine; otherwise one loop waits for readiness edges on the reactor's own waiter, so the await costs no
    /// continuation object and no post through the runtime's synchronization context. <paramref name="owner"/>
    /// names the object in <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <exception cref="SocketException">The kernel failed the accept (for example: out of descriptors).</exception>
    internal ValueTask<T> AcceptAsync<T>(object owner, Func<SocketHandle, IoReactor, T> wrap, CancellationToken cancellationToken)
    {
        try
        {
            ObjectDisposedException.ThrowIf(IsDisposed, owner);
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<T>(cancellationToken); // nothing taken: the connection stays queued
            }

            switch (Coop.Proceed(out TaskId? aborted))
            {
                case CoopDecision.Aborted:
                    throw new TaskAbortedException(aborted);
                case CoopDecision.Yield:
                    return AcceptLaterAsync(owner, wrap, yieldFirst: true, cancellationToken);
            }

            return TryAcceptNow(out long observed) is { } accepted
                ? new ValueTask<T>(wrap(accepted, Reactor))
                : AcceptLaterAsync(owner, wrap, yieldFirst: false, cancellationToken, observed);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<T>(e);
        }
    }

    private async ValueTask<T> AcceptLaterAsync<T>(
        object owner, Func<SocketHandle, IoReactor, T> wrap, bool yieldFirst, CancellationToken cancellationToken, long observed = 0)
    {
        if (yieldFirst)
        {
            await KyotoTask.Yield();
            ObjectDisposedException.ThrowIf(IsDisposed, owner);
            cancellationToken.ThrowIfCancellationRequested();
            observed = State;
            if (TryAcceptNow(observed) is { } first)
            {
                return wrap(first, Reactor);
            }
        }

        while (true)
        {
            await _io.WaitAfterWouldBlockAsync(observed, Readiness.ReadInterest, cancellationToken).ConfigureAwait(true);
            ObjectDisposedException.ThrowIf(IsDisposed, owner);
            observed = State;
            if (TryAcceptNow(observed) is { } accepted)
            {
                return wrap(accepted, Reactor);
            }
        }
    }

    private SocketHandle? TryAcceptNow(out long observed)
    {
        observed = State;
        return TryAcceptNow(observed);
    }

    /// <summary>
    /// accept4 itself, not Socket.Accept: EAGAIN comes back as a value (Socket throws it, once per drained edge,
    /// which is once per connection when clients connect one at a time), and the connection needs no Socket
    /// object until one is asked for. Tried only when the readiness observed says a connection may be pending.
    /// </summary>
    private SocketHandle? TryAcceptNow(long observed)
    {
        if ((ScheduledIo.ReadyBits(observed) & Readiness.ReadInterest) == 0)
        {
            return null;
        }

        SocketHandle? accepted = SocketCalls.Accept(_handle, _fd, out SocketError error);
        return accepted is not null || error == SocketError.WouldBlock ? accepted : throw new SocketException((int)error);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, typeof(Socket));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _io.Reactor.Deregister(_io);
        Socket? socket;
        lock (_receive)
        {
            socket = _socket; // none can be made from here on (invariant 5)
        }

        socket?.Dispose(); // closes the descriptor when the Socket came first; only its wrapper otherwise
        if (_handle is SocketHandle own)
        {
            own.Dispose(); // close(2) once no call holds a reference (invariant 5)
        }
    }
}
