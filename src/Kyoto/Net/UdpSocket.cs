// A UDP socket on the runtime's reactor (Tokio's UdpSocket). Sends and receives go through the socket's two
// directional operations (SocketIo, SocketOperation), as a TCP stream's reads and writes do: tried at once when
// the reactor says the direction is ready, parked without allocating when not; datagram calls never block a worker.
// Receives with the sender go through a DatagramReceiver, which owns the address the kernel writes the sender to.
//
// Address caches (allocation-free steady state for a socket talking to one peer at a time), each an immutable
// snapshot swapped whole (any thread):
//  - _lastSentTo: the serialized form of the last destination; a pending send-to uses the snapshot it took.
//  - Receiver._lastReceivedFrom: the last sender as an IPEndPoint and its serialized form.
using System.Net;
using System.Net.Sockets;
using Kyoto.Reactor;

namespace Kyoto.Net;

/// <summary>
/// A UDP socket on the runtime's I/O driver (Tokio's <c>UdpSocket</c>): datagrams sent and received as
/// <see cref="ValueTask"/>s, woken by the worker that turns the runtime's epoll set. Named so as not to clash with
/// <see cref="UdpClient"/>.
/// </summary>
/// <remarks>
/// <para>
/// Unconnected, it sends to any address (<see cref="SendToAsync"/>) and receives from anyone
/// (<see cref="ReceiveFromAsync"/>). <see cref="Connect"/> fixes one peer: then <see cref="SendAsync"/> and
/// <see cref="ReceiveAsync"/> work, and datagrams from other senders are dropped by the kernel.
/// </para>
/// <para>
/// One receive and one send may wait at once (from different tasks); a second concurrent waiter in the same
/// direction fails with <see cref="InvalidOperationException"/>. A datagram longer than the receive buffer is
/// truncated: the excess is lost and the count equals the buffer's length.
/// </para>
/// <para>
/// On a connected socket, an ICMP error for an earlier datagram (port unreachable) surfaces on a later call as a
/// <see cref="SocketException"/> with <see cref="SocketError.ConnectionRefused"/>; the socket stays usable.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// using var socket = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 9000));
/// var buffer = new byte[1500];
/// while (true)
/// {
///     UdpReceiveFromResult got = await socket.ReceiveFromAsync(buffer, ct);
///     await socket.SendToAsync(buffer.AsMemory(0, got.Count), got.RemoteEndPoint, ct);
/// }
/// </code>
/// </example>
public sealed class UdpSocket : IDisposable
{
    private readonly SocketIo _io;
    private readonly AddressFamily _family;
    private IPEndPoint? _remote;
    private CachedAddress? _lastSentTo;
    private readonly Receiver _receiver;

    private UdpSocket(SocketIo io, AddressFamily family)
    {
        _io = io;
        _family = family;
        _receiver = new Receiver(io, family);
    }

