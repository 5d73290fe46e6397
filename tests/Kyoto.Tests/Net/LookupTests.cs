using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>KyotoDns: literals without a lookup, names through the system resolver, bad input and bad names.</summary>
public abstract class LookupTests : RuntimeTestBase
{
    public sealed class MultiThread : LookupTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : LookupTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void Localhost_ResolvesToLoopback_AndResumesOnTheRuntime()
    {
        using var rt = NewRuntime();
        (IPEndPoint[] endPoints, bool onRuntime) = rt.BlockOnBounded(async () =>
        {
            IPEndPoint[] found = await KyotoDns.LookupHostAsync("localhost", 8080);
            return (found, KyotoTask.CurrentId is not null);
        });
        Assert.True(onRuntime);
        Assert.NotEmpty(endPoints);
        Assert.All(endPoints, e =>
        {
            Assert.True(IPAddress.IsLoopback(e.Address), $"{e.Address} is not loopback");
            Assert.Equal(8080, e.Port);
        });
    }

    [Fact]
    public void Literals_AreParsedWithoutALookup()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            ValueTask<IPEndPoint[]> v4 = KyotoDns.LookupHostAsync("127.0.0.1", 80);
            Assert.True(v4.IsCompletedSuccessfully);
            Assert.Equal([new IPEndPoint(IPAddress.Loopback, 80)], await v4);
            Assert.Equal([new IPEndPoint(IPAddress.IPv6Loopback, 443)], await KyotoDns.LookupHostAsync("[::1]:443"));
            Assert.Equal([new IPEndPoint(IPAddress.IPv6Loopback, 1)], await KyotoDns.LookupHostAsync("::1", 1));
            Assert.Equal([new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5353)], await KyotoDns.LookupHostAsync("10.1.2.3:5353"));
        });
    }

    [Fact]
    public void HostAndPort_ResolvesTheName()
    {
        using var rt = NewRuntime();
        IPEndPoint[] endPoints = rt.BlockOnBounded(async () => await KyotoDns.LookupHostAsync("localhost:7"));
        Assert.NotEmpty(endPoints);
        Assert.All(endPoints, e => Assert.Equal(7, e.Port));
    }

    [Fact]
    public void BadInput_ThrowsArgumentExceptions()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            await Assert.ThrowsAsync<ArgumentException>(async () => await KyotoDns.LookupHostAsync("localhost"));
            await Assert.ThrowsAsync<ArgumentException>(async () => await KyotoDns.LookupHostAsync("::1"));
            await Assert.ThrowsAsync<ArgumentException>(async () => await KyotoDns.LookupHostAsync("host:99999"));
            await Assert.ThrowsAsync<ArgumentException>(async () => await KyotoDns.LookupHostAsync(":80"));
            await Assert.ThrowsAsync<ArgumentException>(async () => await KyotoDns.LookupHostAsync("", 80));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await KyotoDns.LookupHostAsync("localhost", 65536));
        });
    }

    [Fact]
    public void UnknownHost_ThrowsSocketException()
    {
        using var rt = NewRuntime();
        SocketError error = rt.BlockOnBounded(async () =>
        {
            var e = await Assert.ThrowsAsync<SocketException>(async () => await KyotoDns.LookupHostAsync("no-such-host.invalid", 80));
            return e.SocketErrorCode;
        });
        Assert.True(error is SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData, $"unexpected {error}");
    }

    [Fact]
    public void Cancelled_BeforeTheLookup_ThrowsOperationCanceled()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await KyotoDns.LookupHostAsync("localhost", 80, cts.Token));
        });
    }
}
