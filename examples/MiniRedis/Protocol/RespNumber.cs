using System.Buffers.Text;

namespace MiniRedis.Protocol;

/// <summary>Number parsing and formatting with Redis's exact rules (its <c>string2ll</c>).</summary>
public static class RespNumber
{
    /// <summary>
    /// Parses a signed 64-bit integer the way Redis does: an optional '-', then digits with no leading zero
    /// (except "0" itself), no '+', no spaces, no overflow.
    /// </summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 20)
        {
            return false;
        }
        if (text.Length == 1 && text[0] == (byte)'0')
        {
            return true;
        }
        bool negative = text[0] == (byte)'-';
        int i = negative ? 1 : 0;
        if (i >= text.Length || text[i] < (byte)'1' || text[i] > (byte)'9')
        {
            return false;
        }
        ulong v = 0;
        for (; i < text.Length; i++)
        {
            uint d = (uint)(text[i] - '0');
            if (d > 9)
            {
                return false;
            }
            if (v > (ulong.MaxValue - d) / 10)
            {
                return false;
            }
            v = v * 10 + d;
        }
        if (negative)
        {
            if (v > (ulong)long.MaxValue + 1)
            {
                return false;
            }
            value = (long)(0 - v);
        }
        else
        {
            if (v > long.MaxValue)
            {
                return false;
            }
            value = (long)v;
        }
        return true;
    }

    /// <summary>Writes <paramref name="value"/> in decimal; returns the byte count.</summary>
    public static int Format(long value, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(value, destination, out int written);
        return written;
    }
}
