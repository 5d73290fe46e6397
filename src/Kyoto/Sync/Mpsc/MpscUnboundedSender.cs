// Invariants: all shared state is MpscCore's (see its header); this type only counts itself once as a sender
// (Interlocked.Exchange on _disposed) so the channel closes when the last sender is disposed.
namespace Kyoto.Sync;

/// <summary>
/// A sending end of an unbounded <see cref="Mpsc"/> channel. Sends never wait. Dispose it when done: the
/// channel closes when its last sender is disposed.
/// </summary>
public sealed class MpscUnboundedSender<T> : IDisposable
{
    private readonly MpscCore<T> _core;
    private int _disposed;

    internal MpscUnboundedSender(MpscCore<T> core) => _core = core;

    /// <summary>True once the receiver has closed the channel (or every sender is disposed): sends fail.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>Sends <paramref name="value"/>.</summary>
    /// <returns>False if the channel is closed: the value was not sent and stays the caller's.</returns>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public bool TrySend(T value)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return _core.TryPush(value);
    }

    /// <summary>Sends <paramref name="value"/>, or throws if the channel is closed.</summary>
    /// <exception cref="ClosedChannelException">The channel is closed; the value was not sent (it is in <see cref="ClosedChannelException.UnsentValue"/>).</exception>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public void Send(T value)
    {
        if (!TrySend(value))
        {
            throw ClosedChannelException.Unsent(value);
        }
    }

    /// <summary>Completes when the channel closes (the receiver closed it or was disposed).</summary>
    /// <remarks><b>Cancel safety:</b> waiting can be abandoned freely; nothing is lost.</remarks>
    public Task ClosedAsync() => _core.ClosedTask;

    /// <summary>Another sender on the same channel; the channel stays open until every sender is disposed.</summary>
    /// <exception cref="ObjectDisposedException">This sender was disposed.</exception>
    public MpscUnboundedSender<T> Clone()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _core.AddSender();
        return new MpscUnboundedSender<T>(_core);
    }

    /// <summary>Gives up this sender; the last one closes the channel. Later calls do nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _core.RemoveSender();
        }
    }
}
