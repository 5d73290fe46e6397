namespace Kyoto.IO;

/// <summary>The readiness a task waits for on a socket or descriptor (Tokio's <c>Interest</c>).</summary>
[Flags]
public enum Interest
{
    /// <summary>Readable, or the read side closed, or an error.</summary>
    Readable = 1,

    /// <summary>Writable, or the write side closed, or an error.</summary>
    Writable = 2,

    /// <summary>Either direction.</summary>
    ReadWrite = Readable | Writable,
}
