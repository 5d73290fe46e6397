// The readiness loop for socket calls that SocketIo's directional operations do not make: today, a datagram
// receive-from that runs beside another one, which owns the receiver's address (DatagramReceiver invariant 2).
// Try the call; on EAGAIN clear the readiness observed before it and wait for the next edge (ScheduledIo
// invariant 1).
//
// .NET's ReceiveFrom has no SocketError-out overload: it reports EAGAIN as a SocketException, which costs more
// than the call. So receives with an address go to the kernel directly (SocketIo.ReceiveFromNow, without
// exceptions); the few flags that still take .NET's throwing call are tried only while the reactor says the
// socket is readable (skipUnlessReady), so it throws at most once per drained edge, never on a socket known to be
// idle.
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Net;

/// <summary>One non-blocking socket call: true with its result, false if it would block (EAGAIN); throws other errors.</summary>
internal delegate bool SocketAttempt<TState, TResult>(Socket socket, TState state, out TResult result);

/// <summary>The readiness loop of the socket calls made outside SocketIo's operations.</summary>
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
