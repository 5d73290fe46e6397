// A receiver is one eventfd registered on its runtime's reactor plus the delivery count it last observed
// (SignalSlot explains how a delivery reaches it).
//
// Invariants:
//  1. _seen is the slot's delivery count the receiver last reported (or started from). RecvAsync returns true
//     exactly when the count has moved past _seen, and then sets _seen to the count it read: deliveries between two
//     waits coalesce into one wake-up.
//  2. The eventfd is only a doorbell: its value is drained and ignored, the count decides. A stale ring (for a
//     delivery already reported) costs one extra loop, never a false wake-up.
//  3. The eventfd is owned through _handle; reads and the handler's writes hold a reference on it, and Dispose
//     leaves the slot (SignalSlot invariant 3) before deregistering and closing it.
//  4. One wait at a time (the AsyncFd allows one reader): _seen is touched only by that wait, or by the caller
//     between waits.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kyoto.IO;
using Kyoto.Native;
using Kyoto.Net;
using Microsoft.Win32.SafeHandles;

namespace Kyoto.Signal;

/// <summary>
/// Waits for deliveries of one Unix signal on the runtime's I/O driver (Tokio's <c>Signal</c>). Create it with
/// <see cref="Signals.Listen(SignalKind)"/>; dispose it to stop listening.
/// </summary>
/// <remarks>
/// <para>
/// <b>What a wait sees:</b> <see cref="RecvAsync"/> completes for a delivery that happened after the receiver was
/// created, or after the previous wait completed. Deliveries <b>coalesce</b>: several signals between two waits give
/// one wake-up (the kernel merges pending standard signals too), so count wake-ups as "at least one signal since".
/// </para>
/// <para>
/// <b>Default action:</b> while at least one receiver of a signal whose default action terminates or stops the
/// process (<c>SIGTERM</c>, <c>SIGINT</c>, <c>SIGHUP</c>, <c>SIGQUIT</c>, <c>SIGUSR1</c>, ...) exists anywhere in the
/// process, that default action is replaced: the signal is delivered to the receivers and the process keeps
/// running; it is your job to shut down. When the last receiver is disposed, the default action applies again to
/// the next delivery (a signal sent in between two receivers terminates the process). <c>SIGCHLD</c>,
/// <c>SIGCONT</c>, <c>SIGURG</c> and <c>SIGWINCH</c> keep .NET's handling.
/// </para>
/// <para>
/// <b>Inherited ignore:</b> a signal the process started with as ignored (<c>SIGINT</c> and <c>SIGQUIT</c> in a
/// background job of a non-interactive shell, <c>SIGHUP</c> under <c>nohup</c>) stays ignored: .NET keeps that
/// disposition, the kernel drops the signal, and receivers never wake. <c>SIGTERM</c> is not affected.
/// </para>
/// <para>
/// A receiver is bound to the runtime it was created on: its wake-ups come from that runtime's reactor. One task
/// may wait on it at a time. Every receiver holds one eventfd until disposed.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// using SignalReceiver hangups = Signals.Listen(SignalKind.Hangup);
/// await foreach (SignalKind _ in hangups.WithCancellation(ct))
/// {
///     ReloadConfiguration();
/// }
/// </code>
/// </example>
public sealed class SignalReceiver : IDisposable, IAsyncEnumerable<SignalKind>
{
    private readonly SignalSlot _slot;
    private readonly SafeFileHandle _handle;
    private readonly AsyncFd _fd;
    private long _seen;
    private int _disposed;

    internal SignalReceiver(SignalKind kind)
    {
        RuntimeHandle runtime = RuntimeHandle.Current;
        if (runtime.Scheduler.Time.Reactor is null)
        {
            throw new InvalidOperationException("Signals are delivered through the runtime's I/O driver; this runtime was built with RuntimeBuilder.EnableIo = false.");
        }

        int efd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (efd < 0)
        {
            throw new IOException($"eventfd failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        Kind = kind;
        _handle = new SafeFileHandle(efd, ownsHandle: true);
        try
        {
            _fd = AsyncFd.Register(_handle);
        }
        catch
        {
            _handle.Dispose();
            throw;
        }

        _slot = SignalSlot.For(kind);
        try
        {
            _seen = _slot.Add(this);
        }
        catch
        {
            _fd.Dispose();
            _handle.Dispose();
            throw;
        }
    }

    /// <summary>The signal this receiver waits for.</summary>
    public SignalKind Kind { get; }

    /// <summary>
    /// Waits until the signal is delivered: completes with true at once if it was delivered since the receiver was
    /// created or since the previous wait completed (however many times: deliveries coalesce), otherwise when the
    /// next delivery arrives.
    /// </summary>
    /// <returns>True for a delivery; false if the receiver was disposed while waiting.</returns>
    /// <remarks>
    /// <b>Cancel safety:</b> safe: a cancelled wait consumes no delivery (the next wait reports it) and leaves no
    /// waiter behind.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The receiver was disposed before the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Another task is already waiting on this receiver.</exception>
    public ValueTask<bool> RecvAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        return TryTake() ? new ValueTask<bool>(true) : WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Enumerates deliveries: each step waits as <see cref="RecvAsync"/> does and yields <see cref="Kind"/>; the
    /// enumeration ends when the receiver is disposed.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> as <see cref="RecvAsync"/>.</remarks>
    public async IAsyncEnumerator<SignalKind> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        while (!IsDisposed && await RecvAsync(cancellationToken).ConfigureAwait(true))
        {
            yield return Kind;
        }
    }

    /// <summary>
    /// Stops listening: the receiver stops counting deliveries, a pending wait returns false, and, if it was the
    /// last receiver of its signal, the signal's default action applies again. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _slot.Remove(this);
        _fd.Dispose();
        _handle.Dispose();
    }

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Rings the eventfd (SignalSlot.Handle, under the slot's lock). Never throws.</summary>
    internal unsafe void Wake()
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            ulong one = 1;
            _ = Libc.write((int)_handle.DangerousGetHandle(), &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // disposed meanwhile: nobody to wake
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    // Invariant 1: report the deliveries counted since _seen, if any.
    private bool TryTake()
    {
        long now = _slot.Deliveries;
        if (now == _seen)
        {
            return false;
        }

        _seen = now;
        return true;
    }

    private async ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await _fd.RunIoAsync(Interest.Readable, _handle, DrainOperation, cancellationToken).ConfigureAwait(true);
            }
            catch (ObjectDisposedException) when (IsDisposed)
            {
                return false;
            }

            if (TryTake())
            {
                return true;
            }
        }
    }

    private static readonly AsyncFdOperation<SafeFileHandle, bool> DrainOperation = Drain;

    // Reads the eventfd's value (invariant 2: the value itself does not matter). False on EAGAIN.
    private static unsafe bool Drain(int fd, SafeFileHandle handle, out bool drained)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            ulong value;
            if (Libc.read(fd, &value, sizeof(ulong)) == sizeof(ulong))
            {
                drained = true;
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EAGAIN)
            {
                drained = false;
                return false;
            }

            throw new IOException($"read(eventfd) failed (errno {errno}).");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
