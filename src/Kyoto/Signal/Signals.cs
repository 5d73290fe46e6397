namespace Kyoto.Signal;

/// <summary>
/// Awaitable OS signals on the runtime's I/O driver (Tokio's <c>tokio::signal</c>): <see cref="Listen"/> for a
/// receiver of any catchable Unix signal, <see cref="CtrlCAsync"/> for Ctrl+C.
/// </summary>
/// <remarks>
/// Each signal number gets one process-wide handler, installed on first use and kept for the life of the process;
/// it counts deliveries and rings the receivers, which wake on their own runtime's reactor. See
/// <see cref="SignalReceiver"/> for coalescing and for how a receiver replaces the default action (termination)
/// of <c>SIGTERM</c>, <c>SIGINT</c> and the like while it exists. Linux only.
/// </remarks>
/// <example>
/// <code>
/// using SignalReceiver terminate = Signals.Listen(SignalKind.Terminate);
/// await terminate.RecvAsync(ct);          // systemd or Docker asked us to stop
/// await DrainConnectionsAsync();
/// </code>
/// </example>
public static class Signals
{
    /// <summary>
    /// Starts listening for <paramref name="kind"/> on the current runtime: the receiver reports deliveries from
    /// now on. Installs the process-wide handler of that signal on first use.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="kind"/> is <c>default</c> (no signal).</exception>
    /// <exception cref="InvalidOperationException">
    /// Called outside a Kyoto runtime, or on a runtime built with <see cref="RuntimeBuilder.EnableIo"/> false.
    /// </exception>
    /// <exception cref="PlatformNotSupportedException">.NET cannot handle this signal on this platform.</exception>
    /// <exception cref="IOException">No eventfd could be created (descriptor limit).</exception>
    public static SignalReceiver Listen(SignalKind kind)
    {
        if (kind.Number == 0)
        {
            throw new ArgumentException("default(SignalKind) names no signal; use SignalKind.Terminate, SignalKind.FromRaw(...), ...", nameof(kind));
        }

        return new SignalReceiver(kind);
    }

    /// <summary>
    /// Waits for the next Ctrl+C (<c>SIGINT</c>) delivered after this call; while it waits, Ctrl+C does not
    /// terminate the process.
    /// </summary>
    /// <remarks>
    /// <para><b>Cancel safety:</b> safe; nothing is consumed. Each call listens afresh: a Ctrl+C between two
    /// calls is not seen by the second and, if no other receiver of <c>SIGINT</c> exists then, terminates the
    /// process. To handle repeated Ctrl+C, keep one receiver: <c>Signals.Listen(SignalKind.Interrupt)</c>.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">
    /// Called outside a Kyoto runtime, or on a runtime built with <see cref="RuntimeBuilder.EnableIo"/> false.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask CtrlCAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using SignalReceiver receiver = Listen(SignalKind.Interrupt);
        await receiver.RecvAsync(cancellationToken).ConfigureAwait(true);
    }

    /// <summary>How many deliveries of <paramref name="kind"/> the process-wide handler has counted (tests).</summary>
    internal static long DeliveryCount(SignalKind kind) => SignalSlot.For(kind).Deliveries;

    /// <summary>How many receivers of <paramref name="kind"/> are registered (tests).</summary>
    internal static int ListenerCount(SignalKind kind) => SignalSlot.For(kind).ListenerCount;
}
