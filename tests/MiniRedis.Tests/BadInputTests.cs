using MiniRedis.Server;
using MiniRedis.Tests.Support;

namespace MiniRedis.Tests;

/// <summary>Bad clients get a Redis-style error or a disconnect and a log line; the server and other clients go on.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly ServerFixture _server = ServerFixture.Start(new ServerOptions { ClientWriteTimeout = TimeSpan.FromMilliseconds(500) });

    public void Dispose() => _server.Dispose();

    private void AssertServerStillServes()
    {
        using var other = RawClient.Connect(_server.Port);
        Assert.Equal("+PONG\r\n", other.Request("PING"));
    }

    [Theory]
    [InlineData("*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n")]
    [InlineData("*1\r\n$1099511627776\r\n", "-ERR Protocol error: invalid bulk length\r\n")]
    [InlineData("SET \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n#garbage\r\n", "-ERR Protocol error: expected '$', got '#'\r\n")]
    public void Garbage_ProtocolErrorThenClose(string input, string reply)
    {
        using var client = RawClient.Connect(_server.Port);
        client.Send(RawClient.Resp("PING") + input);
        Assert.Equal("+PONG\r\n" + reply, client.ReadExactly(7 + reply.Length));
        Assert.True(client.IsClosedByServer(out string extra));
        Assert.Equal("", extra);
        _server.Logs.WaitForAsync(20, m => m.Contains("Protocol error", StringComparison.Ordinal)).GetAwaiter().GetResult();
        AssertServerStillServes();
    }

    [Theory]
    [InlineData("GET\u00ff")]
    [InlineData("DEL\u00c3\u00a9xx")]
    public void CommandNameWithNonAsciiBytes_IsUnknown_NotThePartBeforeThem(string name)
    {
        // The case folding stopped at the first byte outside ASCII, and the part before it was looked up:
        // "GET\xff k" answered GET k, and "DEL\xc3\xa9xx k" deleted k.
        using var client = RawClient.Connect(_server.Port);
        Assert.Equal("+OK\r\n", client.Request("SET", "k", "v"));
        client.Send(RawClient.Resp(name, "k"));
        Assert.StartsWith("-ERR unknown command '", client.ReadReply());
        Assert.Equal("$1\r\nv\r\n", client.Request("GET", "k"));
    }

    [Fact]
    public void RandomBytes_NeverTakeTheServerDown()
    {
        var random = new Random(42);
        for (int round = 0; round < 20; round++)
        {
            byte[] junk = new byte[random.Next(1, 4096)];
            random.NextBytes(junk);
            using var client = RawClient.Connect(_server.Port);
            client.Send(junk);
            client.ShutdownSend();
            client.IsClosedByServer(out _);
        }
        AssertServerStillServes();
    }

    [Fact]
    public void TenThousandNestedArrays_RefusedAndClosed()
    {
        using var client = RawClient.Connect(_server.Port);
        client.Send(string.Concat(Enumerable.Repeat("*1\r\n", 10_000)));
        const string Expected = "-ERR Protocol error: expected '$', got '*'\r\n";
        Assert.Equal(Expected, client.ReadExactly(Expected.Length));
        Assert.True(client.IsClosedByServer(out _));
        AssertServerStillServes();
    }

    [Fact]
    public async Task TruncatedFrameThenDisconnect_IsLogged()
    {
        using (var client = RawClient.Connect(_server.Port))
        {
            client.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc");
            client.ShutdownSend();
            Assert.True(client.IsClosedByServer(out string extra));
            Assert.Equal("", extra);
        }
        await _server.Logs.WaitForAsync(21);
        AssertServerStillServes();
    }

    [Fact]
    public async Task ClientThatNeverReads_IsDisconnectedWithALogLine()
    {
        using var client = RawClient.Connect(_server.Port);
        client.Socket.ReceiveBufferSize = 4096;
        // Big replies, never read: the server's output fills the socket, stays bounded, and times out.
        client.Request("SET", "big", new string('x', 1 << 20));
        string request = RawClient.Resp("GET", "big");
        var sender = Task.Run(() =>
        {
            try
            {
                for (int i = 0; i < 200; i++)
                {
                    client.Send(request);
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                // the server gave up on us
            }
        });
        await _server.Logs.WaitForAsync(22, timeoutMs: 20_000);
        AssertServerStillServes();
        client.Socket.Close();
        await sender.WaitAsync(TimeSpan.FromSeconds(20));
    }
}
