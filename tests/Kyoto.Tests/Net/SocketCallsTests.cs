using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kyoto.Net;

namespace Kyoto.Tests.Net;

/// <summary>The direct recv/send path of stream sockets: its errors read as .NET's own.</summary>
public sealed class SocketCallsTests
{
    public static TheoryData<int> OneToOneErrnos() => new()
    {
        4, 13, 14, 22, 32, 88, 89, 90, 91, 92, 93, 95, 97, 98, 99, 100, 101, 102, 103, 104, 106, 107, 110, 111, 112, 113, 114, 115,
    };

    [Theory]
    [MemberData(nameof(OneToOneErrnos))]
    public void ToSocketError_MatchesDotNetsOwnMapping(int errno)
    {
        // .NET builds a SocketException's message from the errno its SocketError maps back to: the round trip
        // through Kyoto's table must land on the same errno, so the same error reads the same either way.
        SocketError mapped = SocketCalls.ToSocketError(errno);
        Assert.NotEqual(SocketError.SocketError, mapped);
        Assert.Equal(Marshal.GetPInvokeErrorMessage(errno), new SocketException((int)mapped).Message);
    }

    [Fact]
    public void ToSocketError_WouldBlockAndUnknown()
    {
        Assert.Equal(SocketError.WouldBlock, SocketCalls.ToSocketError(11));
        Assert.Equal(SocketError.SocketError, SocketCalls.ToSocketError(4095));
    }

    [Fact]
    public void IsDirect_OnlyForFlagsWithTheSameLinuxValues()
    {
        Assert.True(SocketCalls.IsDirect(SocketFlags.None));
        Assert.True(SocketCalls.IsDirect(SocketFlags.Peek));
        Assert.True(SocketCalls.IsDirect(SocketFlags.OutOfBand | SocketFlags.DontRoute));
        Assert.False(SocketCalls.IsDirect(SocketFlags.Partial));
        Assert.False(SocketCalls.IsDirect(SocketFlags.Truncated));
    }

    [Fact]
    public void ReceiveAndSend_OnAClosedHandle_ThrowObjectDisposed()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        SafeSocketHandle handle = client.SafeHandle;
        int fd = (int)handle.DangerousGetHandle();
        client.Dispose();
        Assert.Throws<ObjectDisposedException>(() => SocketCalls.Receive(handle, fd, new byte[4], SocketFlags.None, out _));
        Assert.Throws<ObjectDisposedException>(() => SocketCalls.Send(handle, fd, new byte[4], SocketFlags.None, out _));
    }

    [Fact]
    public void ReceiveAndSend_MoveBytesAndReportWouldBlock()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using Socket server = listener.Accept();
        server.Blocking = false;
        int fd = (int)server.SafeHandle.DangerousGetHandle();

        int n = SocketCalls.Receive(server.SafeHandle, fd, new byte[8], SocketFlags.None, out SocketError error);
        Assert.Equal((0, SocketError.WouldBlock), (n, error));

        client.Send("hello"u8);
        var buffer = new byte[8];
        Assert.True(server.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead));
        n = SocketCalls.Receive(server.SafeHandle, fd, buffer, SocketFlags.Peek, out error);
        Assert.Equal((5, SocketError.Success), (n, error));
        n = SocketCalls.Receive(server.SafeHandle, fd, buffer, SocketFlags.None, out error);
        Assert.Equal((5, SocketError.Success), (n, error));
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);

        n = SocketCalls.Send(server.SafeHandle, fd, "world"u8, SocketFlags.None, out error);
        Assert.Equal((5, SocketError.Success), (n, error));
        var back = new byte[5];
        Assert.Equal(5, client.Receive(back));
        Assert.Equal("world"u8.ToArray(), back);
    }
}
