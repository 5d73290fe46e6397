namespace Kyoto.Sync;

/// <summary>
/// A multi-producer, multi-consumer channel in which every receiver sees every value (Tokio's
/// <c>broadcast</c>): a bounded ring of the most recent values, each written once and read by every receiver.
/// </summary>
/// <remarks>
/// <para>The channel holds at most <c>capacity</c> values (rounded up to a power of two). A send never waits:
/// when the ring is full it overwrites the oldest value, and a receiver that had not read it yet learns that it
/// fell behind from a <see cref="BroadcastLaggedException"/> carrying the exact number of values it missed; its
/// next receive continues from the oldest value still retained.</para>
/// <para>A value is dropped from the ring (its reference released) once every receiver that was subscribed
/// when it was sent has read it, skipped it, or been disposed.</para>
/// <para>Closing is explicit: the channel closes when the last <see cref="BroadcastSender{T}"/> is disposed
/// (<see cref="BroadcastSender{T}.Clone"/> makes another one); receivers then read what remains and get
/// <see cref="ClosedChannelException"/>. Dispose receivers you stop using, or their unread values stay in the
/// ring until overwritten and senders keep counting them.</para>
/// <para>Sending and receiving allocate nothing once warm: each receiver owns one reusable waiter.</para>
/// </remarks>
/// <example>
/// <code>
/// var (tx, rx1) = Broadcast.Create&lt;string&gt;(16);
/// var rx2 = tx.Subscribe();
/// KyotoTask.Spawn(async () =&gt;
/// {
///     await foreach (string line in rx1) { Console.WriteLine($"one: {line}"); }
/// });
/// tx.Send("hello");   // both receivers get "hello"
/// tx.Dispose();       // closes: rx1's loop ends once it has read everything
/// string first = await rx2.RecvAsync();
/// </code>
/// </example>
public static class Broadcast
{
    /// <summary>The largest capacity a channel can be created with (2^30).</summary>
    public const int MaxCapacity = 1 << 30;

    /// <summary>
    /// Creates a channel retaining the last <paramref name="capacity"/> values (rounded up to a power of two),
    /// with one sender and one receiver.
    /// </summary>
    /// <param name="capacity">How many values the channel retains for slow receivers; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is below 1 or above <see cref="MaxCapacity"/>.</exception>
    public static (BroadcastSender<T> Sender, BroadcastReceiver<T> Receiver) Create<T>(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        var core = new BroadcastCore<T>(capacity);
        var sender = new BroadcastSender<T>(core);
        return (sender, core.Subscribe());
    }
}
