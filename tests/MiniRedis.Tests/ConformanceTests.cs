using MiniRedis.Tests.Support;

namespace MiniRedis.Tests;

/// <summary>Every reply byte for byte as redis-server 7.0.15 gave it (RedisTranscripts).</summary>
public sealed class ConformanceTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _server;

    public ConformanceTests(ServerFixture server) => _server = server;

    [Fact]
    public void Commands_ReplyLikeRedis() => Replay(RedisTranscripts.Commands);

    [Fact]
    public void RawRequests_ReplyLikeRedis() => Replay(RedisTranscripts.Raw);

    private void Replay((string Name, string Request, string Reply)[] transcript)
    {
        using (var setup = RawClient.Connect(_server.Port))
        {
            Assert.Equal("+OK\r\n", setup.Request("FLUSHALL"));
        }
        foreach ((string name, string request, string reply) in transcript)
        {
            using var client = RawClient.Connect(_server.Port);
            client.Send(request);
            bool closes = reply.EndsWith("<EOF>", StringComparison.Ordinal);
            string expected = closes ? reply[..^5] : reply;
            if (expected.Length == 0)
            {
                Assert.True(client.IsSilentFor(200), $"{name}: expected no reply");
                continue;
            }
            string actual = client.ReadExactly(expected.Length);
            Assert.True(expected == actual, $"{name}: expected {Show(expected)} got {Show(actual)}");
            if (closes)
            {
                Assert.True(client.IsClosedByServer(out string extra), $"{name}: expected the server to close");
                Assert.Equal("", extra);
            }
        }
    }

    private static string Show(string s) => s.Replace("\r", "\\r").Replace("\n", "\\n");
}
