using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace MiniRedis.Client.Protocol;

/// <summary>
/// One argument of a command: text (sent as UTF-8), bytes, or an integer (sent as its decimal text). Converts
/// implicitly from <see cref="string"/>, <see cref="byte"/>[], <see cref="ReadOnlyMemory{T}"/> of bytes,
/// <see cref="long"/> and <see cref="int"/>, so commands read as <c>ExecuteAsync("INCRBY", key, 5)</c>.
/// </summary>
public readonly struct RedisArgument
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _integer;
    private readonly byte _kind; // 0: bytes, 1: text, 2: integer

    private RedisArgument(string? text, ReadOnlyMemory<byte> bytes, long integer, byte kind)
    {
        _text = text;
        _bytes = bytes;
        _integer = integer;
        _kind = kind;
    }

    /// <summary>An argument holding <paramref name="text"/>, sent as UTF-8.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static implicit operator RedisArgument(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), default, 0, 1);

    /// <summary>An argument holding <paramref name="bytes"/> (not copied: do not change them until the command is sent).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="bytes"/> is null.</exception>
    public static implicit operator RedisArgument(byte[] bytes) => new(null, bytes ?? throw new ArgumentNullException(nameof(bytes)), 0, 0);

    /// <summary>An argument holding <paramref name="bytes"/> (not copied: do not change them until the command is sent).</summary>
    public static implicit operator RedisArgument(ReadOnlyMemory<byte> bytes) => new(null, bytes, 0, 0);

    /// <summary>An argument holding the decimal text of <paramref name="value"/>.</summary>
    public static implicit operator RedisArgument(long value) => new(null, default, value, 2);

    /// <summary>An argument holding the decimal text of <paramref name="value"/>.</summary>
    public static implicit operator RedisArgument(int value) => new(null, default, value, 2);

    /// <summary>Named alternative to the conversion from <see cref="string"/>.</summary>
    public static RedisArgument FromString(string text) => text;

    /// <summary>Named alternative to the conversion from <see cref="ReadOnlyMemory{T}"/>.</summary>
    public static RedisArgument FromBytes(ReadOnlyMemory<byte> bytes) => bytes;

    /// <summary>Named alternative to the conversion from <see cref="long"/>.</summary>
    public static RedisArgument FromInt64(long value) => value;

    /// <summary>Named alternative to the conversion from <see cref="int"/>.</summary>
    public static RedisArgument FromInt32(int value) => value;

    /// <summary>Appends <c>$len\r\n&lt;bytes&gt;\r\n</c> to <paramref name="output"/>.</summary>
    internal void WriteBulk(IBufferWriter<byte> output)
    {
        switch (_kind)
        {
            case 1:
                int count = Encoding.UTF8.GetByteCount(_text!);
                RespWriter.WriteHeader(output, (byte)'$', count);
                if (count > 0)
                {
                    int written = Encoding.UTF8.GetBytes(_text, output.GetSpan(count));
                    output.Advance(written);
                }

                RespWriter.WriteCrlf(output);
                break;
            case 2:
                Span<byte> digits = stackalloc byte[20];
                Utf8Formatter.TryFormat(_integer, digits, out int n);
                RespWriter.WriteHeader(output, (byte)'$', n);
                Span<byte> span = output.GetSpan(n + 2);
                digits[..n].CopyTo(span);
                span[n] = (byte)'\r';
                span[n + 1] = (byte)'\n';
                output.Advance(n + 2);
                break;
            default:
                RespWriter.WriteHeader(output, (byte)'$', _bytes.Length);
                if (!_bytes.IsEmpty)
                {
                    output.Write(_bytes.Span);
                }

                RespWriter.WriteCrlf(output);
                break;
        }
    }

    /// <summary>The argument as text: the string, the decimal integer, or the bytes decoded as UTF-8.</summary>
    public override string ToString() => _kind switch
    {
        1 => _text!,
        2 => _integer.ToString(CultureInfo.InvariantCulture),
        _ => Encoding.UTF8.GetString(_bytes.Span),
    };
}
