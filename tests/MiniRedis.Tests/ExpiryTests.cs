using System.Buffers;
using System.Text;
using Kyoto;
using Kyoto.Tasks;
using Kyoto.Time;
using Microsoft.Extensions.Logging.Abstractions;
using MiniRedis.Protocol;
using MiniRedis.Server;

namespace MiniRedis.Tests;

/// <summary>Expiry on Kyoto's paused clock: lazy on access, and purged by the server's timer task.</summary>
public sealed class ExpiryTests
{
    private static string Run(CommandDispatcher dispatcher, params string[] args)
    {
        var replies = new ReplyBuffer();
        dispatcher.Execute(RespCommand.From(args), new ClientSession(1), replies);
        var output = new ArrayBufferWriter<byte>();
        for (int i = 0; i < replies.Count; i++)
        {
            RespEncoder.Write(replies[i], output);
        }
        return Encoding.Latin1.GetString(output.WrittenSpan);
    }

    private static CommandDispatcher NewDispatcher() => new(new Db(), new PubSubHub(16), new ServerInfo());

    [Fact]
    public void SetPx_ExpiresExactlyAtItsDeadline()
    {
        using Runtime rt = new RuntimeBuilder { StartPaused = true, WorkerThreads = 1 }.Build();
        rt.BlockOn(async () =>
        {
            CommandDispatcher d = NewDispatcher();
            Assert.Equal("+OK\r\n", Run(d, "SET", "k", "v", "PX", "1000"));
            Assert.Equal(":1000\r\n", Run(d, "PTTL", "k"));
            Assert.Equal(":1\r\n", Run(d, "TTL", "k"));
            await KyotoTime.AdvanceAsync(TimeSpan.FromMilliseconds(999));
            Assert.Equal("$1\r\nv\r\n", Run(d, "GET", "k"));
            Assert.Equal(":1\r\n", Run(d, "PTTL", "k"));
            await KyotoTime.AdvanceAsync(TimeSpan.FromMilliseconds(1));
            Assert.Equal("$-1\r\n", Run(d, "GET", "k"));
            Assert.Equal(":-2\r\n", Run(d, "TTL", "k"));
            Assert.Equal(":0\r\n", Run(d, "DBSIZE"));
        });
    }

    [Fact]
    public void ExpirePersistAndOverwrite()
    {
        using Runtime rt = new RuntimeBuilder { StartPaused = true, WorkerThreads = 1 }.Build();
        rt.BlockOn(async () =>
        {
            CommandDispatcher d = NewDispatcher();
            Run(d, "SET", "a", "1");
            Assert.Equal(":1\r\n", Run(d, "EXPIRE", "a", "10"));
            Assert.Equal(":10\r\n", Run(d, "TTL", "a"));
            Assert.Equal(":2\r\n", Run(d, "INCR", "a"));           // INCR keeps the deadline
            Assert.Equal(":10\r\n", Run(d, "TTL", "a"));
            Assert.Equal(":1\r\n", Run(d, "PERSIST", "a"));
            Assert.Equal(":-1\r\n", Run(d, "TTL", "a"));
            Run(d, "SET", "b", "1", "EX", "5");
            Run(d, "SET", "b", "2");                                  // SET drops the deadline
            Assert.Equal(":-1\r\n", Run(d, "TTL", "b"));
            Run(d, "SET", "c", "1", "EX", "5");
            Assert.Equal(":0\r\n", Run(d, "EXPIRE", "c", "100", "NX"));
            Assert.Equal(":1\r\n", Run(d, "EXPIRE", "c", "100", "GT"));
            await KyotoTime.AdvanceAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(":3\r\n", Run(d, "EXISTS", "a", "b", "c"));  // a and b persisted, c at 100 s
            Assert.Equal("*3\r\n", Run(d, "KEYS", "*")[..4]);
            await KyotoTime.AdvanceAsync(TimeSpan.FromSeconds(41));
            Assert.Equal(":2\r\n", Run(d, "EXISTS", "a", "b", "c"));
            Assert.Equal(":1\r\n", Run(d, "EXPIRE", "a", "-1"));     // a deadline in the past deletes
            Assert.Equal(":0\r\n", Run(d, "EXISTS", "a"));
        });
    }

    [Fact]
    public void ServerTimerTask_PurgesExpiredKeysWithoutAccess()
    {
        using Runtime rt = new RuntimeBuilder { StartPaused = true, WorkerThreads = 1 }.Build();
        rt.BlockOn(async () =>
        {
            using var stop = new CancellationTokenSource();
            using RedisServer server = RedisServer.Bind(new ServerOptions { Port = 0 }, NullLoggerFactory.Instance);
            JoinHandle run = KyotoTask.Spawn(() => server.RunAsync(stop.Token));
            lock (server.Db.Gate)
            {
                for (int i = 0; i < 2500; i++)
                {
                    byte[] key = Encoding.ASCII.GetBytes("key:" + i);
                    server.Db.Set(key, key);
                    server.Db.SetExpiry(key, TimeSpan.FromSeconds(i % 2 == 0 ? 1 : 1000));
                }
            }
            await KyotoTime.Sleep(TimeSpan.FromSeconds(2));   // the paused clock jumps; the purge interval ticks
            lock (server.Db.Gate)
            {
                Assert.Equal(1250, server.Db.Count);
                Assert.Equal(1250, server.Db.ExpiresCount);
            }
            stop.Cancel();
            await run;
        });
    }
}
