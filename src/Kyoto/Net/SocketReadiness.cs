// The readiness loop of the socket calls that SocketIo's operations do not make (a Unix datagram's sends and
// receives with an address, Unix stream peeks): try the call; on EAGAIN clear the readiness observed before it and
// wait for the next edge (ScheduledIo invariant 1). Used by UnixDatagram and UnixStream, and by a UdpSocket
// receive-from that runs beside another; UdpSocket's other calls go through SocketIo's directional operations, as
// a TCP stream's do.
//
// .NET's SendTo and ReceiveFrom have no SocketError-out overloads: they report EAGAIN as a SocketException, which
// costs more than the call. So receives with an address go to the kernel directly (SocketIo.ReceiveFromNow,
// without exceptions); what is left on .NET's throwing calls (a Unix datagram's send, unusual flags) is made only
// while the reactor says the socket is ready in that direction (skipUnlessReady), so it throws at most once per
// drained edge, never on a socket known to be idle.
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Net;

/// <summary>One non-blocking socket call: true with its result, false if it would block (EAGAIN); throws other errors.</summary>
internal delegate bool SocketAttempt<TState, TResult>(Socket socket, TState state, out TResult result);

/// <summary>The readiness loop shared by the datagram and Unix socket types.</summary>
internal static class SocketReadiness
{
    /// <summary>
    /// Runs <paramref name="attempt"/> until it does not would-block, waiting for readiness in
    /// <paramref name="interest"/> (<see cref="Readiness.ReadInterest"/> or <see cref="Readiness.WriteInterest"/>).
    /// With <paramref name="skipUnlessReady"/>, the call is made only when the reactor has reported readiness.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed (before or during the wait).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // a waiting call allocates no state machine box
    internal static async ValueTask<TResult> RunAsync<TState, TResult>(
        SocketIo io, int interest, bool skipUnlessReady, TState state, SocketAttempt<TState, TResult> attempt, CancellationToken cancellationToken)
    {
        await KyotoTask.ConsumeBudget();
        while (true)
        {
            ObjectDisposedException.ThrowIf(io.IsDisposed, typeof(Socket));
            long observed = io.State;
            if ((!skipUnlessReady || (ScheduledIo.ReadyBits(observed) & interest) != 0) && attempt(io.Socket, state, out TResult result))
            {
                return result;
            }

            await io.WaitAfterWouldBlockAsync(observed, interest, cancellationToken).ConfigureAwait(true);
        }
    }

    /// <summary>True for success, false for EAGAIN; throws any other error as .NET's calls do.</summary>
    /// <exception cref="SocketException">The call failed.</exception>
    internal static bool Succeeded(SocketError error) => error switch
    {
        SocketError.Success => true,
        SocketError.WouldBlock => false,
        _ => throw new SocketException((int)error),
    };

    /// <summary>Whether <paramref name="e"/> is EAGAIN reported as an exception.</summary>
    internal static bool IsWouldBlock(SocketException e) => e.SocketErrorCode == SocketError.WouldBlock;
}
