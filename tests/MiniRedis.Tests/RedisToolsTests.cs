using MiniRedis.Tests.Support;

namespace MiniRedis.Tests;

/// <summary>The real redis-cli and redis-benchmark against MiniRedis (expected output recorded from redis-server 7.0).</summary>
public sealed class RedisToolsTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _server;

    public RedisToolsTests(ServerFixture server) => _server = server;

    [Fact]
    public void RedisCli_PrintsWhatItPrintsForRedis()
    {
        int p = _server.Port;
        Assert.Equal("OK\n", Tools.Cli(p, "FLUSHALL"));
        Assert.Equal("OK\n", Tools.Cli(p, "SET", "k", "v"));
        Assert.Equal("\"v\"\n", Tools.Cli(p, "GET", "k"));
        Assert.Equal("(nil)\n", Tools.Cli(p, "GET", "nokey"));
        Assert.Equal("(integer) 1\n", Tools.Cli(p, "INCR", "n"));
        Assert.Equal("(integer) 3\n", Tools.Cli(p, "RPUSH", "l", "a", "b", "c"));
        Assert.Equal("1) \"a\"\n2) \"b\"\n3) \"c\"\n", Tools.Cli(p, "LRANGE", "l", "0", "-1"));
        Assert.Equal("(empty array)\n", Tools.Cli(p, "LRANGE", "nol", "0", "-1"));
        Assert.Equal("(error) WRONGTYPE Operation against a key holding the wrong kind of value\n", Tools.Cli(p, "LPUSH", "k", "x"));
        Assert.Equal("(error) ERR unknown command 'FOO', with args beginning with: 'bar' \n", Tools.Cli(p, "FOO", "bar"));
        Assert.Equal("1) \"v\"\n2) (nil)\n", Tools.Cli(p, "MGET", "k", "nokey"));
        Assert.Equal("(integer) -1\n", Tools.Cli(p, "TTL", "k"));
        Assert.Equal("\"a b\"\n", Tools.Cli(p, "ECHO", "a b"));
        Assert.Equal("(integer) 3\n", Tools.Cli(p, "DEL", "k", "n", "l"));
    }

    [Fact]
    public void RedisCli_InteractiveSession_StartsWithoutWarnings()
    {
        (int code, string output, string error) = Tools.Run("redis-cli", $"-p {_server.Port}", stdin: "PING\nSET a 1\nGET a\nHELLO 3\n");
        Assert.Equal(0, code);
        Assert.StartsWith("PONG\nOK\n1\nNOPROTO unsupported protocol version\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Warning", error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void RedisBenchmark_AllTestsComplete()
    {
        (int code, string output, string error) = Tools.Run(
            "redis-benchmark", $"-p {_server.Port} -t ping,set,get,incr,lpush,lpop -n 20000 -q");
        Assert.True(code == 0, error);
        string[] lines = output.Split('\n', '\r').Where(l => l.Contains("requests per second", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "LPOP"], lines.Select(l => l[..l.IndexOf(':')]).ToArray());
        Assert.DoesNotContain("WARN", output + error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("ERR", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public void RedisBenchmark_Pipelined_AllTestsComplete()
    {
        (int code, string output, string error) = Tools.Run(
            "redis-benchmark", $"-p {_server.Port} -t set,get -n 20000 -P 16 -q");
        Assert.True(code == 0, error);
        Assert.Equal(2, output.Split('\n', '\r').Count(l => l.Contains("requests per second", StringComparison.Ordinal)));
        Assert.DoesNotContain("WARN", output + error, StringComparison.OrdinalIgnoreCase);
    }
}
