// Invariants: all shared state is BroadcastCore's (see its header); this type only counts itself once as a
// sender (Interlocked.Exchange on _disposed) so the channel closes when the last sender is disposed.
namespace Kyoto.Sync;

/// <summary>
/// Sends values to every receiver of a <see cref="Broadcast"/> channel. Thread-safe: any number of threads
/// may send through one sender, and <see cref="Clone"/> makes more senders.
/// </summary>
/// <remarks>
/// Each sender instance counts once towards keeping the channel open: the channel closes when the last one is
/// disposed. Sends never wait; a full ring overwrites its oldest value (slow receivers then get a
/// <see cref="BroadcastLaggedException"/>).
/// </remarks>
/// <typeparam name="T">The value type.</typeparam>
public sealed class BroadcastSender<T> : IDisposable
{
    private readonly BroadcastCore<T> _core;
    private int _disposed;

    internal BroadcastSender(BroadcastCore<T> core) => _core = core;

    /// <summary>How many values the channel retains (the requested capacity rounded up to a power of two).</summary>
    public int Capacity => _core.Capacity;

    /// <summary>How many receivers exist now (a snapshot): each value sent now reaches this many.</summary>
    public int ReceiverCount => _core.ReceiverCount;

    /// <summary>
    /// Sends <paramref name="value"/> to every current receiver, unless there is none.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <param name="receivers">How many receivers the value was stored for (0 when this returns false).</param>
    /// <returns>
    /// True if the value was stored; false if no receiver exists, in which case nothing is stored and the value
    /// stays the caller's (a receiver subscribed later would not see it anyway).
    /// </returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public bool TrySend(T value, out int receivers)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _core.TrySend(value, out receivers);
    }

    /// <summary>Sends <paramref name="value"/> to every current receiver.</summary>
    /// <returns>How many receivers the value was stored for.</returns>
    /// <exception cref="ClosedChannelException">No receiver exists: nothing was stored. Use <see cref="TrySend"/> to test instead.</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public int Send(T value)
    {
        if (!TrySend(value, out int receivers))
        {
            throw new ClosedChannelException("The broadcast channel has no receiver: the value was not sent.");
        }

        return receivers;
    }

    /// <summary>Creates a receiver that sees every value sent after this call (none of those sent before).</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public BroadcastReceiver<T> Subscribe()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _core.Subscribe();
    }

    /// <summary>Creates another sender on the same channel; the channel stays open until both are disposed.</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public BroadcastSender<T> Clone()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _core.AddSender();
        return new BroadcastSender<T>(_core);
    }

    /// <summary>True if <paramref name="other"/> sends on the same channel as this sender.</summary>
    public bool SameChannel(BroadcastSender<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return ReferenceEquals(_core, other._core);
    }

    /// <summary>
    /// Stops this sender. When it is the last one, the channel closes: receivers read what remains, then get
    /// <see cref="ClosedChannelException"/>. Later calls do nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _core.RemoveSender();
        }
    }
}
