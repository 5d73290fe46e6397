namespace Kyoto.Net;

/// <summary>What <see cref="UnixDatagram.ReceiveFromAsync"/> got: one datagram's size and its sender's path.</summary>
/// <param name="Count">The number of bytes written into the buffer; a longer datagram is truncated to the buffer (the rest is lost).</param>
/// <param name="Path">The sender's path; null if the sender is unbound (unnamed); a leading <c>'\0'</c> for an abstract name.</param>
public readonly record struct UnixReceiveFromResult(int Count, string? Path);
