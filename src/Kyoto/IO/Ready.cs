namespace Kyoto.IO;

/// <summary>The readiness the I/O driver has seen on a socket or descriptor (Tokio's <c>Ready</c>).</summary>
/// <remarks>
/// Readiness is a hint, not a promise: the next call may still find nothing to read (another reader took it) and
/// then clears the readiness and waits again. The closed and error bits stay set once seen.
/// </remarks>
[Flags]
public enum Ready
{
    /// <summary>No readiness.</summary>
    None = 0,

    /// <summary>Data can be read (or a connection accepted).</summary>
    Readable = 1,

    /// <summary>Data can be written.</summary>
    Writable = 2,

    /// <summary>The peer closed its write side: reads will return end of stream once the buffer is drained.</summary>
    ReadClosed = 4,

    /// <summary>The write side is closed (the peer is gone): writes will fail.</summary>
    WriteClosed = 8,

    /// <summary>The descriptor has a pending error.</summary>
    Error = 16,
}
