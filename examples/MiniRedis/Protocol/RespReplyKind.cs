namespace MiniRedis.Protocol;

/// <summary>The RESP2 reply types.</summary>
public enum RespReplyKind : byte
{
    /// <summary><c>+text</c>: Bytes.</summary>
    SimpleString,

    /// <summary><c>-text</c>: Text (or Bytes when Text is null).</summary>
    Error,

    /// <summary><c>:n</c>: Integer.</summary>
    Integer,

    /// <summary><c>$len\r\nbytes</c>: Bytes.</summary>
    BulkString,

    /// <summary><c>$-1</c>.</summary>
    NullBulkString,

    /// <summary><c>*n</c>: the header of an array whose Integer elements follow as separate replies.</summary>
    ArrayHeader,

    /// <summary><c>*-1</c>.</summary>
    NullArray,
}
