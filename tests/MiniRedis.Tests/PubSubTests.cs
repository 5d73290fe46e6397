using MiniRedis.Server;
using MiniRedis.Tests.Support;

namespace MiniRedis.Tests;

public sealed class PubSubTests : IDisposable
{
    private readonly ServerFixture _server = ServerFixture.Start(new ServerOptions { PubSubCapacity = 16 });

    public void Dispose() => _server.Dispose();

    [Fact]
    public void Messages_ArriveInOrder_AfterTheConfirmation()
    {
        using var subscriber = RawClient.Connect(_server.Port);
        subscriber.Send(RawClient.Resp("SUBSCRIBE", "news") + RawClient.Resp("PSUBSCRIBE", "n*"));
        Assert.Equal("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n", subscriber.ReadReply());
        Assert.Equal("*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n", subscriber.ReadReply());
        using var publisher = RawClient.Connect(_server.Port);
        Assert.Equal(":2\r\n", publisher.Request("PUBLISH", "news", "hello"));
        Assert.Equal(":0\r\n", publisher.Request("PUBLISH", "other", "x"));
        var replies = new[] { subscriber.ReadReply(), subscriber.ReadReply() }.Order().ToArray();
        Assert.Equal(
            ["*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n", "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n"],
            replies);
        subscriber.Send(RawClient.Resp("UNSUBSCRIBE") + RawClient.Resp("PUNSUBSCRIBE") + RawClient.Resp("PING"));
        Assert.Equal("*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n", subscriber.ReadReply());
        Assert.Equal("*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n", subscriber.ReadReply());
        Assert.Equal("+PONG\r\n", subscriber.ReadReply());
        Assert.Equal(":0\r\n", publisher.Request("PUBLISH", "news", "after"));
    }

    [Fact]
    public async Task LaggingSubscriber_IsToldAndDisconnected()
    {
        using var subscriber = RawClient.Connect(_server.Port);
        Assert.Equal("*3\r\n$9\r\nsubscribe\r\n$4\r\nfast\r\n:1\r\n", subscriber.Request("SUBSCRIBE", "fast"));
        using var publisher = RawClient.Connect(_server.Port);
        // 20,000 messages in one pipelined burst: the ring keeps 16, so the forwarder falls behind.
        string burst = string.Concat(Enumerable.Repeat(RawClient.Resp("PUBLISH", "fast", new string('m', 100)), 20_000));
        // The subscriber reads nothing until every message is published: its socket fills, so its forwarder
        // cannot keep up and must lag (no timing involved).
        var send = Task.Run(() => publisher.Send(burst));
        // Each PUBLISH answers :1 until the subscriber is dropped, then :0.
        string counts;
        try
        {
            counts = publisher.ReadExactly(4 * 20_000);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(string.Join("\n", _server.Logs.Entries.Select(l => $"{l.EventId} {l.Message}")), e);
        }
        Assert.Matches("^(:1\r\n)*(:0\r\n)*$", counts);
        string lastReply;
        do
        {
            lastReply = subscriber.ReadReply();
        }
        while (lastReply.StartsWith("*3\r\n$7\r\nmessage", StringComparison.Ordinal));
        Assert.StartsWith("-ERR MiniRedis: this subscriber fell behind and ", lastReply, StringComparison.Ordinal);
        Assert.True(subscriber.IsClosedByServer(out _));
        await _server.Logs.WaitForAsync(23);
        await send.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
