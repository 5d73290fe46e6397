namespace Kyoto.IO;

/// <summary>
/// Creates in-memory connections (Tokio's <c>io::duplex</c>): two <see cref="MemoryDuplexEnd"/>s where what one
/// end writes the other reads, each direction buffering at most a fixed number of bytes. A stand-in for a socket
/// in tests, and a pipe between two tasks of one process.
/// </summary>
/// <example>
/// <code>
/// (MemoryDuplexEnd client, MemoryDuplexEnd server) = MemoryDuplex.Create(64 * 1024);
/// KyotoTask.Spawn(async () =&gt; await AsyncCopy.CopyAsync(server, server)); // echo
/// await client.WriteAllAsync("ping"u8.ToArray());
/// </code>
/// </example>
public static class MemoryDuplex
{
    /// <summary>
    /// Creates a connected pair whose directions each buffer up to <paramref name="capacity"/> bytes: a writer
    /// waits while its direction is full.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public static (MemoryDuplexEnd A, MemoryDuplexEnd B) Create(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        var aToB = new MemoryDuplexChannel(capacity);
        var bToA = new MemoryDuplexChannel(capacity);
        return (new MemoryDuplexEnd(read: bToA, write: aToB), new MemoryDuplexEnd(read: aToB, write: bToA));
    }
}
