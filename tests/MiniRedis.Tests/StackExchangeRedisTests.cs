using MiniRedis.Tests.Support;
using StackExchange.Redis;

namespace MiniRedis.Tests;

/// <summary>StackExchange.Redis (a real-world client) against MiniRedis.</summary>
public sealed class StackExchangeRedisTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly ServerFixture _server;
    private readonly ConnectionMultiplexer _redis;

    public StackExchangeRedisTests(ServerFixture server)
    {
        _server = server;
        _redis = ConnectionMultiplexer.Connect($"127.0.0.1:{server.Port},abortConnect=false,connectTimeout=10000,syncTimeout=10000");
    }

    public void Dispose() => _redis.Dispose();

    private static string Key(string name) => $"se:{Guid.NewGuid():N}:{name}";

    [Fact]
    public async Task Strings()
    {
        IDatabase db = _redis.GetDatabase();
        string k = Key("s");
        Assert.True(await db.StringSetAsync(k, "hello"));
        Assert.Equal("hello", (string?)await db.StringGetAsync(k));
        Assert.Equal(10, await db.StringAppendAsync(k, "world"));
        Assert.Equal(10, await db.StringLengthAsync(k));
        Assert.False(await db.StringSetAsync(k, "x", when: When.NotExists));
        string n = Key("n");
        Assert.Equal(5, await db.StringIncrementAsync(n, 5));
        Assert.Equal(3, await db.StringDecrementAsync(n, 2));
        RedisValue[] values = await db.StringGetAsync([k, n, Key("missing")]);
        Assert.Equal(["helloworld", "3", RedisValue.Null], values);
        Assert.True(await db.KeyDeleteAsync(k));
        Assert.False(await db.KeyExistsAsync(k));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ListLeftPushAsync(n, "x"));
    }

    [Fact]
    public async Task Lists()
    {
        IDatabase db = _redis.GetDatabase();
        string k = Key("l");
        Assert.Equal(3, await db.ListRightPushAsync(k, ["a", "b", "c"]));
        Assert.Equal(4, await db.ListLeftPushAsync(k, "z"));
        Assert.Equal(["z", "a", "b", "c"], (await db.ListRangeAsync(k)).Select(v => (string)v!).ToArray());
        Assert.Equal("z", (string?)await db.ListLeftPopAsync(k));
        Assert.Equal("c", (string?)await db.ListRightPopAsync(k));
        Assert.Equal(2, await db.ListLengthAsync(k));
    }

    [Fact]
    public async Task Expiry_KeyVanishes()
    {
        IDatabase db = _redis.GetDatabase();
        string k = Key("e");
        await db.StringSetAsync(k, "v", TimeSpan.FromMilliseconds(150));
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(k);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(150));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await db.KeyExistsAsync(k))
        {
            Assert.True(DateTime.UtcNow < deadline, "the key did not expire within 10 s");
            await Task.Delay(20);
        }
        string p = Key("p");
        await db.StringSetAsync(p, "v");
        Assert.True(await db.KeyExpireAsync(p, TimeSpan.FromSeconds(100)));
        Assert.True(await db.KeyPersistAsync(p));
        Assert.Null(await db.KeyTimeToLiveAsync(p));
    }

    [Fact]
    public async Task PubSub_ChannelsAndPatterns()
    {
        ISubscriber sub = _redis.GetSubscriber();
        string channel = Key("ch");
        var received = new List<string>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var patternHits = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ChannelMessageQueue queue = await sub.SubscribeAsync(RedisChannel.Literal(channel));
        queue.OnMessage(m =>
        {
            lock (received)
            {
                received.Add(m.Message!);
                if (received.Count == 100)
                {
                    all.TrySetResult();
                }
            }
        });
        await sub.SubscribeAsync(RedisChannel.Pattern(channel[..10] + "*"), (ch, msg) => patternHits.TrySetResult(msg!));

        using ConnectionMultiplexer publisher = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_server.Port}");
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(2, await publisher.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), i.ToString()));
        }
        await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => i.ToString()), received);
        // Pattern handlers may run concurrently: any of the messages may come first.
        Assert.InRange(int.Parse(await patternHits.Task.WaitAsync(TimeSpan.FromSeconds(10))), 0, 99);
        await sub.UnsubscribeAllAsync();
    }

    [Fact]
    public async Task Batch_IsPipelined()
    {
        IDatabase db = _redis.GetDatabase();
        string prefix = Key("b");
        IBatch batch = db.CreateBatch();
        var sets = Enumerable.Range(0, 500).Select(i => batch.StringSetAsync($"{prefix}:{i}", i)).ToArray();
        var gets = Enumerable.Range(0, 500).Select(i => batch.StringGetAsync($"{prefix}:{i}")).ToArray();
        batch.Execute();
        Assert.All(await Task.WhenAll(sets), Assert.True);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (RedisValue)i), await Task.WhenAll(gets));
    }

    [Fact]
    public async Task Ping_AndServerInfo()
    {
        IServer server = _redis.GetServer("127.0.0.1", _server.Port);
        Assert.True(await server.PingAsync() < TimeSpan.FromSeconds(5));
        Assert.Equal(new Version(7, 0, 15), server.Version);
    }
}
