namespace MiniRedis.Server;

/// <summary>A published message as one subscription receives it (immutable; shared by every receiver).</summary>
/// <param name="Pattern">The pattern that matched, for pattern subscriptions (<c>pmessage</c>); null for <c>message</c>.</param>
/// <param name="Channel">The channel it was published on.</param>
/// <param name="Payload">The message.</param>
public sealed record PubSubMessage(byte[]? Pattern, byte[] Channel, byte[] Payload);
