using System.Net;

namespace Kyoto.Net;

/// <summary>What <see cref="UdpSocket.ReceiveFromAsync"/> or <see cref="UdpSocket.PeekFromAsync"/> got: one datagram's size and sender.</summary>
/// <param name="Count">
/// The number of bytes written into the buffer. A datagram longer than the buffer is truncated to it (the rest is
/// discarded by the kernel, or kept for the next read after a peek), so a count equal to the buffer's length may
/// mean a longer datagram.
/// </param>
/// <param name="RemoteEndPoint">
/// The sender's address and port. A socket reuses one instance while datagrams keep coming from the same sender:
/// treat it as read-only.
/// </param>
public readonly record struct UdpReceiveFromResult(int Count, IPEndPoint RemoteEndPoint);
