using Kyoto.Tasks;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Tests;

public sealed class RedisConnectionTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    private void Run(Func<RedisConnection, Task> body, Action<RedisClientOptions>? configure = null) => Bounded.OnRuntime(async () =>
    {
        await using RedisConnection redis = await RedisConnection.ConnectAsync(server.Options(configure));
        await body(redis);
    });

    private static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    [Fact]
    public void Ping_AnswersPong() => Run(async redis => Assert.Equal("PONG", await redis.PingAsync()));

    [Fact]
    public void GetSet_StringsBytesAndMissingKeys() => Run(async redis =>
    {
        string key = Key("gs");
        Assert.Null(await redis.GetAsync(key));
        Assert.Null(await redis.GetBytesAsync(key));
        Assert.True(await redis.SetAsync(key, "héllo"));
        Assert.Equal("héllo", await redis.GetAsync(key));
        byte[] binary = [0, 1, 2, 255, 13, 10];
        Assert.True(await redis.SetAsync(key, binary));
        Assert.Equal(binary, await redis.GetBytesAsync(key));
        Assert.True(await redis.SetAsync(key, 42L));
        Assert.Equal("42", await redis.GetAsync(key));
    });

    [Fact]
    public void Set_WithExpiryAndConditions() => Run(async redis =>
    {
        string key = Key("set");
        Assert.False(await redis.SetAsync(key, "x", condition: SetCondition.IfExists));
        Assert.False(await redis.ExistsAsync(key));
        Assert.True(await redis.SetAsync(key, "first", TimeSpan.FromSeconds(100), SetCondition.IfNotExists));
        Assert.False(await redis.SetAsync(key, "second", condition: SetCondition.IfNotExists));
        Assert.Equal("first", await redis.GetAsync(key));
        long ttl = await redis.TtlAsync(key);
        Assert.InRange(ttl, 90, 100);
        Assert.True(await redis.SetAsync(key, "third", condition: SetCondition.IfExists));
        Assert.Equal("third", await redis.GetAsync(key));
        Assert.Equal(-1, await redis.TtlAsync(key)); // a plain SET clears the expiry
    });

    [Fact]
    public void DelExists_SingleAndMany() => Run(async redis =>
    {
        string a = Key("a"), b = Key("b"), c = Key("c");
        await redis.SetAsync(a, "1");
        await redis.SetAsync(b, "2");
        Assert.True(await redis.ExistsAsync(a));
        Assert.Equal(2, await redis.ExistsAsync([a, b, c]));
        Assert.True(await redis.DelAsync(a));
        Assert.False(await redis.DelAsync(a));
        Assert.Equal(1, await redis.DelAsync([a, b, c]));
        Assert.Equal(0, await redis.ExistsAsync([a, b, c]));
    });

    [Fact]
    public void IncrIncrBy_CountAndRejectNonIntegers() => Run(async redis =>
    {
        string key = Key("n");
        Assert.Equal(1, await redis.IncrAsync(key));
        Assert.Equal(11, await redis.IncrByAsync(key, 10));
        Assert.Equal(-4, await redis.IncrByAsync(key, -15));
        string text = Key("t");
        await redis.SetAsync(text, "abc");
        var e = await Assert.ThrowsAsync<RedisServerException>(async () => await redis.IncrAsync(text));
        Assert.Equal("ERR", e.ErrorCode);
        Assert.Contains("not an integer", e.Message, StringComparison.Ordinal);
        Assert.Equal(-3, await redis.IncrAsync(key)); // the connection is still in sync
    });

    [Fact]
    public void ExpireTtl_SetAndReadTimeToLive() => Run(async redis =>
    {
        string key = Key("e");
        Assert.Equal(-2, await redis.TtlAsync(key));
        Assert.False(await redis.ExpireAsync(key, TimeSpan.FromSeconds(10)));
        await redis.SetAsync(key, "v");
        Assert.Equal(-1, await redis.TtlAsync(key));
        Assert.True(await redis.ExpireAsync(key, TimeSpan.FromSeconds(50)));
        Assert.InRange(await redis.TtlAsync(key), 40, 50);
        Assert.True(await redis.ExpireAsync(key, TimeSpan.FromMilliseconds(50)));
        await Bounded.UntilAsync(async () => !await redis.ExistsAsync(key), "the key to expire");
    });

    [Fact]
    public void Lists_PushPopRange() => Run(async redis =>
    {
        string key = Key("list");
        Assert.Equal(1, await redis.RPushAsync(key, "b"));
        Assert.Equal(2, await redis.LPushAsync(key, "a"));
        Assert.Equal(4, await redis.RPushAsync(key, ["c", 4L]));
        Assert.Equal(6, await redis.LPushAsync(key, ["y", "z"]));
        Assert.Equal(["z", "y", "a", "b", "c", "4"], await redis.LRangeAsync(key));
        Assert.Equal(["y", "a"], await redis.LRangeAsync(key, 1, 2));
        Assert.Equal("z", await redis.LPopAsync(key));
        Assert.Equal("4", await redis.RPopAsync(key));
        Assert.Equal(["y", "a", "b", "c"], await redis.LRangeAsync(key, 0, -1));
        string empty = Key("none");
        Assert.Null(await redis.LPopAsync(empty));
        Assert.Null(await redis.RPopAsync(empty));
        Assert.Empty(await redis.LRangeAsync(empty));
        await redis.SetAsync(empty, "s");
        var e = await Assert.ThrowsAsync<RedisServerException>(async () => await redis.LPushAsync(empty, "x"));
        Assert.Equal("WRONGTYPE", e.ErrorCode);
    });

    [Fact]
    public void MGetMSet_ManyKeysAtOnce() => Run(async redis =>
    {
        string a = Key("ma"), b = Key("mb"), missing = Key("mm");
        await redis.MSetAsync([new(a, "1"), new(b, new byte[] { (byte)'2' })]);
        Assert.Equal(new string?[] { "1", "2", null }, (IEnumerable<string?>)await redis.MGetAsync([a, b, missing]));
    });

    [Fact]
    public void Publish_WithoutSubscribers_ReachesNobody() => Run(async redis =>
        Assert.Equal(0, await redis.PublishAsync(Key("chan"), "hello")));

    [Fact]
    public void Execute_RawCommandsAndErrors() => Run(async redis =>
    {
        string key = Key("h");
        RespValue added = await redis.ExecuteAsync("HSET", key, "f1", "v1", "f2", 2);
        Assert.Equal(2, added.AsInteger());
        RespValue all = await redis.ExecuteAsync("HGETALL", key);
        Assert.Equal(4, all.AsSpanOfElements().Length);
        var e = await Assert.ThrowsAsync<RedisServerException>(async () => await redis.ExecuteAsync("NOSUCHCOMMAND", "x"));
        Assert.Contains("unknown command", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("PONG", await redis.PingAsync());
    });

    [Fact]
    public void Pipelining_1000CommandsFrom20TasksOnOneConnection_EachGetsItsOwnReply() => Run(async redis =>
    {
        const int tasks = 20, perTask = 50;
        string prefix = Key("pipe");
        var handles = new JoinHandle<long[]>[tasks];
        for (int t = 0; t < tasks; t++)
        {
            string key = $"{prefix}:{t}";
            handles[t] = KyotoTask.Spawn(async () =>
            {
                // All 50 INCRs of a task are in flight at once, interleaved with the other tasks'.
                var replies = new ValueTask<long>[perTask];
                for (int i = 0; i < perTask; i++)
                {
                    replies[i] = redis.IncrAsync(key);
                }

                var values = new long[perTask];
                for (int i = 0; i < perTask; i++)
                {
                    values[i] = await replies[i];
                }

                return values;
            });
        }

        for (int t = 0; t < tasks; t++)
        {
            long[] values = await handles[t];
            Assert.Equal(Enumerable.Range(1, perTask).Select(i => (long)i), values);
            Assert.Equal(perTask.ToString(System.Globalization.CultureInfo.InvariantCulture), await redis.GetAsync($"{prefix}:{t}"));
        }
    });

    [Fact]
    public void Pipelining_MixedCommandsFromManyTasks_RepliesMatchTheirCommands() => Run(async redis =>
    {
        string prefix = Key("mix");
        var handles = new JoinHandle[20];
        for (int t = 0; t < handles.Length; t++)
        {
            int task = t;
            handles[t] = KyotoTask.Spawn(async () =>
            {
                for (int i = 0; i < 50; i++)
                {
                    string key = $"{prefix}:{task}:{i}";
                    ValueTask<bool> set = redis.SetAsync(key, $"v{task}-{i}");
                    ValueTask<string?> get = redis.GetAsync(key);
                    ValueTask<string> ping = redis.PingAsync();
                    Assert.True(await set);
                    Assert.Equal($"v{task}-{i}", await get);
                    Assert.Equal("PONG", await ping);
                }
            });
        }

        foreach (JoinHandle h in handles)
        {
            await h;
        }
    });

    [Fact]
    public void Timeout_OnABlockedCommand_LeavesTheConnectionInSync() => Run(async redis =>
    {
        string list = Key("blocked");
        string key = Key("after");
        await redis.SetAsync(key, "mine");
        // BLPOP blocks the connection on the server for 1 s, then answers null; the call gives up after 100 ms.
        var e = await Assert.ThrowsAsync<RedisTimeoutException>(async () =>
            await redis.ExecuteAsync(new RedisCommand("BLPOP", list, 1), TimeSpan.FromMilliseconds(100)));
        Assert.Equal(TimeSpan.FromMilliseconds(100), e.Timeout);
        // The next command queues behind BLPOP's late reply, which must be dropped, not handed to it.
        Assert.Equal("mine", await redis.GetAsync(key));
        Assert.Equal("PONG", await redis.PingAsync());
        Assert.True(redis.IsConnected);
    });

    [Fact]
    public void DefaultCommandTimeout_FromOptions() => Run(async redis =>
    {
        await Assert.ThrowsAsync<RedisTimeoutException>(async () => await redis.ExecuteAsync("BLPOP", Key("blocked"), 1));
        // PING waits behind BLPOP's second on the server: give it a longer per-call timeout.
        Assert.Equal("PONG", (await redis.ExecuteAsync(new RedisCommand("PING"), TimeSpan.FromSeconds(10))).AsString());
    }, o => o.CommandTimeout = TimeSpan.FromMilliseconds(150));

    [Fact]
    public void Cancellation_AfterSend_ReplyIsDroppedAndNextCommandGetsItsOwn() => Run(async redis =>
    {
        string list = Key("cancel");
        string key = Key("k");
        await redis.SetAsync(key, "value");
        using var cts = new CancellationTokenSource();
        ValueTask<RespValue> blocked = redis.ExecuteAsync(new RedisCommand("BLPOP", list, 1), cts.Token);
        ValueTask<string?> queued = redis.GetAsync(key); // pipelined behind BLPOP
        cts.CancelAfter(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await blocked);
        Assert.Equal("value", await queued);
        Assert.Equal(1, await redis.IncrAsync(Key("n")));
    });

    [Fact]
    public void Cancellation_BeforeSend_NothingIsSent() => Run(async redis =>
    {
        string key = Key("never");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await redis.ExecuteAsync(new RedisCommand("SET", key, "x"), cts.Token));
        Assert.False(await redis.ExistsAsync(key));
    });

    [Fact]
    public void ManyCancellations_UnderLoad_KeepEveryReplyMatched() => Run(async redis =>
    {
        string prefix = Key("load");
        var handles = new JoinHandle[10];
        for (int t = 0; t < handles.Length; t++)
        {
            int task = t;
            handles[t] = KyotoTask.Spawn(async () =>
            {
                string key = $"{prefix}:{task}";
                for (int i = 0; i < 200; i++)
                {
                    using var cts = new CancellationTokenSource();
                    ValueTask<RespValue> maybe = redis.ExecuteAsync(new RedisCommand("ECHO", $"{task}-{i}"), cts.Token);
                    if (i % 3 == 0)
                    {
                        cts.Cancel();
                    }

                    try
                    {
                        Assert.Equal($"{task}-{i}", (await maybe).AsString());
                    }
                    catch (OperationCanceledException)
                    {
                    }

                    Assert.Equal($"x{i}", (await redis.ExecuteAsync("ECHO", $"x{i}")).AsString());
                }
            });
        }

        foreach (JoinHandle h in handles)
        {
            await h;
        }

        Assert.True(redis.IsConnected);
    });

    [Fact]
    public void Dispose_FailsLaterCalls() => Bounded.OnRuntime(async () =>
    {
        RedisConnection redis = await RedisConnection.ConnectAsync(server.Options());
        Assert.Equal("PONG", await redis.PingAsync());
        await redis.DisposeAsync();
        Assert.False(redis.IsConnected);
        await Assert.ThrowsAsync<RedisConnectionException>(async () => await redis.PingAsync());
    });

    [Fact]
    public void Connect_ToAClosedPort_ThrowsConnectionException() => Bounded.OnRuntime(async () =>
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await Assert.ThrowsAsync<RedisConnectionException>(async () =>
            await RedisConnection.ConnectAsync(new RedisClientOptions { Port = port }));
    });

    [Fact]
    public void WithTimeout_AppliesAPerCallTimeoutToTypedHelpers() => Run(async redis =>
    {
        string list = Key("wt");
        await Assert.ThrowsAsync<RedisTimeoutException>(async () =>
            await redis.ExecuteAsync(new RedisCommand("BLPOP", list, 1), TimeSpan.FromMilliseconds(50)));
        // GET waits behind BLPOP's remaining second: 100 ms is too short, 10 s is plenty.
        var e = await Assert.ThrowsAsync<RedisTimeoutException>(async () => await redis.WithTimeout(TimeSpan.FromMilliseconds(100)).GetAsync(list));
        Assert.Equal(TimeSpan.FromMilliseconds(100), e.Timeout);
        Assert.Null(await redis.WithTimeout(TimeSpan.FromSeconds(10)).GetAsync(list));
    }, o => o.CommandTimeout = TimeSpan.FromMilliseconds(50));

    [Fact]
    public void LargeBulkStrings_RoundTripThroughGrowingBuffers() => Run(async redis =>
    {
        string key = Key("big");
        byte[] value = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(value);
        Assert.True(await redis.SetAsync(key, value));
        Assert.Equal(value, await redis.GetBytesAsync(key));
        RespValue strlen = await redis.ExecuteAsync("STRLEN", key);
        Assert.Equal(value.Length, strlen.AsInteger());
    });

    [Fact]
    public void MultiExec_ErrorsInsideTheArrayAreValuesNotExceptions() => Run(async redis =>
    {
        string text = Key("tx");
        await redis.SetAsync(text, "abc");
        Assert.True((await redis.ExecuteAsync("MULTI")).Is("OK"u8));
        Assert.True((await redis.ExecuteAsync("SET", text + ":2", "v")).Is("QUEUED"u8));
        Assert.True((await redis.ExecuteAsync("INCR", text)).Is("QUEUED"u8));
        RespValue exec = await redis.ExecuteAsync("EXEC");
        RespValue[] results = exec.AsArray()!;
        Assert.Equal(2, results.Length);
        Assert.True(results[0].Is("OK"u8));
        Assert.True(results[1].IsError);
        Assert.StartsWith("ERR", results[1].AsString(), StringComparison.Ordinal);
    });
}
