namespace Kyoto.Sync;

/// <summary>
/// Multi-producer, single-consumer channels (Tokio's <c>mpsc</c>): many senders, one receiver, values
/// delivered in the order each sender sent them.
/// </summary>
/// <remarks>
/// Senders are <see cref="IDisposable"/> and can be cloned; the channel closes when the last sender is
/// disposed (the receiver then drains what is left and gets <see cref="ClosedChannelException"/>) or when the
/// receiver closes it (senders then fail and keep their values).
/// </remarks>
/// <example>
/// <code>
/// var (tx, rx) = Mpsc.CreateBounded&lt;Job&gt;(capacity: 100);
/// for (int i = 0; i &lt; 4; i++)
/// {
///     var worker = tx.Clone();
///     KyotoTask.Spawn(async () =&gt; { using (worker) { await worker.SendAsync(await NextJobAsync()); } });
/// }
/// tx.Dispose();
/// await foreach (Job job in rx) { Process(job); }
/// </code>
/// </example>
public static class Mpsc
{
    /// <summary>
    /// Creates a channel that holds at most <paramref name="capacity"/> values: a send waits for room, and
    /// senders waiting for room are served in order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1 or above <see cref="AsyncSemaphore.MaxPermits"/>.</exception>
    public static (MpscSender<T> Sender, MpscReceiver<T> Receiver) CreateBounded<T>(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, BatchSemaphore.MaxPermits);
        var core = new MpscCore<T>(capacity);
        return (new MpscSender<T>(core), new MpscReceiver<T>(core));
    }

    /// <summary>Creates a channel without a size limit: a send never waits (memory is the limit).</summary>
    public static (MpscUnboundedSender<T> Sender, MpscReceiver<T> Receiver) CreateUnbounded<T>()
    {
        var core = new MpscCore<T>(0);
        return (new MpscUnboundedSender<T>(core), new MpscReceiver<T>(core));
    }
}
