using System.Net;
using System.Net.Sockets;
using Kyoto.Net;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Tests.Net;

/// <summary>UDP over loopback on the runtime's reactor: datagrams, peers, options, cancellation, disposal.</summary>
public abstract class UdpSocketTests : RuntimeTestBase
{
    public sealed class MultiThread : UdpSocketTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : UdpSocketTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    private static IoReactor Reactor => RuntimeHandle.Current.Scheduler.Time.Reactor!;

    [Fact]
    public void SendToAndReceiveFrom_RoundTrip_ReportsTheSender()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            var buffer = new byte[64];
            ValueTask<UdpReceiveFromResult> pending = b.ReceiveFromAsync(buffer);
            Assert.Equal(5, await a.SendToAsync("hello"u8.ToArray(), b.LocalEndPoint));
            UdpReceiveFromResult got = await pending;
            Assert.Equal(5, got.Count);
            Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(buffer, 0, got.Count));
            Assert.Equal(a.LocalEndPoint, got.RemoteEndPoint);

            // Reply to the sender; a second datagram from the same sender reuses the cached endpoint.
            await b.SendToAsync("back"u8.ToArray(), got.RemoteEndPoint);
            UdpReceiveFromResult reply = await a.ReceiveFromAsync(buffer);
            Assert.Equal(4, reply.Count);
            Assert.Equal(b.LocalEndPoint, reply.RemoteEndPoint);
            await a.SendToAsync("again"u8.ToArray(), b.LocalEndPoint);
            UdpReceiveFromResult again = await b.ReceiveFromAsync(buffer);
            Assert.Same(got.RemoteEndPoint, again.RemoteEndPoint);
        });
    }

    [Fact]
    public void ReceiveFrom_WaitingForEachDatagram_ThrowsNoWouldBlockException()
    {
        // .NET's ReceiveFrom reports "nothing queued" by throwing: a receive that waits (each one here) must find
        // that out without the throw-and-catch, and a send with an address likewise.
        const int Datagrams = 40;
        using var rt = NewRuntime();
        using var thrown = new WouldBlockExceptions(rt);
        int received = rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            var buffer = new byte[16];
            int count = 0;
            for (int i = 0; i < Datagrams; i++)
            {
                ValueTask<UdpReceiveFromResult> pending = b.ReceiveFromAsync(buffer);
                Assert.Equal(1, await a.SendToAsync(new[] { (byte)i }, b.LocalEndPoint));
                UdpReceiveFromResult got = await pending;
                Assert.Equal((1, (byte)i), (got.Count, buffer[0]));
                Assert.Equal(a.LocalEndPoint, got.RemoteEndPoint);
                count++;
            }

            return count;
        });
        Assert.Equal(Datagrams, received);
        Assert.Equal(0, thrown.Count);
    }

    [Fact]
    public void ReceiveFrom_SecondWhileOneWaits_IsRefusedAndTheFirstGetsItsDatagramAndSender()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            var first = new byte[16];
            var second = new byte[16];
            ValueTask<UdpReceiveFromResult> waiting = b.ReceiveFromAsync(first);
            Assert.False(waiting.IsCompleted);

            // One wait per direction (as a TCP stream's reads): the second receive cannot wait beside the first.
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await b.ReceiveFromAsync(second));

            await a.SendToAsync(new byte[] { 7, 8, 9 }, b.LocalEndPoint);
            UdpReceiveFromResult got = await waiting;
            Assert.Equal((3, (byte)7, a.LocalEndPoint), (got.Count, first[0], got.RemoteEndPoint));

            // Both receive paths are free again: a datagram already queued is taken at once, with its sender.
            await a.SendToAsync(new byte[] { 1 }, b.LocalEndPoint);
            UdpReceiveFromResult next = await b.ReceiveFromAsync(second);
            Assert.Equal((1, (byte)1, a.LocalEndPoint), (next.Count, second[0], next.RemoteEndPoint));
        });
    }

    [Fact]
    public void ReceiveIntoAnEmptyBuffer_WaitsForADatagramAndTakesIt()
    {
        // Returning 0 at once (as for a stream) told the caller an empty datagram had come when none had.
        using var rt = NewRuntime();
        (bool waited, int n, bool leftOver) = rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            using var b = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            b.Connect(a.LocalEndPoint);
            a.Connect(b.LocalEndPoint);
            ValueTask<int> receive = b.ReceiveAsync(Memory<byte>.Empty);
            bool pending = !receive.IsCompleted;
            await a.SendAsync(new byte[] { 1, 2, 3 });
            int got = await receive;
            return (pending, got, b.TryReceive(new byte[8], out _));
        });
        Assert.True(waited, "an empty receive completed with no datagram queued");
        Assert.Equal(0, n); // truncated to the buffer
        Assert.False(leftOver, "the datagram was not taken");
    }

    [Fact]
    public void IPv6Loopback_SendToAndReceiveFrom()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            UdpSocket a;
            try
            {
                a = UdpSocket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported)
            {
                return; // no IPv6 on this host
            }

            using (a)
            using (var b = UdpSocket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0)))
            {
                await a.SendToAsync(new byte[] { 1, 2 }, b.LocalEndPoint);
                UdpReceiveFromResult got = await b.ReceiveFromAsync(new byte[8]);
                Assert.Equal(2, got.Count);
                Assert.Equal(a.LocalEndPoint, got.RemoteEndPoint);
                Assert.Throws<ArgumentException>(() => b.JoinMulticastGroup(IPAddress.Parse("239.1.1.1"), IPAddress.Any));
            }
        });
    }

    [Fact]
    public void ManyDatagrams_AllArriveInOrderOnLoopback()
    {
        // UDP drops what overflows the receive buffer: the sender sends a window of 32, then waits for an ack.
        const int Count = 2_048;
        const int Window = 32;
        using var rt = NewRuntime();
        int received = rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            JoinHandle<int> receiver = KyotoTask.Spawn(async () =>
            {
                var buffer = new byte[8];
                for (int i = 0; i < Count; i++)
                {
                    UdpReceiveFromResult got = await b.ReceiveFromAsync(buffer);
                    Assert.Equal(4, got.Count);
                    Assert.Equal(i, BitConverter.ToInt32(buffer));
                    if (i % Window == Window - 1)
                    {
                        await b.SendToAsync(new byte[1], got.RemoteEndPoint);
                    }
                }

                return Count;
            });
            var ack = new byte[1];
            for (int i = 0; i < Count; i++)
            {
                await a.SendToAsync(BitConverter.GetBytes(i), b.LocalEndPoint);
                if (i % Window == Window - 1)
                {
                    await a.ReceiveFromAsync(ack);
                }
            }

            return await receiver;
        });
        Assert.Equal(Count, received);
    }

    [Fact]
    public void Connected_SendAndReceive_AndOtherSendersAreFiltered()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            using var stranger = UdpSocket.Bind(AnyLoopback);
            Assert.Null(a.RemoteEndPoint);
            await a.ConnectAsync(b.LocalEndPoint);
            b.Connect(a.LocalEndPoint);
            Assert.Equal(b.LocalEndPoint, a.RemoteEndPoint);
            await stranger.SendToAsync(new byte[] { 9 }, a.LocalEndPoint); // dropped: a is connected to b
            Assert.Equal(3, await b.SendAsync(new byte[] { 1, 2, 3 }));
            var buffer = new byte[16];
            Assert.Equal(3, await a.ReceiveAsync(buffer));
            Assert.Equal(new byte[] { 1, 2, 3 }, buffer[..3]);
            Assert.Equal(2, await a.SendAsync(new byte[] { 4, 5 }));
            Assert.Equal(2, await b.ReceiveAsync(buffer));
        });
    }

    [Fact]
    public void Peek_LeavesTheDatagramForTheNextReceive()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            await a.SendToAsync("abcdef"u8.ToArray(), b.LocalEndPoint);
            var small = new byte[3];
            UdpReceiveFromResult peeked = await b.PeekFromAsync(small);
            Assert.Equal(3, peeked.Count);
            Assert.Equal(a.LocalEndPoint, peeked.RemoteEndPoint);
            Assert.Equal("abc"u8.ToArray(), small);
            var whole = new byte[16];
            b.Connect(a.LocalEndPoint);
            Assert.Equal(6, await b.PeekAsync(whole));
            UdpReceiveFromResult got = await b.ReceiveFromAsync(whole);
            Assert.Equal(6, got.Count);
            Assert.False(b.TryReceive(whole, out _));
        });
    }

    [Fact]
    public void Receive_BufferTooSmall_TruncatesAndDropsTheRest()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            await a.SendToAsync(new byte[100], b.LocalEndPoint);
            await a.SendToAsync(new byte[] { 7 }, b.LocalEndPoint);
            Assert.Equal(10, (await b.ReceiveFromAsync(new byte[10])).Count);
            var next = new byte[100];
            Assert.Equal(1, (await b.ReceiveFromAsync(next)).Count); // the rest of the first datagram is gone
            Assert.Equal(7, next[0]);
        });
    }

    [Fact]
    public void TryReceiveAndTrySend_NeverWait()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            var buffer = new byte[8];
            Assert.False(b.TryReceiveFrom(buffer, out _));
            Assert.True(a.TrySendTo(new byte[] { 1, 2 }, b.LocalEndPoint, out int sent));
            Assert.Equal(2, sent);
            UdpReceiveFromResult got = await b.PeekFromAsync(buffer); // waits for it to arrive
            Assert.True(b.TryReceiveFrom(buffer, out UdpReceiveFromResult taken));
            Assert.Equal(got, taken);
            a.Connect(b.LocalEndPoint);
            b.Connect(a.LocalEndPoint);
            Assert.True(a.TrySend(new byte[] { 3 }, out sent));
            Assert.Equal(1, await b.PeekAsync(buffer));
            Assert.True(b.TryReceive(buffer, out int n));
            Assert.Equal(1, n);
            Assert.Equal(3, buffer[0]);
        });
    }

    [Fact]
    public void Options_BroadcastTtlAndMulticastLoopback_RoundTrip()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var s = UdpSocket.Bind(new IPEndPoint(IPAddress.Any, 0));
            Assert.False(s.Broadcast);
            s.Broadcast = true;
            Assert.True(s.Broadcast);
            s.Ttl = 17;
            Assert.Equal(17, s.Ttl);
            Assert.True(s.MulticastLoopback);
            s.MulticastLoopback = false;
            Assert.False(s.MulticastLoopback);
            s.MulticastTtl = 3;
            Assert.Equal(3, s.MulticastTtl);
            Assert.Throws<ArgumentOutOfRangeException>(() => s.Ttl = 256);
            Assert.Throws<ArgumentOutOfRangeException>(() => s.Ttl = 0); // not a SocketException from the kernel's EINVAL
            Assert.Equal(17, s.Ttl);

            // With SO_BROADCAST, a limited broadcast is accepted by the kernel (it may still find no route).
            Exception? e = await Record.ExceptionAsync(async () => await s.SendToAsync(new byte[1], new IPEndPoint(IPAddress.Broadcast, 9)));
            Assert.True(e is null or SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable }, $"unexpected {e}");
            s.Broadcast = false;
            var denied = await Assert.ThrowsAsync<SocketException>(async () => await s.SendToAsync(new byte[1], new IPEndPoint(IPAddress.Broadcast, 9)));
            Assert.True(denied.SocketErrorCode is SocketError.AccessDenied or SocketError.NetworkUnreachable, $"unexpected {denied.SocketErrorCode}");
        });
    }

    [Fact]
    public void Multicast_JoinOnLoopback_ReceivesTheGroupsDatagramsThenLeaves()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var group = IPAddress.Parse("239.255.43.21");
            using var receiver = UdpSocket.Bind(new IPEndPoint(IPAddress.Any, 0));
            try
            {
                receiver.JoinMulticastGroup(group, IPAddress.Loopback);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.NoBufferSpaceAvailable or SocketError.OperationNotSupported)
            {
                return; // the kernel refuses multicast on loopback here (documented SocketException): nothing more to test
            }

            using var sender = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            sender.MulticastLoopback = true;
            var buffer = new byte[16];
            ValueTask<UdpReceiveFromResult> pending = receiver.ReceiveFromAsync(buffer);
            await sender.SendToAsync("group"u8.ToArray(), new IPEndPoint(group, receiver.LocalEndPoint.Port));
            UdpReceiveFromResult got = await pending;
            Assert.Equal(5, got.Count);
            receiver.LeaveMulticastGroup(group, IPAddress.Loopback);
            var e2 = Assert.Throws<SocketException>(() => receiver.LeaveMulticastGroup(group, IPAddress.Loopback));
            Assert.Equal(SocketError.AddressNotAvailable, e2.SocketErrorCode);
            Assert.Throws<ArgumentException>(() => receiver.JoinMulticastGroup(IPAddress.Parse("ff02::1"), 0));
        });
    }

    [Fact]
    public void Receive_CancelledByToken_ThenReceiveStillWorks()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            using var a = UdpSocket.Bind(AnyLoopback);
            using var b = UdpSocket.Bind(AnyLoopback);
            var buffer = new byte[8];
            using (var cts = new CancellationTokenSource())
            {
                ValueTask<UdpReceiveFromResult> pending = b.ReceiveFromAsync(buffer, cts.Token);
                Assert.False(pending.IsCompleted);
                cts.Cancel();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
            }

            await a.SendToAsync(new byte[] { 42 }, b.LocalEndPoint);
            UdpReceiveFromResult got = await b.ReceiveFromAsync(buffer);
            Assert.Equal(1, got.Count);
            Assert.Equal(42, buffer[0]);
        });
    }

    [Fact]
    public void Receive_TaskAborted_StopsAndDisposeDeregisters()
    {
        using var rt = NewRuntime();
        (bool cancelled, int before, int after) = rt.BlockOnBounded(async () =>
        {
            int registered = Reactor.RegistrationCount;
            var socket = UdpSocket.Bind(AnyLoopback);
            bool wasCancelled = await AbortWhileBlocked.RunAsync(socket, async s => await s.ReceiveFromAsync(new byte[8]));

            return (wasCancelled, registered, Reactor.RegistrationCount);
        });
        Assert.True(cancelled);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Disposed_PendingReceiveFails_AndEveryCallThrowsObjectDisposed()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            var socket = UdpSocket.Bind(AnyLoopback);
            IPEndPoint local = socket.LocalEndPoint;
            ValueTask<UdpReceiveFromResult> pending = socket.ReceiveFromAsync(new byte[8]);
            socket.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pending);
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveFromAsync(new byte[8]));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendToAsync(new byte[1], local));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.ReceiveAsync(new byte[8]));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await socket.SendAsync(new byte[1]));
            Assert.Throws<ObjectDisposedException>(() => socket.TryReceiveFrom(new byte[8], out _));
            Assert.Throws<ObjectDisposedException>(() => socket.LocalEndPoint);
            Assert.Throws<ObjectDisposedException>(() => socket.Connect(local));
            socket.Dispose(); // idempotent
        });
    }

    [Fact]
    public void Connected_ToAClosedPort_ReportsConnectionRefusedThenWaitsQuietly()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            IPEndPoint dead;
            using (var gone = UdpSocket.Bind(AnyLoopback))
            {
                dead = gone.LocalEndPoint;
            }

            using var socket = UdpSocket.Bind(AnyLoopback);
            socket.Connect(dead);
            ValueTask<int> pending = socket.ReceiveAsync(new byte[8]); // parked: the reactor sees the error event
            Assert.False(pending.IsCompleted);
            await socket.SendAsync(new byte[1]);
            var e = await Assert.ThrowsAsync<SocketException>(async () => await pending);
            Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);

            // The error was consumed: a later receive waits (no busy loop on a stale error bit) and can be cancelled.
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await socket.ReceiveAsync(new byte[8], cts.Token));
        });
    }
}
