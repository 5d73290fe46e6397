using System.Text;

namespace MiniRedis.Client;

/// <summary>A message received by a <see cref="RedisSubscriber"/>.</summary>
/// <param name="Channel">The channel it was published to.</param>
/// <param name="Pattern">The pattern that matched, for a pattern subscription (<c>PSUBSCRIBE</c>); null for a channel subscription.</param>
/// <param name="Payload">The message bytes (an owned copy).</param>
public readonly record struct RedisMessage(string Channel, string? Pattern, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The payload decoded as UTF-8.</summary>
    public string PayloadString => Encoding.UTF8.GetString(Payload.Span);
}
