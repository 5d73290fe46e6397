// Design of RespValue:
// - A readonly struct of three fields: the type, a long (the integer of an Integer), and one object reference
//   (a byte[] for SimpleString, Error and BulkString; a RespValue[] for Array; null for the null bulk string and
//   the null array). An Integer reply allocates nothing; a bulk string one exact-size byte[]; an array one
//   RespValue[] plus its elements' payloads.
// - The decoder hands out shared, never-mutated byte[]s for the common status replies (OK, PONG, QUEUED), so
//   they allocate nothing either. Nobody may write into the arrays a RespValue exposes (they are exposed only as
//   ReadOnlyMemory/ReadOnlySpan).
// - Strings are decoded from UTF-8 on demand (AsString), never eagerly.
using System.Text;

namespace MiniRedis.Client.Protocol;

/// <summary>
/// One RESP2 reply: a simple string, an error, an integer, a bulk string (possibly null) or an array (possibly
/// null) of replies. A small struct; payloads are owned copies, valid for as long as the value is kept.
/// </summary>
/// <example>
/// <code>
/// RespValue reply = await connection.ExecuteAsync("GET", "greeting");
/// string? text = reply.AsString(); // null when the key is missing
/// </code>
/// </example>
public readonly struct RespValue : IEquatable<RespValue>
{
    private readonly object? _payload;
    private readonly long _integer;

    private RespValue(RespType type, object? payload, long integer)
    {
        Type = type;
        _payload = payload;
        _integer = integer;
    }

    /// <summary>The reply type.</summary>
    public RespType Type { get; }

    /// <summary>True for the null bulk string (<c>$-1</c>) and the null array (<c>*-1</c>).</summary>
    public bool IsNull => (Type == RespType.BulkString || Type == RespType.Array) && _payload is null;

    /// <summary>True for an error reply.</summary>
    public bool IsError => Type == RespType.Error;

    /// <summary>The null bulk string (<c>$-1\r\n</c>): what GET answers for a missing key.</summary>
    public static RespValue NullBulkString => new(RespType.BulkString, null, 0);

    /// <summary>The null array (<c>*-1\r\n</c>).</summary>
    public static RespValue NullArray => new(RespType.Array, null, 0);

    /// <summary>A simple string reply (<c>+text</c>). The text must not contain CR or LF.</summary>
    public static RespValue SimpleString(string text) => new(RespType.SimpleString, Encoding.UTF8.GetBytes(text), 0);

    /// <summary>An error reply (<c>-message</c>).</summary>
    public static RespValue Error(string message) => new(RespType.Error, Encoding.UTF8.GetBytes(message), 0);

    /// <summary>An integer reply (<c>:n</c>).</summary>
    public static RespValue Integer(long value) => new(RespType.Integer, null, value);

    /// <summary>A bulk string reply holding <paramref name="bytes"/> (not copied); null makes the null bulk string.</summary>
    public static RespValue BulkString(byte[]? bytes) => new(RespType.BulkString, bytes, 0);

    /// <summary>A bulk string reply holding the UTF-8 bytes of <paramref name="text"/>; null makes the null bulk string.</summary>
    public static RespValue BulkString(string? text) => new(RespType.BulkString, text is null ? null : Encoding.UTF8.GetBytes(text), 0);

    /// <summary>An array reply of <paramref name="elements"/> (not copied); null makes the null array.</summary>
    public static RespValue Array(params RespValue[]? elements) => new(RespType.Array, elements, 0);

    /// <summary>A simple string, error or bulk string over bytes the caller gives up (used by the decoder).</summary>
    internal static RespValue FromBytes(RespType type, byte[] bytes) => new(type, bytes, 0);

    /// <summary>The value of an <see cref="RespType.Integer"/> reply.</summary>
    /// <exception cref="InvalidCastException">The reply is not an integer.</exception>
    public long AsInteger() => Type == RespType.Integer ? _integer : throw WrongType(RespType.Integer);

    /// <summary>
    /// The bytes of a simple string, error or bulk string reply; empty for the null bulk string.
    /// </summary>
    /// <exception cref="InvalidCastException">The reply is an integer or an array.</exception>
    public ReadOnlyMemory<byte> AsMemory() => Type switch
    {
        RespType.SimpleString or RespType.Error or RespType.BulkString => (byte[]?)_payload,
        _ => throw WrongType(RespType.BulkString),
    };

    /// <summary>The bytes of a simple string, error or bulk string reply as a span; empty for the null bulk string.</summary>
    /// <exception cref="InvalidCastException">The reply is an integer or an array.</exception>
    public ReadOnlySpan<byte> AsSpan() => AsMemory().Span;

    /// <summary>A copy of the bytes of a string reply; null for the null bulk string.</summary>
    /// <exception cref="InvalidCastException">The reply is an integer or an array.</exception>
    public byte[]? ToByteArray() => IsNull ? null : AsSpan().ToArray();

    /// <summary>
    /// The text of a string reply (UTF-8), the decimal text of an integer; null for the null bulk string.
    /// Allocates a new string on each call.
    /// </summary>
    /// <exception cref="InvalidCastException">The reply is an array.</exception>
    public string? AsString() => Type switch
    {
        RespType.Integer => _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        RespType.Array => throw WrongType(RespType.BulkString),
        _ => _payload is byte[] b ? Encoding.UTF8.GetString(b) : null,
    };

    /// <summary>The elements of an array reply; empty for the null array.</summary>
    /// <exception cref="InvalidCastException">The reply is not an array.</exception>
    public ReadOnlySpan<RespValue> AsSpanOfElements() => Type == RespType.Array ? (RespValue[]?)_payload : throw WrongType(RespType.Array);

    /// <summary>The elements of an array reply (the array itself, not a copy; do not modify it); null for the null array.</summary>
    /// <exception cref="InvalidCastException">The reply is not an array.</exception>
    public RespValue[]? AsArray() => Type == RespType.Array ? (RespValue[]?)_payload : throw WrongType(RespType.Array);

    /// <summary>True if this is a simple or bulk string whose bytes equal <paramref name="ascii"/>.</summary>
    public bool Is(ReadOnlySpan<byte> ascii) =>
        (Type == RespType.SimpleString || Type == RespType.BulkString) && _payload is byte[] b && b.AsSpan().SequenceEqual(ascii);

    private InvalidCastException WrongType(RespType wanted) => new($"The reply is {Describe()}, not {wanted}.");

    private string Describe() => IsNull ? $"a null {Type}" : Type == RespType.Error ? $"an error ({AsString()})" : $"a {Type}";

    /// <summary>Structural equality: same type and same bytes, integer or elements.</summary>
    public bool Equals(RespValue other)
    {
        if (Type != other.Type || IsNull != other.IsNull)
        {
            return false;
        }

        switch (Type)
        {
            case RespType.Integer:
                return _integer == other._integer;
            case RespType.Array:
                if (IsNull)
                {
                    return true;
                }

                var a = (RespValue[])_payload!;
                var b = (RespValue[])other._payload!;
                if (a.Length != b.Length)
                {
                    return false;
                }

                for (int i = 0; i < a.Length; i++)
                {
                    if (!a[i].Equals(b[i]))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return IsNull || ((byte[])_payload!).AsSpan().SequenceEqual((byte[])other._payload!);
        }
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RespValue other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Type);
        switch (_payload)
        {
            case byte[] bytes:
                hash.AddBytes(bytes);
                break;
            case RespValue[] elements:
                hash.Add(elements.Length);
                break;
            default:
                hash.Add(_integer);
                break;
        }

        return hash.ToHashCode();
    }

    /// <summary>Structural equality.</summary>
    public static bool operator ==(RespValue left, RespValue right) => left.Equals(right);

    /// <summary>Structural inequality.</summary>
    public static bool operator !=(RespValue left, RespValue right) => !left.Equals(right);

    /// <summary>A readable rendering for logs and test failures (for example <c>$"hello"</c>, <c>:42</c>, <c>*[...]</c>).</summary>
    public override string ToString() => Type switch
    {
        _ when IsNull => Type == RespType.Array ? "*nil" : "$nil",
        RespType.Integer => ":" + _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        RespType.SimpleString => "+" + AsString(),
        RespType.Error => "-" + AsString(),
        RespType.BulkString => "$\"" + AsString() + "\"",
        _ => "*[" + string.Join(", ", ((RespValue[])_payload!).Select(e => e.ToString())) + "]",
    };
}
