// The state of one client connection that commands read and change: its id and name, its subscriptions, and
// whether the connection must close after the replies produced so far.
//
// Invariant: touched only by the connection's own task (commands run on it); forwarder tasks see only their
// own Subscription. Subscriptions created by a batch of commands wait in PendingForwarders until the
// connection has written that batch's replies, so a message never overtakes its SUBSCRIBE confirmation.
namespace MiniRedis.Server;

/// <summary>Per-connection state.</summary>
public sealed class ClientSession
{
    /// <summary>Creates the state of client <paramref name="id"/>.</summary>
    public ClientSession(long id) => Id = id;

    /// <summary>The client id (CLIENT ID, logs).</summary>
    public long Id { get; }

    /// <summary>The name set by CLIENT SETNAME or HELLO SETNAME.</summary>
    public byte[]? Name { get; set; }

    /// <summary>Set by QUIT and protocol errors: close once the replies so far are written.</summary>
    public bool CloseAfterReply { get; set; }

    /// <summary>Channel subscriptions by name.</summary>
    public Dictionary<byte[], Subscription> Channels { get; } = new(ByteKeyComparer.Instance);

    /// <summary>Pattern subscriptions by pattern.</summary>
    public Dictionary<byte[], Subscription> Patterns { get; } = new(ByteKeyComparer.Instance);

    /// <summary>Subscriptions whose forwarder the connection must start after writing the current replies.</summary>
    public List<Subscription> PendingForwarders { get; } = [];

    /// <summary>Subscriptions ended by the current batch; the connection stops their forwarders.</summary>
    public List<Subscription> EndedSubscriptions { get; } = [];

    /// <summary>True once the client subscribed at least once: its writes then share the socket with forwarders.</summary>
    public bool EverSubscribed { get; set; }

    /// <summary>Channels plus patterns (the count Redis replies with).</summary>
    public int SubscriptionCount => Channels.Count + Patterns.Count;
}
