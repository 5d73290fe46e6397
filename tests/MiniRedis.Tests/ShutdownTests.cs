using MiniRedis.Tests.Support;

namespace MiniRedis.Tests;

/// <summary>Graceful shutdown: stop accepting, finish in-flight commands, close; no half-written reply.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task UnderLoad_EveryReplyIsWhole()
    {
        using var server = new ServerFixture();
        int port = server.Port;
        using var started = new CountdownEvent(8);
        long completed = 0;
        // Blocking clients on threads of their own: eight of them on pool threads could wait for the pool to grow
        // (seen under the full suite's load on two cores).
        var clients = Enumerable.Range(0, 8).Select(c => Task.Factory.StartNew(() =>
        {
            using var client = RawClient.Connect(port);
            string value = new('v', 3000 + c);
            string batch = string.Concat(Enumerable.Range(0, 16).Select(i => RawClient.Resp("SET", $"k{c}:{i}", value) + RawClient.Resp("GET", $"k{c}:{i}")));
            bool signalled = false;
            try
            {
                while (true)
                {
                    client.Send(batch);
                    for (int i = 0; i < 16; i++)
                    {
                        Assert.Equal("+OK\r\n", client.ReadReply());
                        string get = client.ReadReply();   // throws EndOfStream if cut in the middle
                        Assert.Equal($"${value.Length}\r\n{value}\r\n", get);
                        Interlocked.Increment(ref completed);
                    }
                    if (!signalled)
                    {
                        signalled = true;
                        started.Signal();
                    }
                }
            }
            catch (EndOfStreamException e) when (e.Message.StartsWith("EOF after 0 of", StringComparison.Ordinal))
            {
                // closed between replies: what a graceful stop must look like
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                // reset while sending the next batch after the server closed: also between replies
                return;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
        server.BeginStop();
        await server.WaitStoppedAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(Interlocked.Read(ref completed) > 0);
        await server.Logs.WaitForAsync(3);
        Assert.DoesNotContain(server.Logs.Entries, e => e.EventId == 4);   // nobody needed aborting

        // It no longer accepts.
        Assert.ThrowsAny<System.Net.Sockets.SocketException>(() => RawClient.Connect(port));
    }

    [Fact]
    public void MaxConnections_RefusesWithRedisError()
    {
        using var server = ServerFixture.Start(new MiniRedis.Server.ServerOptions { MaxConnections = 2 });
        using var a = RawClient.Connect(server.Port);
        using var b = RawClient.Connect(server.Port);
        Assert.Equal("+PONG\r\n", a.Request("PING"));
        Assert.Equal("+PONG\r\n", b.Request("PING"));
        using (var c = RawClient.Connect(server.Port))
        {
            Assert.Equal("-ERR max number of clients reached\r\n", c.ReadExactly(36));
            Assert.True(c.IsClosedByServer(out _));
        }
        a.Dispose();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var d = RawClient.Connect(server.Port);
            d.Send(RawClient.Resp("PING"));
            string reply = d.ReadExactly(7);
            if (reply == "+PONG\r\n")
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "a freed slot was never reused");
            Thread.Yield();
        }
    }
}
