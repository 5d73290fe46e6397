using Kyoto.Sync;
using Kyoto.Tasks;

namespace MiniRedis.Server;

/// <summary>One client's subscription to a channel or pattern, and the task forwarding its messages.</summary>
/// <remarks>Created and ended by the connection task only; the forwarder reads <see cref="Receiver"/>.</remarks>
public sealed class Subscription
{
    /// <summary>Creates a subscription over <paramref name="receiver"/>.</summary>
    public Subscription(byte[] name, bool isPattern, BroadcastReceiver<PubSubMessage> receiver)
    {
        Name = name;
        IsPattern = isPattern;
        Receiver = receiver;
    }

    /// <summary>The channel name or pattern.</summary>
    public byte[] Name { get; }

    /// <summary>True for PSUBSCRIBE.</summary>
    public bool IsPattern { get; }

    /// <summary>The receiver this subscription reads.</summary>
    public BroadcastReceiver<PubSubMessage> Receiver { get; }

    /// <summary>Cancelled to stop the forwarder at its next receive (never during a write).</summary>
    public CancellationTokenSource Stop { get; } = new();

    /// <summary>The forwarder task, once started.</summary>
    public JoinHandle? Forwarder { get; set; }
}
