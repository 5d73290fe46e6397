// The pub/sub hub: one Kyoto Broadcast channel per subscribed channel name and one per subscribed pattern.
// Each subscription (a client on a channel or pattern) owns one BroadcastReceiver; its connection forwards what
// it receives to the socket.
//
// Invariants:
//  1. _gate guards both dictionaries and every Subscribe/Unsubscribe/Publish; Broadcast sends never wait, so
//     publishing under the lock is cheap and a subscriber never misses a message published after its SUBSCRIBE
//     reply was produced (the receiver exists before the reply is written).
//  2. A channel entry exists while it has receivers: the last unsubscribe removes it and disposes its sender.
//  3. A slow subscriber cannot slow publishers: the ring keeps the last `capacity` messages; a receiver that
//     falls further behind gets BroadcastLaggedException, and its connection reports it and disconnects
//     (Redis disconnects a pub/sub client over its output buffer limit the same way).
using Kyoto.Sync;

namespace MiniRedis.Server;

/// <summary>Channels and patterns to their broadcast channels.</summary>
public sealed class PubSubHub
{
    private readonly Lock _gate = new();
    private readonly Dictionary<byte[], BroadcastSender<PubSubMessage>> _channels = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], BroadcastSender<PubSubMessage>> _patterns = new(ByteKeyComparer.Instance);
    private readonly int _capacity;

    /// <summary>Creates a hub whose channels retain <paramref name="capacity"/> messages for slow subscribers.</summary>
    public PubSubHub(int capacity) => _capacity = capacity;

    /// <summary>Subscribes to a channel (<paramref name="isPattern"/> false) or a pattern.</summary>
    public BroadcastReceiver<PubSubMessage> Subscribe(byte[] name, bool isPattern)
    {
        lock (_gate)
        {
            Dictionary<byte[], BroadcastSender<PubSubMessage>> map = isPattern ? _patterns : _channels;
            if (map.TryGetValue(name, out BroadcastSender<PubSubMessage>? sender))
            {
                return sender.Subscribe();
            }
            (sender, BroadcastReceiver<PubSubMessage> receiver) = Broadcast.Create<PubSubMessage>(_capacity);
            map.Add(name, sender);
            return receiver;
        }
    }

    /// <summary>Drops a receiver returned by <see cref="Subscribe"/>; the channel goes once nobody listens.</summary>
    public void Unsubscribe(byte[] name, bool isPattern, BroadcastReceiver<PubSubMessage> receiver)
    {
        lock (_gate)
        {
            receiver.Dispose();
            Dictionary<byte[], BroadcastSender<PubSubMessage>> map = isPattern ? _patterns : _channels;
            if (map.TryGetValue(name, out BroadcastSender<PubSubMessage>? sender) && sender.ReceiverCount == 0)
            {
                map.Remove(name);
                sender.Dispose();
            }
        }
    }

    /// <summary>Publishes to the channel's subscribers and to every matching pattern's; returns how many received it.</summary>
    public int Publish(byte[] channel, byte[] payload)
    {
        int total = 0;
        lock (_gate)
        {
            if (_channels.TryGetValue(channel, out BroadcastSender<PubSubMessage>? sender)
                && sender.TrySend(new PubSubMessage(null, channel, payload), out int n))
            {
                total += n;
            }
            foreach (KeyValuePair<byte[], BroadcastSender<PubSubMessage>> pattern in _patterns)
            {
                if (Glob.IsMatch(pattern.Key, channel) && pattern.Value.TrySend(new PubSubMessage(pattern.Key, channel, payload), out int m))
                {
                    total += m;
                }
            }
        }
        return total;
    }
}
