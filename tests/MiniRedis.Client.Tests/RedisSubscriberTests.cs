using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Tests;

public sealed class RedisSubscriberTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    private static string Name(string prefix) => $"{prefix}:{Guid.NewGuid():N}";

    [Fact]
    public void Subscribe_DeliversMessagesInOrder() => Bounded.OnRuntime(async () =>
    {
        await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(server.Options());
        await using RedisConnection redis = await RedisConnection.ConnectAsync(server.Options());
        string a = Name("a"), b = Name("b");
        await sub.SubscribeAsync([a, b]);
        Assert.Equal(1, await redis.PublishAsync(a, "one"));
        Assert.Equal(1, await redis.PublishAsync(b, new byte[] { 0, 1, 2 }));
        Assert.Equal(1, await redis.PublishAsync(a, "three"));
        Assert.Equal(0, await redis.PublishAsync(Name("other"), "nobody"));

        var messages = new List<RedisMessage>();
        await foreach (RedisMessage m in sub.ReadMessagesAsync())
        {
            messages.Add(m);
            if (messages.Count == 3)
            {
                break;
            }
        }

        Assert.Equal((a, "one"), (messages[0].Channel, messages[0].PayloadString));
        Assert.Equal(b, messages[1].Channel);
        Assert.Equal(new byte[] { 0, 1, 2 }, messages[1].Payload.ToArray());
        Assert.Equal((a, "three"), (messages[2].Channel, messages[2].PayloadString));
        Assert.All(messages, m => Assert.Null(m.Pattern));
    });

    [Fact]
    public void PSubscribe_MatchesPatterns() => Bounded.OnRuntime(async () =>
    {
        await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(server.Options());
        await using RedisConnection redis = await RedisConnection.ConnectAsync(server.Options());
        string root = Name("news");
        await sub.PSubscribeAsync([$"{root}.*"]);
        Assert.Equal(1, await redis.PublishAsync($"{root}.sport", "goal"));
        Assert.Equal(0, await redis.PublishAsync($"{root}-weather", "rain"));
        RedisMessage m = await sub.ReceiveAsync();
        Assert.Equal($"{root}.*", m.Pattern);
        Assert.Equal($"{root}.sport", m.Channel);
        Assert.Equal("goal", m.PayloadString);

        await sub.PUnsubscribeAsync([$"{root}.*"]);
        Assert.Equal(0, await redis.PublishAsync($"{root}.sport", "late"));
    });

    [Fact]
    public void Unsubscribe_StopsDeliveryForThatChannelOnly() => Bounded.OnRuntime(async () =>
    {
        await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(server.Options());
        await using RedisConnection redis = await RedisConnection.ConnectAsync(server.Options());
        string keep = Name("keep"), drop = Name("drop");
        await sub.SubscribeAsync([keep, drop]);
        await sub.UnsubscribeAsync([drop]);
        Assert.Equal(0, await redis.PublishAsync(drop, "x"));
        Assert.Equal(1, await redis.PublishAsync(keep, "y"));
        RedisMessage m = await sub.ReceiveAsync();
        Assert.Equal((keep, "y"), (m.Channel, m.PayloadString));
        RespValue numsub = await redis.ExecuteAsync("PUBSUB", "NUMSUB", keep, drop);
        Assert.Equal(RespValue.Array(RespValue.BulkString(keep), RespValue.Integer(1), RespValue.BulkString(drop), RespValue.Integer(0)), numsub);
    });

    [Fact]
    public void Dispose_EndsTheMessageSequence() => Bounded.OnRuntime(async () =>
    {
        RedisSubscriber sub = await RedisSubscriber.ConnectAsync(server.Options());
        await sub.SubscribeAsync([Name("c")]);
        await sub.DisposeAsync();
        await foreach (RedisMessage m in sub.ReadMessagesAsync())
        {
            Assert.Fail($"unexpected message {m}");
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await sub.SubscribeAsync([Name("d")]));
    });
}
