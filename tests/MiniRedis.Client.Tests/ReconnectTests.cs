using Kyoto.Tasks;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Tests;

/// <summary>Kills and restarts the class's own redis-server on the same port.</summary>
public sealed class ReconnectTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public void Connection_ServerKilled_FailsInFlightAndLaterCallsWithConnectionException() => Bounded.OnRuntime(async () =>
    {
        await using RedisConnection redis = await RedisConnection.ConnectAsync(server.Options());
        ValueTask<RespValue> inFlight = redis.ExecuteAsync(new RedisCommand("BLPOP", $"nothing:{Guid.NewGuid():N}", 0), Timeout.InfiniteTimeSpan);
        Assert.Equal("PONG", await PingOnAnotherConnectionAsync()); // the server is up and BLPOP is blocking
        await Task.Run(server.Restart);
        await Assert.ThrowsAsync<RedisConnectionException>(async () => await inFlight);
        Assert.False(redis.IsConnected);
        await Assert.ThrowsAsync<RedisConnectionException>(async () => await redis.PingAsync());
        await redis.Completion;
    });

    private async Task<string?> PingOnAnotherConnectionAsync()
    {
        await using RedisConnection other = await RedisConnection.ConnectAsync(server.Options());
        return (await other.ExecuteAsync("PING")).AsString();
    }

    [Fact]
    public void Pool_ServerRestarted_NextCallsReconnect() => Bounded.OnRuntime(async () =>
    {
        await using var pool = new RedisPool(server.Options(o =>
        {
            o.PoolSize = 2;
            o.ReconnectMinBackoff = TimeSpan.FromMilliseconds(10);
            o.ReconnectMaxBackoff = TimeSpan.FromMilliseconds(200);
        }));
        string key = $"re:{Guid.NewGuid():N}";
        Assert.Equal(1, await pool.IncrAsync(key));
        Assert.Equal(2, await pool.IncrAsync(key));
        Assert.Equal(2, pool.ConnectionsOpened);

        // In flight across the restart: fails with a connection error, never with a wrong reply.
        ValueTask<RespValue> blocked = pool.ExecuteAsync(new RedisCommand("BLPOP", $"nothing:{Guid.NewGuid():N}", 0), Timeout.InfiniteTimeSpan);
        await Task.Run(server.Restart);
        await Assert.ThrowsAsync<RedisConnectionException>(async () => await blocked);

        // Calls right after the restart may still meet a connection that has not noticed yet, or a refused
        // attempt under backoff; within a bounded time every slot reconnects and answers.
        await Bounded.UntilAsync(async () =>
        {
            try
            {
                return await pool.IncrAsync(key) == 1; // a fresh server: the key starts over
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }, "the pool to reconnect");

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("PONG", await pool.PingAsync());
        }

        Assert.Equal(2, pool.ConnectedCount);
        Assert.True(pool.ConnectionsOpened >= 4, $"opened {pool.ConnectionsOpened}");
    });

    [Fact]
    public void Pool_ServerDown_FailsFastThenReconnectsWhenItReturns() => Bounded.OnRuntime(async () =>
    {
        await using var pool = new RedisPool(server.Options(o =>
        {
            o.PoolSize = 1;
            o.ReconnectMinBackoff = TimeSpan.FromMilliseconds(10);
            o.ReconnectMaxBackoff = TimeSpan.FromMilliseconds(100);
        }));
        Assert.Equal("PONG", await pool.PingAsync());
        await Task.Run(server.Kill);
        await Bounded.UntilAsync(async () =>
        {
            try
            {
                await pool.PingAsync();
                return false;
            }
            catch (RedisConnectionException)
            {
                return true;
            }
        }, "the pool to notice the server is gone");
        // Still down: attempts fail (after their backoff) with a connection error.
        await Assert.ThrowsAsync<RedisConnectionException>(async () => await pool.PingAsync());
        await Task.Run(server.Start);
        await Bounded.UntilAsync(async () =>
        {
            try
            {
                return await pool.PingAsync() == "PONG";
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }, "the pool to reconnect");
    });

    [Fact]
    public void Subscriber_ServerRestarted_ResubscribesAndDeliversAgain() => Bounded.OnRuntime(async () =>
    {
        RedisClientOptions options = server.Options(o =>
        {
            o.ReconnectMinBackoff = TimeSpan.FromMilliseconds(10);
            o.ReconnectMaxBackoff = TimeSpan.FromMilliseconds(100);
        });
        await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(options);
        await using var pool = new RedisPool(options);
        string channel = $"ch:{Guid.NewGuid():N}";
        await sub.SubscribeAsync([channel]);
        await sub.PSubscribeAsync([$"{channel}.*"]);
        Assert.Equal(2, await pool.PublishAsync(channel + ".x", "before") + await pool.PublishAsync(channel, "before"));
        Assert.Equal("before", (await sub.ReceiveAsync()).PayloadString);
        Assert.Equal("before", (await sub.ReceiveAsync()).PayloadString);

        await Task.Run(server.Restart);
        // Publish until the resubscribed subscriber is counted (for both the channel and the pattern).
        await Bounded.UntilAsync(async () =>
        {
            try
            {
                return await pool.PublishAsync(channel, "probe") == 1 && await pool.PublishAsync(channel + ".y", "probe") == 1;
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }, "the subscriber to resubscribe");
        Assert.True(sub.Connects >= 2);
        Assert.Equal(1, await pool.PublishAsync(channel, "after"));
        Assert.Equal(1, await pool.PublishAsync(channel + ".z", "after-pattern"));
        var seen = new List<RedisMessage>();
        while (seen.Count == 0 || seen[^1].PayloadString != "after-pattern")
        {
            seen.Add(await sub.ReceiveAsync());
        }

        RedisMessage direct = Assert.Single(seen, m => m.PayloadString == "after");
        Assert.Equal(channel, direct.Channel);
        Assert.Null(direct.Pattern);
        RedisMessage matched = seen[^1];
        Assert.Equal($"{channel}.*", matched.Pattern);
        Assert.Equal(channel + ".z", matched.Channel);
    });

    [Fact]
    public void Subscriber_UnsubscribeWhileDisconnected_IsNotRestored() => Bounded.OnRuntime(async () =>
    {
        RedisClientOptions options = server.Options(o =>
        {
            o.ReconnectMinBackoff = TimeSpan.FromMilliseconds(10);
            o.ReconnectMaxBackoff = TimeSpan.FromMilliseconds(100);
            o.CommandTimeout = TimeSpan.FromSeconds(20);
        });
        await using RedisSubscriber sub = await RedisSubscriber.ConnectAsync(options);
        string gone = $"gone:{Guid.NewGuid():N}", kept = $"kept:{Guid.NewGuid():N}";
        await sub.SubscribeAsync([gone, kept]);
        await Task.Run(server.Kill);
        await Bounded.UntilAsync(() => Task.FromResult(!sub.IsConnected), "the subscriber to notice the server is gone");
        ValueTask unsubscribe = sub.UnsubscribeAsync([gone]);
        await Task.Run(server.Start);
        await unsubscribe; // completed by the reconnect, which subscribes to `kept` only
        await using RedisConnection redis = await RedisConnection.ConnectAsync(options);
        await Bounded.UntilAsync(async () => await redis.PublishAsync(kept, "k") == 1, "the subscriber to resubscribe");
        Assert.Equal(0, await redis.PublishAsync(gone, "g"));
        Assert.Equal(kept, (await sub.ReceiveAsync()).Channel);
    });
}
