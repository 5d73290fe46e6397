// A user-owned descriptor registered with the runtime's reactor (Tokio's AsyncFd). Kyoto only watches it: the
// caller makes the syscalls (AsyncFdOperation), and Kyoto supplies the readiness protocol (wait, try, clear on
// EAGAIN; ScheduledIo invariant 1).
//
// Invariants:
//  1. Registered from construction until Dispose; every operation checks _registered first, because after
//     deregistration the ScheduledIo slot may serve another descriptor.
//  2. Never closes the descriptor. Registered through a SafeHandle, it holds a reference on the handle until
//     Dispose, so the handle cannot close the descriptor (and the number be reused) while epoll watches it.
//  3. One waiter per direction (ScheduledIo invariant 2); a ReadWrite wait occupies both while it waits.
using System.Runtime.InteropServices;
using Kyoto.IO;
using Kyoto.Reactor;

namespace Kyoto.Net;

/// <summary>
/// Waits for readiness of a non-blocking file descriptor you own (a pipe, an eventfd, a timerfd, a device, a
/// socket from another library...) on the runtime's I/O driver (Tokio's <c>AsyncFd</c>).
/// </summary>
/// <remarks>
/// <para>
/// The descriptor must be in non-blocking mode (<c>O_NONBLOCK</c>): the calls you make from the readiness loop
/// would otherwise block a worker. Registration is edge-triggered: after a call returns <c>EAGAIN</c>, clear the
/// readiness (<see cref="AsyncFdReadyGuard.ClearReady"/>) before waiting again; <see cref="RunIoAsync{TState, TResult}"/>
/// does all of it.
/// </para>
/// <para>
/// <b>Ownership:</b> <see cref="Dispose"/> deregisters the descriptor and does <b>not</b> close it; close it
/// yourself, after <see cref="Dispose"/> (closing first lets the number be reused under a live registration).
/// With <see cref="Register(SafeHandle)"/>, the handle is kept from closing until <see cref="Dispose"/>.
/// </para>
/// <para>One task may wait for each direction at a time.</para>
/// </remarks>
/// <example>
/// <code>
/// using var fd = AsyncFd.Register(eventFd);   // opened with EFD_NONBLOCK
/// ulong count = await fd.RunIoAsync(Interest.Readable, 0, static (int fd, int _, out ulong value) =&gt;
/// {
///     // return false on EAGAIN, true with the result, throw on other errors
///     return TryReadEventFd(fd, out value);
/// }, ct);
/// </code>
/// </example>
public sealed class AsyncFd : IDisposable
{
    private readonly ScheduledIo _io;
    private readonly long _stamp; // this descriptor's registration (ScheduledIo invariant 5)
    private readonly SafeHandle? _handle;
    private int _registered = 1;

    private AsyncFd(int fd, SafeHandle? handle)
    {
        IoReactor reactor = RuntimeHandle.Current.Scheduler.Time.Reactor
            ?? throw new PlatformNotSupportedException("Kyoto's I/O driver runs on Linux only.");
        _io = reactor.Register(fd);
        _stamp = _io.Stamp;
        Fd = fd;
        _handle = handle;
    }

    /// <summary>Registers <paramref name="fd"/> (non-blocking, owned by the caller) with the current runtime's reactor.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fd"/> is negative.</exception>
    /// <exception cref="IOException">epoll refused the descriptor (a regular file, or one already registered).</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static AsyncFd Register(int fd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        return new AsyncFd(fd, null);
    }

    /// <summary>Registers the descriptor of <paramref name="handle"/>, holding a reference on it until <see cref="Dispose"/>.</summary>
    /// <exception cref="ObjectDisposedException">The handle is closed.</exception>
    /// <exception cref="IOException">epoll refused the descriptor.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    public static AsyncFd Register(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return new AsyncFd(checked((int)handle.DangerousGetHandle()), handle);
        }
        catch
        {
            if (added)
            {
                handle.DangerousRelease();
            }

            throw;
        }
    }

    /// <summary>The registered descriptor.</summary>
    public int Fd { get; }

    /// <summary>Whether the descriptor is still registered (<see cref="Dispose"/> not called).</summary>
    public bool IsRegistered => Volatile.Read(ref _registered) != 0;

    /// <summary>Waits until the descriptor is readable (or its read side closed, or an error).</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled wait consumes no readiness.</remarks>
    /// <exception cref="ObjectDisposedException">Disposed before or during the wait.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Another task already waits for the same direction.</exception>
    public ValueTask<AsyncFdReadyGuard> ReadableAsync(CancellationToken cancellationToken = default) => ReadyAsync(Interest.Readable, cancellationToken);

    /// <summary>Waits until the descriptor is writable (or its write side closed, or an error).</summary>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled wait consumes no readiness.</remarks>
    /// <exception cref="ObjectDisposedException">Disposed before or during the wait.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Another task already waits for the same direction.</exception>
    public ValueTask<AsyncFdReadyGuard> WritableAsync(CancellationToken cancellationToken = default) => ReadyAsync(Interest.Writable, cancellationToken);

    /// <summary>Waits until the descriptor is ready for any of <paramref name="interest"/>; at once if it already is.</summary>
    /// <returns>A guard with the readiness seen; clear it after a call that would block.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled wait consumes no readiness.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="interest"/> is not Readable, Writable or ReadWrite.</exception>
    /// <exception cref="ObjectDisposedException">Disposed before or during the wait.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Another task already waits for the same direction.</exception>
    public async ValueTask<AsyncFdReadyGuard> ReadyAsync(Interest interest, CancellationToken cancellationToken = default)
    {
        int mask = Readiness.MaskOf(interest);
        ThrowIfDisposed();
        long state = await _io.ReadyAnyAsync(mask, cancellationToken, _stamp).ConfigureAwait(true);
        return new AsyncFdReadyGuard(this, state, mask);
    }

    /// <summary>
    /// The whole readiness loop (Tokio's <c>async_io</c>): waits for <paramref name="interest"/>, runs
    /// <paramref name="operation"/>, and on would-block clears the readiness and waits again.
    /// </summary>
    /// <returns>The result of the call that completed.</returns>
    /// <remarks><b>Cancel safety:</b> safe if <paramref name="operation"/> does nothing when it would block: a cancelled loop has made no call that completed.</remarks>
    /// <exception cref="ObjectDisposedException">Disposed before or during the wait.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<TResult> RunIoAsync<TState, TResult>(Interest interest, TState state, AsyncFdOperation<TState, TResult> operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        while (true)
        {
            AsyncFdReadyGuard guard = await ReadyAsync(interest, cancellationToken).ConfigureAwait(true);
            if (guard.TryIo(state, operation, out TResult result))
            {
                return result;
            }
        }
    }

    /// <summary>Clears <paramref name="bits"/> of the readiness seen in <paramref name="observed"/> (a guard's clear).</summary>
    internal void Clear(long observed, int bits)
    {
        ThrowIfDisposed();
        _io.ClearReadiness(observed, bits);
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(!IsRegistered, this);

    /// <summary>
    /// Deregisters the descriptor (pending waits fail with <see cref="ObjectDisposedException"/>) without closing
    /// it; releases the handle given to <see cref="Register(SafeHandle)"/>. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _registered, 0) == 0)
        {
            return;
        }

        _io.Reactor.Deregister(_io);
        _handle?.DangerousRelease();
    }
}
