using System.Text;

namespace MiniRedis.Protocol;

/// <summary>
/// One reply frame. Arrays are written as an <see cref="RespReplyKind.ArrayHeader"/> followed by their elements,
/// so no reply allocates a container. Bulk strings refer to the stored value (values are immutable once stored)
/// or, for ECHO-like replies, to the request's arguments, which stay valid until the reply is encoded.
/// </summary>
public readonly struct RespReply
{
    private static readonly byte[] s_ok = "OK"u8.ToArray();
    private static readonly byte[] s_pong = "PONG"u8.ToArray();

    private RespReply(RespReplyKind kind, long integer, ReadOnlyMemory<byte> bytes, string? text)
    {
        Kind = kind;
        Integer = integer;
        Bytes = bytes;
        Text = text;
    }

    /// <summary>The reply type.</summary>
    public RespReplyKind Kind { get; }

    /// <summary>The integer, or the element count of an array header.</summary>
    public long Integer { get; }

    /// <summary>The payload of a simple string, bulk string, or byte-built error.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The message of an error built from text.</summary>
    public string? Text { get; }

    /// <summary><c>+OK</c>.</summary>
    public static RespReply Ok => new(RespReplyKind.SimpleString, 0, s_ok, null);

    /// <summary><c>+PONG</c>.</summary>
    public static RespReply Pong => new(RespReplyKind.SimpleString, 0, s_pong, null);

    /// <summary><c>$-1</c>.</summary>
    public static RespReply NullBulk => new(RespReplyKind.NullBulkString, 0, default, null);

    /// <summary><c>*-1</c>.</summary>
    public static RespReply NullArray => new(RespReplyKind.NullArray, 0, default, null);

    /// <summary><c>+text</c>.</summary>
    public static RespReply Simple(ReadOnlyMemory<byte> text) => new(RespReplyKind.SimpleString, 0, text, null);

    /// <summary><c>-message</c>; the message must hold no CR or LF.</summary>
    public static RespReply Error(string message) => new(RespReplyKind.Error, 0, default, message);

    /// <summary><c>-message</c> from bytes; the message must hold no CR or LF.</summary>
    public static RespReply Error(ReadOnlyMemory<byte> message) => new(RespReplyKind.Error, 0, message, null);

    /// <summary><c>:value</c>.</summary>
    public static RespReply FromInteger(long value) => new(RespReplyKind.Integer, value, default, null);

    /// <summary><c>$len\r\nvalue\r\n</c>.</summary>
    public static RespReply Bulk(ReadOnlyMemory<byte> value) => new(RespReplyKind.BulkString, 0, value, null);

    /// <summary>A bulk string of UTF-8 text (allocates; for rare replies).</summary>
    public static RespReply Bulk(string value) => new(RespReplyKind.BulkString, 0, Encoding.UTF8.GetBytes(value), null);

    /// <summary><c>$len\r\nvalue\r\n</c>, or <c>$-1</c> when <paramref name="value"/> is null.</summary>
    public static RespReply BulkOrNull(byte[]? value) => value is null ? NullBulk : Bulk(value);

    /// <summary><c>*count</c>: the next <paramref name="count"/> replies are its elements.</summary>
    public static RespReply Array(int count) => new(RespReplyKind.ArrayHeader, count, default, null);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        RespReplyKind.Error => "-" + (Text ?? Encoding.UTF8.GetString(Bytes.Span)),
        RespReplyKind.Integer => ":" + Integer,
        RespReplyKind.ArrayHeader => "*" + Integer,
        RespReplyKind.NullArray => "*-1",
        RespReplyKind.NullBulkString => "$-1",
        RespReplyKind.SimpleString => "+" + Encoding.UTF8.GetString(Bytes.Span),
        _ => "$" + Encoding.UTF8.GetString(Bytes.Span),
    };
}
