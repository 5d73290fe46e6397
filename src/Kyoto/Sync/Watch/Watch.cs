namespace Kyoto.Sync;

/// <summary>
/// A channel holding one value that many receivers observe (Tokio's <c>watch</c>): senders replace or modify
/// the value, receivers read the latest one and wait for it to change. Intermediate values may be skipped:
/// a receiver that was busy sees only the latest.
/// </summary>
/// <remarks>
/// <para>Each value has a version; a receiver remembers the last version it has seen (the initial value, or
/// the value when it subscribed, counts as seen). <see cref="WatchReceiver{T}.ChangedAsync"/> waits until a
/// newer version exists and marks it seen; several sends in between count as one change.</para>
/// <para>Closing is explicit: the channel closes when the last <see cref="WatchSender{T}"/> is disposed
/// (<see cref="WatchSender{T}.Clone"/> makes another one); receivers can still read the last value, and
/// waiting for a change then fails with <see cref="ClosedChannelException"/>.</para>
/// <para>Reads never see a torn value, even for a large struct: they use a sequence counter (and the writers'
/// lock when a write is in progress). Sending and waiting for a change allocate nothing once warm.</para>
/// </remarks>
/// <example>
/// <code>
/// var (config, rx) = Watch.Create(new Settings(Verbose: false));
/// KyotoTask.Spawn(async () =&gt;
/// {
///     while (true)
///     {
///         await rx.ChangedAsync();               // throws ClosedChannelException once the sender is gone
///         Settings now = rx.BorrowAndUpdate();
///         Apply(now);
///     }
/// });
/// config.Send(new Settings(Verbose: true));
/// </code>
/// </example>
public static class Watch
{
    /// <summary>Creates a channel holding <paramref name="initial"/>, with one sender and one receiver (which has seen it).</summary>
    public static (WatchSender<T> Sender, WatchReceiver<T> Receiver) Create<T>(T initial)
    {
        var core = new WatchCore<T>(initial);
        return (new WatchSender<T>(core), new WatchReceiver<T>(core, seenVersion: 0));
    }
}
