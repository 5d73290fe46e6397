using Kyoto.Tasks;

namespace MiniRedis.Client.Tests;

public sealed class RedisPoolTests(RedisServerFixture server) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public void Pool_UnderConcurrency_SpreadsOverItsConnectionsAndKeepsRepliesMatched() => Bounded.OnRuntime(async () =>
    {
        await using var pool = new RedisPool(server.Options(o =>
        {
            o.PoolSize = 3;
            o.MaxInFlight = 64; // fewer permits than concurrent callers: some wait for one
        }));
        string prefix = $"pool:{Guid.NewGuid():N}";
        var handles = new JoinHandle[40];
        for (int t = 0; t < handles.Length; t++)
        {
            int task = t;
            handles[t] = KyotoTask.Spawn(async () =>
            {
                string key = $"{prefix}:{task}";
                var pending = new ValueTask<long>[25];
                for (int i = 0; i < pending.Length; i++)
                {
                    pending[i] = pool.IncrAsync(key);
                }

                // Calls in flight at once may land on different connections, so they may run in any order
                // (unlike on one connection); each still gets its own reply: together exactly 1..25.
                var values = new long[pending.Length];
                for (int i = 0; i < pending.Length; i++)
                {
                    values[i] = await pending[i];
                }

                Array.Sort(values);
                Assert.Equal(Enumerable.Range(1, pending.Length).Select(i => (long)i), values);

                Assert.True(await pool.SetAsync($"{key}:s", $"v{task}"));
                Assert.Equal($"v{task}", await pool.GetAsync($"{key}:s"));
            });
        }

        foreach (JoinHandle h in handles)
        {
            await h;
        }

        Assert.Equal(3, pool.ConnectedCount);
        Assert.Equal(3, pool.ConnectionsOpened);
    });

    [Fact]
    public void Pool_Dispose_RefusesLaterCalls() => Bounded.OnRuntime(async () =>
    {
        var pool = new RedisPool(server.Options());
        Assert.Equal("PONG", await pool.PingAsync());
        await pool.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.PingAsync());
    });
}
