using System.Buffers;
using System.Text;

namespace Kyoto.Codec.Internal;

/// <summary>Where UTF-8 goes wrong (for the error message; called only on invalid input).</summary>
internal static class Utf8Offsets
{
    /// <summary>The offset of the first byte of <paramref name="bytes"/> that does not start a valid UTF-8 sequence.</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) != OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return -1;
    }
}
