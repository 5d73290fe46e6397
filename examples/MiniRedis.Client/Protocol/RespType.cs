namespace MiniRedis.Client.Protocol;

/// <summary>The RESP2 reply types, named after their first byte.</summary>
public enum RespType : byte
{
    /// <summary><c>+OK\r\n</c>: a short status line.</summary>
    SimpleString = (byte)'+',

    /// <summary><c>-ERR message\r\n</c>: an error reply.</summary>
    Error = (byte)'-',

    /// <summary><c>:42\r\n</c>: a signed 64-bit integer.</summary>
    Integer = (byte)':',

    /// <summary><c>$5\r\nhello\r\n</c>, or the null bulk string <c>$-1\r\n</c>.</summary>
    BulkString = (byte)'$',

    /// <summary><c>*2\r\n...</c>, or the null array <c>*-1\r\n</c>.</summary>
    Array = (byte)'*',
}
