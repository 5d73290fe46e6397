// The receive-from side of a datagram socket (UdpSocket, UnixDatagram): a receive that also reports the sender,
// through the socket's receiving operation (SocketIo, SocketOperation) as a plain receive goes, so a receive that
// has to wait allocates nothing. The subclass turns the kernel's sender address into its own type (an IPEndPoint,
// a path) and caches the last one, so a socket talking to one peer at a time allocates nothing once warm.
//
// Invariants:
//  1. _address, where the kernel writes a receive's sender, is owned by one receive at a time: _busy goes 0 -> 1
//     by exchange, and back to 0 once the sender has been read from it: at once for a receive that completed
//     without waiting, or in GetResult, before the operation's result is read (reading it frees the operation
//     for the next receive, which may then take the address).
//  2. A receive that finds _address taken (another task's receive-from, running or parked) uses an address of its
//     own: a TryReceiveFrom allocates one, a ReceiveFromAsync takes a readiness loop of tries
//     (ReceiveFromBesideAsync), each of which does. It never waits for the owner.
//  3. SenderOf runs only on an address that no receive can write meanwhile: the owned one while it is owned, or a
//     receive's own.
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Net;

/// <summary>The receive-from calls of a datagram socket, reporting the sender as <typeparamref name="TSender"/>.</summary>
internal abstract class DatagramReceiver<TSender, TResult> : IValueTaskSource<TResult>
{
    private readonly SocketIo _io;
    private readonly SocketAddress _address; // owned by one receive at a time (invariant 1); its buffer is the largest address
    private int _busy;

    protected DatagramReceiver(SocketIo io, AddressFamily family, int addressSize)
    {
        _io = io;
        _address = new SocketAddress(family, addressSize);
    }

    private int AddressSize => _address.Buffer.Length;

    /// <summary>The sender written in <paramref name="address"/> (invariant 3), null-like if there is none.</summary>
    protected abstract TSender SenderOf(SocketAddress address);

    /// <summary>The result of a receive of <paramref name="count"/> bytes from <paramref name="sender"/>.</summary>
    protected abstract TResult Result(int count, TSender sender);

    /// <summary>
    /// Whether <paramref name="cached"/> holds the same address as <paramref name="received"/>, comparing what each
    /// holds (its Size), unlike <see cref="SocketAddress.Equals(SocketAddress)"/>, which compares whole buffers.
    /// </summary>
    protected static bool SameAddress(SocketAddress cached, SocketAddress received) =>
        cached.Size == received.Size && cached.Buffer.Span[..cached.Size].SequenceEqual(received.Buffer.Span[..received.Size]);

    /// <summary>A copy of <paramref name="address"/> sized to what it holds, for a subclass's cache of the last sender.</summary>
    protected static SocketAddress CopyOf(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    /// <summary>Receives (or, with <see cref="SocketFlags.Peek"/>, peeks at) the next datagram and its sender.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    internal ValueTask<TResult> ReceiveFromAsync(Memory<byte> buffer, SocketFlags flags, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            // Another receive-from owns the address (invariant 2).
            return ReceiveFromBesideAsync(buffer, flags, cancellationToken);
        }

        _address.Size = AddressSize;
        ValueTask<int> receive = _io.ReceiveFromAsync(buffer, flags, _address, cancellationToken, out bool pending);
        if (pending)
        {
            // The operation's await, read through this source, which pairs the count with the sender.
            return new ValueTask<TResult>(this, _io.ReceiveOperation.Version);
        }

        // Completed at once (no source behind it): a count with the sender in the owned address, or a failure,
        // which the task form carries.
        if (receive.IsCompletedSuccessfully)
        {
            TResult result = Result(receive.Result, SenderOf(_address));
            Volatile.Write(ref _busy, 0);
            return new ValueTask<TResult>(result);
        }

        Volatile.Write(ref _busy, 0);
        Task<int> failed = receive.AsTask();
        return failed.IsCanceled
            ? ValueTask.FromCanceled<TResult>(cancellationToken)
            : ValueTask.FromException<TResult>(failed.Exception!.InnerException!);
    }

    /// <summary>
    /// The receive-from of a call that found the address owned by another (invariant 2): tries with an address of
    /// its own whenever the reactor says the socket is readable; on EAGAIN (the try clears nothing itself), waits
    /// for the next edge after the readiness it observed before the try (ScheduledIo invariant 1).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed (before or during the wait).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TResult> ReceiveFromBesideAsync(Memory<byte> buffer, SocketFlags flags, CancellationToken cancellationToken)
    {
        await KyotoTask.ConsumeBudget();
        while (true)
        {
            ObjectDisposedException.ThrowIf(_io.IsDisposed, typeof(Socket));
            long observed = _io.State;
            if ((ScheduledIo.ReadyBits(observed) & Readiness.ReadInterest) != 0 && TryReceiveFrom(buffer.Span, flags, out TResult result))
            {
                return result;
            }

            await _io.WaitAfterWouldBlockAsync(observed, Readiness.ReadInterest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>Receives (or peeks at) a datagram and its sender if one is queued, without waiting.</summary>
    /// <returns>False if no datagram is queued.</returns>
    /// <exception cref="SocketException">The call failed.</exception>
    internal bool TryReceiveFrom(Span<byte> buffer, SocketFlags flags, out TResult result)
    {
        bool owned = Interlocked.Exchange(ref _busy, 1) == 0;
        SocketAddress address = owned ? _address : new SocketAddress(_address.Family, AddressSize);
        try
        {
            address.Size = AddressSize;
            int n = _io.ReceiveFromNow(buffer, flags, address, out SocketError error);
            if (!SocketReadiness.Succeeded(error))
            {
                result = default!;
                return false;
            }

            result = Result(n, SenderOf(address));
            return true;
        }
        finally
        {
            if (owned)
            {
                Volatile.Write(ref _busy, 0);
            }
        }
    }

    ValueTaskSourceStatus IValueTaskSource<TResult>.GetStatus(short token) => _io.ReceiveOperation.GetStatus(token);

    void IValueTaskSource<TResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _io.ReceiveOperation.OnCompleted(continuation, state, token, flags);

    TResult IValueTaskSource<TResult>.GetResult(short token)
    {
        SocketOperation operation = _io.ReceiveOperation;

        // GetStatus rejects a stale token before anything is touched. Then the sender is read and the address
        // released, then the operation's result, whose reading frees the operation (invariant 1).
        bool succeeded = operation.GetStatus(token) == ValueTaskSourceStatus.Succeeded;
        TSender sender = succeeded ? SenderOf(_address) : default!;
        Volatile.Write(ref _busy, 0);
        int n = operation.GetResult(token); // throws the failure or cancellation of a receive that did not succeed
        return Result(n, sender);
    }
}
