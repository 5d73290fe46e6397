using Kyoto.IO;
using Kyoto.Reactor;

namespace Kyoto.Net;

/// <summary>
/// The readiness an <see cref="AsyncFd"/> wait found (Tokio's <c>AsyncFdReadyGuard</c>). Readiness is a hint:
/// try the call; if it would block, clear the readiness (<see cref="ClearReady"/>, or let
/// <see cref="TryIo{TState, TResult}"/> do it) so the next wait waits for a new edge instead of returning at once.
/// </summary>
/// <remarks>
/// Dropping the guard without clearing keeps the readiness: the next wait returns at once. That is right when the
/// call succeeded (more may be ready), and a busy loop when it would have blocked.
/// </remarks>
public readonly struct AsyncFdReadyGuard : IEquatable<AsyncFdReadyGuard>
{
    private readonly AsyncFd? _owner;
    private readonly long _observed;
    private readonly int _mask;

    internal AsyncFdReadyGuard(AsyncFd owner, long observed, int mask)
    {
        _owner = owner;
        _observed = observed;
        _mask = mask;
    }

    /// <summary>The descriptor's wrapper.</summary>
    /// <exception cref="InvalidOperationException">A default guard (not from a wait).</exception>
    public AsyncFd AsyncFd => _owner ?? throw new InvalidOperationException("This guard did not come from an AsyncFd wait.");

    /// <summary>The readiness seen, restricted to the interest waited for (closed and error bits included).</summary>
    public Ready Ready => (Ready)(ScheduledIo.ReadyBits(_observed) & _mask);

    /// <summary>
    /// Forgets the readiness seen (if no newer event came since), so the next wait waits for a new edge. Call it
    /// after the descriptor returned <c>EAGAIN</c>. Closed bits stay.
    /// </summary>
    public void ClearReady() => ClearReadyMatching(Ready);

    /// <summary>Forgets only the <paramref name="ready"/> part of the readiness seen (Tokio's <c>clear_ready_matching</c>).</summary>
    public void ClearReadyMatching(Ready ready) => AsyncFd.Clear(_observed, (int)ready & _mask);

    /// <summary>
    /// Runs <paramref name="operation"/> once; if it would block, clears the readiness (<see cref="ClearReady"/>)
    /// and returns false: wait again.
    /// </summary>
    /// <returns>True with <paramref name="result"/> if the call completed.</returns>
    /// <exception cref="ObjectDisposedException">The <see cref="AsyncFd"/> was disposed.</exception>
    public bool TryIo<TState, TResult>(TState state, AsyncFdOperation<TState, TResult> operation, out TResult result)
    {
        ArgumentNullException.ThrowIfNull(operation);
        AsyncFd owner = AsyncFd;
        owner.ThrowIfDisposed();
        if (operation(owner.Fd, state, out result))
        {
            return true;
        }

        ClearReady();
        return false;
    }

    /// <inheritdoc/>
    public bool Equals(AsyncFdReadyGuard other) => ReferenceEquals(_owner, other._owner) && _observed == other._observed && _mask == other._mask;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is AsyncFdReadyGuard other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_owner, _observed, _mask);

    /// <summary>Whether two guards are the same wait's result.</summary>
    public static bool operator ==(AsyncFdReadyGuard left, AsyncFdReadyGuard right) => left.Equals(right);

    /// <summary>Whether two guards differ.</summary>
    public static bool operator !=(AsyncFdReadyGuard left, AsyncFdReadyGuard right) => !left.Equals(right);
}