    /// <summary>Creates a UDP socket bound to <paramref name="localEndPoint"/> (port 0: any free port).</summary>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    /// <exception cref="InvalidOperationException">Called outside a Kyoto runtime.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static UdpSocket Bind(IPEndPoint localEndPoint)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        var socket = SocketOptions.DualStack(new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp));
        try
        {
            socket.Bind(localEndPoint);
            return new UdpSocket(new SocketIo(socket), localEndPoint.AddressFamily);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Creates a UDP socket bound to <paramref name="address"/>:<paramref name="port"/>.</summary>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    public static UdpSocket Bind(IPAddress address, int port) => Bind(new IPEndPoint(address, port));

    /// <summary>The local address and port.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public IPEndPoint LocalEndPoint
    {
        get
        {
            ThrowIfDisposed();
            return (IPEndPoint)_io.Socket.LocalEndPoint!;
        }
    }

    /// <summary>The peer set by <see cref="Connect"/>, or null while unconnected.</summary>
    public IPEndPoint? RemoteEndPoint => Volatile.Read(ref _remote);

    /// <summary>Whether datagrams may be sent to a broadcast address (<c>SO_BROADCAST</c>). Defaults to false.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool Broadcast
    {
        get => _io.Socket.EnableBroadcast;
        set => _io.Socket.EnableBroadcast = value;
    }

    /// <summary>The time-to-live (IPv4) or hop limit (IPv6) of unicast datagrams. Defaults to the system's (64 on Linux).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in 1..255 (Linux refuses a TTL of 0).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public int Ttl
    {
        get => _io.Socket.Ttl;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 255);
            _io.Socket.Ttl = (short)value;
        }
    }

    /// <summary>Whether multicast datagrams sent by this host come back to its own members. Defaults to true.</summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool MulticastLoopback
    {
        get => _io.Socket.MulticastLoopback;
        set => _io.Socket.MulticastLoopback = value;
    }

    /// <summary>The time-to-live (hop limit) of multicast datagrams. Defaults to 1: they stay on the local network.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not in 0..255.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public int MulticastTtl
    {
        get => (int)_io.Socket.GetSocketOption(OptionLevel, SocketOptionName.MulticastTimeToLive)!;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 255);
            _io.Socket.SetSocketOption(OptionLevel, SocketOptionName.MulticastTimeToLive, value);
        }
    }

    private SocketOptionLevel OptionLevel => _family == AddressFamily.InterNetworkV6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP;

    /// <summary>Joins the IPv4 multicast <paramref name="group"/> on the interface with address <paramref name="localInterface"/>.</summary>
    /// <param name="group">An IPv4 multicast address (224.0.0.0/4).</param>
    /// <param name="localInterface">The address of the interface to join on; <see cref="IPAddress.Any"/>: the system's choice.</param>
    /// <exception cref="SocketException">The kernel refused (for example no interface with multicast, <see cref="SocketError.AddressNotAvailable"/> or <see cref="SocketError.NoBufferSpaceAvailable"/>).</exception>
    /// <exception cref="ArgumentException">Not IPv4 addresses, or not an IPv4 socket.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void JoinMulticastGroup(IPAddress group, IPAddress localInterface) => SetMembershipV4(SocketOptionName.AddMembership, group, localInterface);

    /// <summary>Leaves an IPv4 multicast group joined with <see cref="JoinMulticastGroup(IPAddress, IPAddress)"/>.</summary>
    /// <exception cref="SocketException">The group was not joined on that interface (<see cref="SocketError.AddressNotAvailable"/>).</exception>
    /// <exception cref="ArgumentException">Not IPv4 addresses, or not an IPv4 socket.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void LeaveMulticastGroup(IPAddress group, IPAddress localInterface) => SetMembershipV4(SocketOptionName.DropMembership, group, localInterface);

    /// <summary>Joins the IPv6 multicast <paramref name="group"/> on the interface with index <paramref name="interfaceIndex"/>.</summary>
    /// <param name="group">An IPv6 multicast address (ff00::/8).</param>
    /// <param name="interfaceIndex">The interface's index; 0: the system's choice.</param>
    /// <exception cref="SocketException">The kernel refused.</exception>
    /// <exception cref="ArgumentException">Not an IPv6 address, or not an IPv6 socket.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void JoinMulticastGroup(IPAddress group, int interfaceIndex) => SetMembershipV6(SocketOptionName.AddMembership, group, interfaceIndex);

    /// <summary>Leaves an IPv6 multicast group joined with <see cref="JoinMulticastGroup(IPAddress, int)"/>.</summary>
    /// <exception cref="SocketException">The group was not joined on that interface.</exception>
    /// <exception cref="ArgumentException">Not an IPv6 address, or not an IPv6 socket.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void LeaveMulticastGroup(IPAddress group, int interfaceIndex) => SetMembershipV6(SocketOptionName.DropMembership, group, interfaceIndex);

    private void SetMembershipV4(SocketOptionName option, IPAddress group, IPAddress localInterface)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(localInterface);
        if (group.AddressFamily != AddressFamily.InterNetwork || localInterface.AddressFamily != AddressFamily.InterNetwork || OptionLevel != SocketOptionLevel.IP)
        {
            throw new ArgumentException("IPv4 multicast membership needs IPv4 addresses on an IPv4 socket.", nameof(group));
        }

        ThrowIfDisposed();
        _io.Socket.SetSocketOption(SocketOptionLevel.IP, option, new MulticastOption(group, localInterface));
    }

    private void SetMembershipV6(SocketOptionName option, IPAddress group, int interfaceIndex)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(interfaceIndex);
        if (group.AddressFamily != AddressFamily.InterNetworkV6 || OptionLevel != SocketOptionLevel.IPv6)
        {
            throw new ArgumentException("IPv6 multicast membership needs an IPv6 address on an IPv6 socket.", nameof(group));
        }

        ThrowIfDisposed();
        _io.Socket.SetSocketOption(SocketOptionLevel.IPv6, option, new IPv6MulticastOption(group, interfaceIndex));
    }

    /// <summary>
    /// Sets the socket's peer: <see cref="SendAsync"/> sends there and only its datagrams are received. UDP has no
    /// handshake: this completes at once, and may be called again to change the peer.
    /// </summary>
    /// <exception cref="SocketException">The address cannot be reached from this socket (for example another family).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public void Connect(IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        ThrowIfDisposed();
        _io.Socket.Connect(remoteEndPoint);
        Volatile.Write(ref _remote, new IPEndPoint(remoteEndPoint.Address, remoteEndPoint.Port));
    }

    /// <summary>As <see cref="Connect"/> (which never waits), for code written against Tokio's async <c>connect</c>.</summary>
    /// <remarks><b>Cancel safety:</b> completes at once; a token already cancelled fails it before it connects.</remarks>
    /// <exception cref="SocketException">The address cannot be reached from this socket.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask ConnectAsync(IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            Connect(remoteEndPoint);
            return ValueTask.CompletedTask;
        }
        catch (Exception e)
        {
            return ValueTask.FromException(e);
        }
    }

    /// <summary>Sends <paramref name="buffer"/> as one datagram to the connected peer.</summary>
    /// <returns>The number of bytes sent: the whole buffer.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled send has sent nothing.</remarks>
    /// <exception cref="SocketException">
    /// Not connected (<see cref="SocketError.NotConnected"/> or <see cref="SocketError.DestinationAddressRequired"/>),
    /// the datagram is too long (<see cref="SocketError.MessageSize"/>), or an earlier datagram was refused
    /// (<see cref="SocketError.ConnectionRefused"/>).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _io.SendSomeAsync(buffer, cancellationToken);

    /// <summary>Receives one datagram from the connected peer into <paramref name="buffer"/>.</summary>
    /// <returns>The datagram's length, truncated to the buffer's (the excess is lost); 0 for an empty datagram.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled receive has taken no datagram.</remarks>
    /// <exception cref="SocketException">An earlier datagram was refused (<see cref="SocketError.ConnectionRefused"/>).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _io.ReceiveAsync(buffer, cancellationToken);

    /// <summary>Copies the next datagram into <paramref name="buffer"/> without taking it: the next receive gets it again.</summary>
    /// <returns>The number of bytes copied (at most the buffer's length).</returns>
    /// <remarks><b>Cancel safety:</b> safe: peeking takes nothing.</remarks>
    /// <exception cref="SocketException">An earlier datagram was refused (<see cref="SocketError.ConnectionRefused"/>).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> PeekAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _io.ReceiveAsync(buffer, SocketFlags.Peek, cancellationToken);

    /// <summary>Sends <paramref name="buffer"/> as one datagram to <paramref name="remoteEndPoint"/>.</summary>
    /// <returns>The number of bytes sent: the whole buffer.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled send has sent nothing.</remarks>
    /// <exception cref="SocketException">
    /// The datagram is too long (<see cref="SocketError.MessageSize"/>), the destination is a broadcast address and
    /// <see cref="Broadcast"/> is off (<see cref="SocketError.AccessDenied"/>), or it cannot be reached.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<int> SendToAsync(ReadOnlyMemory<byte> buffer, IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        return _io.SendToAsync(buffer, AddressOf(remoteEndPoint), cancellationToken);
    }

    /// <summary>Receives one datagram from anyone into <paramref name="buffer"/>.</summary>
    /// <returns>The datagram's length (truncated to the buffer's; the excess is lost) and its sender.</returns>
    /// <remarks><b>Cancel safety:</b> safe: a cancelled receive has taken no datagram.</remarks>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<UdpReceiveFromResult> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _receiver.ReceiveFromAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>Copies the next datagram into <paramref name="buffer"/> without taking it, with its sender.</summary>
    /// <returns>The number of bytes copied (at most the buffer's length) and the sender.</returns>
    /// <remarks><b>Cancel safety:</b> safe: peeking takes nothing.</remarks>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public ValueTask<UdpReceiveFromResult> PeekFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _receiver.ReceiveFromAsync(buffer, SocketFlags.Peek, cancellationToken);

    /// <summary>Sends <paramref name="buffer"/> to the connected peer if the socket can take it now, without waiting.</summary>
    /// <returns>False if the send buffer is full (nothing was sent).</returns>
    /// <exception cref="SocketException">As <see cref="SendAsync"/>.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TrySend(ReadOnlySpan<byte> buffer, out int sent)
    {
        ThrowIfDisposed();
        return _io.TrySend(buffer, out sent);
    }

    /// <summary>Receives a datagram from the connected peer if one is queued, without waiting.</summary>
    /// <returns>False if no datagram is queued.</returns>
    /// <exception cref="SocketException">As <see cref="ReceiveAsync"/>.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TryReceive(Span<byte> buffer, out int received)
    {
        ThrowIfDisposed();
        return _io.TryReceive(buffer, SocketFlags.None, out received);
    }

    /// <summary>Sends <paramref name="buffer"/> to <paramref name="remoteEndPoint"/> if the socket can take it now, without waiting.</summary>
    /// <returns>False if the send buffer is full (nothing was sent).</returns>
    /// <exception cref="SocketException">As <see cref="SendToAsync"/>.</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TrySendTo(ReadOnlySpan<byte> buffer, IPEndPoint remoteEndPoint, out int sent)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        ThrowIfDisposed();
        return TrySendToCore(buffer, remoteEndPoint, out sent);
    }

    /// <summary>Receives a datagram from anyone if one is queued, without waiting.</summary>
    /// <returns>False if no datagram is queued.</returns>
    /// <exception cref="ObjectDisposedException">The socket was disposed.</exception>
    public bool TryReceiveFrom(Span<byte> buffer, out UdpReceiveFromResult result)
    {
        ThrowIfDisposed();
        return _receiver.TryReceiveFrom(buffer, SocketFlags.None, out result);
    }

    private bool TrySendToCore(ReadOnlySpan<byte> buffer, IPEndPoint remote, out int sent)
    {
        sent = _io.SendToNow(buffer, AddressOf(remote), out SocketError error);
        return SocketReadiness.Succeeded(error);
    }

    /// <summary>The serialized form of <paramref name="remote"/>: the cached one when it is the same as last time.</summary>
    private SocketAddress AddressOf(IPEndPoint remote)
    {
        CachedAddress? cached = Volatile.Read(ref _lastSentTo);
        if (cached is null || !cached.EndPoint.Equals(remote))
        {
            var copy = new IPEndPoint(remote.Address, remote.Port);
            cached = new CachedAddress(copy, copy.Serialize());
            Volatile.Write(ref _lastSentTo, cached);
        }

        return cached.Address;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_io.IsDisposed, this);

    /// <summary>Closes the socket; pending sends and receives fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => _io.Dispose();

    /// <summary>Receives with the sender as an <see cref="IPEndPoint"/>, the last one cached.</summary>
    private sealed class Receiver(SocketIo io, AddressFamily family)
        : DatagramReceiver<IPEndPoint, UdpReceiveFromResult>(io, family, SocketAddress.GetMaximumAddressSize(family))
    {
        private readonly IPEndPoint _template = new(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        private CachedAddress? _lastReceivedFrom;

        protected override IPEndPoint SenderOf(SocketAddress address)
        {
            CachedAddress? cached = Volatile.Read(ref _lastReceivedFrom);
            if (cached is not null && SameAddress(cached.Address, address))
            {
                return cached.EndPoint;
            }

            var endPoint = (IPEndPoint)_template.Create(address);
            Volatile.Write(ref _lastReceivedFrom, new CachedAddress(endPoint, CopyOf(address)));
            return endPoint;
        }

        protected override UdpReceiveFromResult Result(int count, IPEndPoint sender) => new(count, sender);
    }

    /// <summary>An endpoint and its serialized form (immutable once published).</summary>
    private sealed class CachedAddress(IPEndPoint endPoint, SocketAddress address)
    {
        internal IPEndPoint EndPoint { get; } = endPoint;

        internal SocketAddress Address { get; } = address;
    }
}
