// Encodes replies straight into the framed writer's buffer: one GetSpan/Advance per reply (two for a bulk
// string larger than a span the writer offers), no intermediate copies, no allocation except for text errors.
using System.Buffers;
using System.Text;
using Kyoto.Codec;

namespace MiniRedis.Protocol;

/// <summary>The RESP2 reply encoder.</summary>
public sealed class RespEncoder : IEncoder<RespReply>
{
    /// <summary>A shared instance (the encoder has no state).</summary>
    public static readonly RespEncoder Instance = new();

    /// <inheritdoc/>
    public void Encode(RespReply frame, IBufferWriter<byte> output) => Write(frame, output);

    /// <summary>Writes <paramref name="reply"/> to <paramref name="output"/>.</summary>
    public static void Write(in RespReply reply, IBufferWriter<byte> output)
    {
        switch (reply.Kind)
        {
            case RespReplyKind.SimpleString:
                WriteLine((byte)'+', reply.Bytes.Span, output);
                break;
            case RespReplyKind.Error:
                if (reply.Text is { } text)
                {
                    int max = Encoding.UTF8.GetMaxByteCount(text.Length) + 3;
                    Span<byte> span = output.GetSpan(max);
                    span[0] = (byte)'-';
                    int n = Encoding.UTF8.GetBytes(text, span[1..]);
                    span[n + 1] = (byte)'\r';
                    span[n + 2] = (byte)'\n';
                    output.Advance(n + 3);
                }
                else
                {
                    WriteLine((byte)'-', reply.Bytes.Span, output);
                }
                break;
            case RespReplyKind.Integer:
                WriteNumberLine((byte)':', reply.Integer, output);
                break;
            case RespReplyKind.ArrayHeader:
                WriteNumberLine((byte)'*', reply.Integer, output);
                break;
            case RespReplyKind.NullArray:
                output.Write("*-1\r\n"u8);
                break;
            case RespReplyKind.NullBulkString:
                output.Write("$-1\r\n"u8);
                break;
            default:
                WriteBulk(reply.Bytes.Span, output);
                break;
        }
    }

    private static void WriteLine(byte prefix, ReadOnlySpan<byte> text, IBufferWriter<byte> output)
    {
        Span<byte> span = output.GetSpan(text.Length + 3);
        span[0] = prefix;
        text.CopyTo(span[1..]);
        span[text.Length + 1] = (byte)'\r';
        span[text.Length + 2] = (byte)'\n';
        output.Advance(text.Length + 3);
    }

    private static void WriteNumberLine(byte prefix, long value, IBufferWriter<byte> output)
    {
        Span<byte> span = output.GetSpan(24);
        span[0] = prefix;
        int n = RespNumber.Format(value, span[1..]);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        output.Advance(n + 3);
    }

    private static void WriteBulk(ReadOnlySpan<byte> value, IBufferWriter<byte> output)
    {
        const int SmallValue = 4096;
        if (value.Length <= SmallValue)
        {
            Span<byte> span = output.GetSpan(value.Length + 26);
            span[0] = (byte)'$';
            int n = RespNumber.Format(value.Length, span[1..]) + 1;
            span[n++] = (byte)'\r';
            span[n++] = (byte)'\n';
            value.CopyTo(span[n..]);
            n += value.Length;
            span[n++] = (byte)'\r';
            span[n++] = (byte)'\n';
            output.Advance(n);
            return;
        }

        WriteNumberLine((byte)'$', value.Length, output);
        output.Write(value);
        output.Write("\r\n"u8);
    }
}
