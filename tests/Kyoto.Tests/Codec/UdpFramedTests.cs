using System.Buffers;
using System.Net;
using Kyoto.Codec;
using Kyoto.Net;
using static Kyoto.Tests.Codec.CodecIo;

namespace Kyoto.Tests.Codec;

/// <summary>UdpFramed on loopback: frames with the sender's address, several frames per datagram, a truncated frame drops only its datagram.</summary>
public abstract class UdpFramedTests : RuntimeTestBase
{
    public sealed class MultiThread : UdpFramedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : UdpFramedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    [Fact]
    public void Lines_SendAndReceive_WithTheSendersAddress()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using UdpSocket a = UdpSocket.Bind(IPAddress.Loopback, 0);
            using UdpSocket b = UdpSocket.Bind(IPAddress.Loopback, 0);
            await using var fa = new UdpFramed<string>(a, new LinesCodec(), new LinesCodec());
            await using var fb = new UdpFramed<string>(b, new LinesCodec(), new LinesCodec());

            await fa.SendAsync("ping", b.LocalEndPoint);
            (string frame, IPEndPoint from) = await fb.ReceiveAsync();
            Assert.Equal("ping", frame);
            Assert.Equal(a.LocalEndPoint, from);

            await fb.SendAsync("pong", from);
            (frame, from) = await fa.ReceiveAsync();
            Assert.Equal("pong", frame);
            Assert.Equal(b.LocalEndPoint, from);

            // One datagram holding three lines (the last without its newline): three frames from one sender.
            await a.SendToAsync(Bytes("x\ny\nz"), b.LocalEndPoint);
            Assert.Equal("x", (await fb.ReceiveAsync()).Frame);
            Assert.Equal("y", (await fb.ReceiveAsync()).Frame);
            Assert.Equal(("z", a.LocalEndPoint), await fb.ReceiveAsync());
        });
    }

    [Fact]
    public void LengthDelimited_TruncatedFrameInADatagram_Throws_AndTheNextDatagramDecodes()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using UdpSocket a = UdpSocket.Bind(IPAddress.Loopback, 0);
            using UdpSocket b = UdpSocket.Bind(IPAddress.Loopback, 0);
            var codec = new LengthDelimitedCodec();
            await using var fa = new UdpFramed<ReadOnlySequence<byte>>(a, codec, codec);
            await using var fb = new UdpFramed<ReadOnlySequence<byte>>(b, codec, codec);

            await a.SendToAsync(new byte[] { 0, 0, 0, 1, 7, 0, 0, 0, 9, 1 }, b.LocalEndPoint);
            await fa.SendAsync(new ReadOnlySequence<byte>(Bytes("fine")), b.LocalEndPoint);
            Assert.Equal([7], (await fb.ReceiveAsync()).Frame.ToArray());
            await Assert.ThrowsAsync<TruncatedFrameException>(async () => await fb.ReceiveAsync());
            Assert.Equal(Bytes("fine"), (await fb.ReceiveAsync()).Frame.ToArray());
        });
    }
    [Fact]
    public void Lines_OverLongLineInADatagram_Throws_AndTheNextDatagramLosesNoLine()
    {
        using Runtime rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using UdpSocket a = UdpSocket.Bind(IPAddress.Loopback, 0);
            using UdpSocket b = UdpSocket.Bind(IPAddress.Loopback, 0);
            await using var fb = new UdpFramed<string>(b, new LinesCodec(maxLength: 8), new LinesCodec(maxLength: 8));

            await a.SendToAsync(Bytes("this line is far too long"), b.LocalEndPoint);
            await a.SendToAsync(Bytes("first\nsecond\n"), b.LocalEndPoint);
            await a.SendToAsync(Bytes("third\n"), b.LocalEndPoint);
            await Assert.ThrowsAsync<LineTooLongException>(async () => await fb.ReceiveAsync());

            // The refused line ended with its datagram: "first" was once discarded as the rest of it.
            Assert.Equal("first", (await fb.ReceiveAsync()).Frame);
            Assert.Equal("second", (await fb.ReceiveAsync()).Frame);
            Assert.Equal("third", (await fb.ReceiveAsync()).Frame);
        });
    }
}
