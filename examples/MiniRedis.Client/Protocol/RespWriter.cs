using System.Buffers;
using System.Buffers.Text;

namespace MiniRedis.Client.Protocol;

/// <summary>Small helpers that write RESP headers straight into a buffer writer.</summary>
internal static class RespWriter
{
    /// <summary>Writes <c>&lt;prefix&gt;&lt;n&gt;\r\n</c>.</summary>
    public static void WriteHeader(IBufferWriter<byte> output, byte prefix, long n)
    {
        Span<byte> span = output.GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(n, span[1..], out int digits);
        span[1 + digits] = (byte)'\r';
        span[2 + digits] = (byte)'\n';
        output.Advance(3 + digits);
    }

    /// <summary>Writes <c>\r\n</c>.</summary>
    public static void WriteCrlf(IBufferWriter<byte> output)
    {
        Span<byte> span = output.GetSpan(2);
        span[0] = (byte)'\r';
        span[1] = (byte)'\n';
        output.Advance(2);
    }
}
