using System.Net;
using Kyoto.Net;
using Kyoto.Time;

namespace Kyoto.Tests.Net;

/// <summary>A runtime built without the I/O driver runs tasks and timers, and refuses sockets with a clear error.</summary>
public sealed class IoDisabledTests
{
    [Fact]
    public void WithoutIo_SocketsThrowInvalidOperation_AndTimersStillWork()
    {
        using Runtime rt = new RuntimeBuilder { EnableIo = false, WorkerThreads = 1 }.Build();
        string message = rt.BlockOnBounded(async () =>
        {
            await KyotoTime.Sleep(TimeSpan.FromMilliseconds(1));
            var e = Assert.Throws<InvalidOperationException>(() => TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0)));
            return e.Message;
        });
        Assert.Contains("EnableIo", message);
    }

    [Fact]
    public void WithIo_OnLinux_BuildsTheDriver()
    {
        Assert.True(OperatingSystem.IsLinux(), "these tests run on Linux, where the I/O driver exists");
        using Runtime rt = new RuntimeBuilder { WorkerThreads = 1 }.Build();
        rt.BlockOnBounded(async () =>
        {
            using var acceptor = TcpAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Assert.NotEqual(0, acceptor.LocalEndPoint.Port);
            await Task.CompletedTask;
        });
    }
}
