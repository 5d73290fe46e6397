// Decodes client requests the way Redis's networking.c does: a request starting with '*' is an array of bulk
// strings (`*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`); anything else is an inline command line split like
// sdssplitargs (spaces, "double quotes" with \x41 escapes, 'single quotes').
//
// Invariants:
//  1. Nothing is consumed until a whole request is there: an incomplete request leaves the buffer untouched
//     and records the least total length that could complete it (_needed), so a large value arriving in many
//     reads is examined again only once enough bytes came, not once per read.
//  2. No allocation is sized by a length the client declared: counts are checked against Redis's limits
//     (2^31-1 arguments, 512 MB per bulk string) and arguments are copied into the command's arena only once
//     their bytes are in the buffer. Nested arrays are refused (`expected '$', got '*'`), as Redis does.
//  3. Errors are RespProtocolException with Redis's message; the connection replies `-ERR <message>` and closes.
//  4. The returned RespCommand is reused: valid until the next TryDecode (see RespCommand).
using System.Buffers;
using Kyoto.Codec;

namespace MiniRedis.Protocol;

/// <summary>The request decoder (RESP2 arrays of bulk strings and inline commands).</summary>
public sealed class RespDecoder : IDecoder<RespCommand>
{
    /// <summary>Redis's PROTO_INLINE_MAX_SIZE: the longest inline line or count line (64 KB).</summary>
    public const int MaxInlineSize = 64 * 1024;

    /// <summary>Redis's default proto-max-bulk-len (512 MB).</summary>
    public const long MaxBulkLength = 512L * 1024 * 1024;

    private readonly RespCommand _command = new();
    private byte[] _scratch = [];
    private long _needed;

    /// <inheritdoc/>
    public bool TryDecode(ref ReadOnlySequence<byte> buffer, out RespCommand frame)
    {
        frame = _command;
        while (true)
        {
            if (buffer.IsEmpty || buffer.Length < _needed)
            {
                return false;
            }

            int consumed;
            if (buffer.IsSingleSegment)
            {
                if (!TryParse(buffer.FirstSpan, out consumed))
                {
                    return false;
                }
            }
            else if (!TryParse(buffer.FirstSpan, out consumed))
            {
                // The request may straddle segments: parse a contiguous copy (rare; the framed reader's buffer is
                // usually one segment).
                int length = checked((int)Math.Min(buffer.Length, int.MaxValue));
                if (_scratch.Length < length)
                {
                    _scratch = new byte[Math.Max(length, 4096)];
                }
                buffer.Slice(0, length).CopyTo(_scratch);
                if (!TryParse(_scratch.AsSpan(0, length), out consumed))
                {
                    if (_scratch.Length > 1 << 20)
                    {
                        _scratch = [];
                    }
                    return false;
                }
            }

            _needed = 0;
            buffer = buffer.Slice(consumed);
            if (_command.Count > 0)
            {
                return true;
            }
            // An empty request (`*0`, `*-1`, a blank line): skip it like Redis.
        }
    }

    private bool TryParse(ReadOnlySpan<byte> data, out int consumed)
    {
        _command.Reset();
        consumed = 0;
        return data[0] == (byte)'*' ? TryParseMultiBulk(data, out consumed) : TryParseInline(data, out consumed);
    }

    private bool TryParseMultiBulk(ReadOnlySpan<byte> data, out int consumed)
    {
        consumed = 0;
        int cr = data.IndexOf((byte)'\r');
        if (cr < 0)
        {
            if (data.Length > MaxInlineSize)
            {
                throw new RespProtocolException("Protocol error: too big mbulk count string");
            }
            return NeedMore(data.Length + 1);
        }
        if (cr + 1 >= data.Length)
        {
            return NeedMore(cr + 2);
        }
        if (!RespNumber.TryParseInt64(data[1..cr], out long count) || count > int.MaxValue)
        {
            throw new RespProtocolException("Protocol error: invalid multibulk length");
        }
        int pos = cr + 2;
        if (count <= 0)
        {
            consumed = pos;
            return true;
        }

        for (long i = 0; i < count; i++)
        {
            if (pos >= data.Length)
            {
                return NeedMore(pos + 1);
            }
            ReadOnlySpan<byte> rest = data[pos..];
            cr = rest.IndexOf((byte)'\r');
            if (cr < 0)
            {
                if (rest.Length > MaxInlineSize)
                {
                    throw new RespProtocolException("Protocol error: too big bulk count string");
                }
                return NeedMore(data.Length + 1);
            }
            if (cr + 1 >= rest.Length)
            {
                return NeedMore(pos + cr + 2);
            }
            // Like Redis, the '$' is checked once the whole count line is there.
            if (rest[0] != (byte)'$')
            {
                throw new RespProtocolException($"Protocol error: expected '$', got '{(char)rest[0]}'");
            }
            if (!RespNumber.TryParseInt64(rest[1..cr], out long length) || length < 0 || length > MaxBulkLength)
            {
                throw new RespProtocolException("Protocol error: invalid bulk length");
            }
            pos += cr + 2;
            if (data.Length - pos < length + 2)
            {
                return NeedMore(pos + length + 2);
            }
            // Like Redis, the two bytes after the payload are skipped, not checked.
            _command.Add(data.Slice(pos, (int)length));
            pos += (int)length + 2;
        }

        consumed = pos;
        return true;
    }

    private bool NeedMore(long total)
    {
        _needed = total;
        _command.Reset();
        return false;
    }

    private bool TryParseInline(ReadOnlySpan<byte> data, out int consumed)
    {
        consumed = 0;
        int nl = data.IndexOf((byte)'\n');
        if (nl < 0)
        {
            if (data.Length > MaxInlineSize)
            {
                throw new RespProtocolException("Protocol error: too big inline request");
            }
            return NeedMore(data.Length + 1);
        }
        ReadOnlySpan<byte> line = data[..nl];
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }
        // Redis splits a C string: a NUL ends the line.
        int nul = line.IndexOf((byte)0);
        if (nul >= 0)
        {
            line = line[..nul];
        }
        SplitArgs(line, _command);
        consumed = nl + 1;
        return true;
    }

    /// <summary>Splits an inline line into arguments exactly like Redis's sdssplitargs.</summary>
    internal static void SplitArgs(ReadOnlySpan<byte> line, RespCommand command)
    {
        int p = 0;
        while (true)
        {
            while (p < line.Length && IsSpace(line[p]))
            {
                p++;
            }
            if (p >= line.Length)
            {
                return;
            }

            bool inDouble = false;
            bool inSingle = false;
            bool done = false;
            Span<byte> arg = command.AddUninitialized(line.Length - p);
            int n = 0;
            while (!done)
            {
                byte c = p < line.Length ? line[p] : (byte)0;
                byte next = p + 1 < line.Length ? line[p + 1] : (byte)0;
                if (inDouble)
                {
                    if (c == '\\' && next == 'x' && p + 3 < line.Length && IsHex(line[p + 2]) && IsHex(line[p + 3]))
                    {
                        arg[n++] = (byte)(HexValue(line[p + 2]) * 16 + HexValue(line[p + 3]));
                        p += 3;
                    }
                    else if (c == '\\' && next != 0)
                    {
                        p++;
                        arg[n++] = next switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            _ => next,
                        };
                    }
                    else if (c == '"')
                    {
                        if (next != 0 && !IsSpace(next))
                        {
                            throw new RespProtocolException("Protocol error: unbalanced quotes in request");
                        }
                        done = true;
                    }
                    else if (c == 0)
                    {
                        throw new RespProtocolException("Protocol error: unbalanced quotes in request");
                    }
                    else
                    {
                        arg[n++] = c;
                    }
                }
                else if (inSingle)
                {
                    if (c == '\\' && next == '\'')
                    {
                        p++;
                        arg[n++] = (byte)'\'';
                    }
                    else if (c == '\'')
                    {
                        if (next != 0 && !IsSpace(next))
                        {
                            throw new RespProtocolException("Protocol error: unbalanced quotes in request");
                        }
                        done = true;
                    }
                    else if (c == 0)
                    {
                        throw new RespProtocolException("Protocol error: unbalanced quotes in request");
                    }
                    else
                    {
                        arg[n++] = c;
                    }
                }
                else
                {
                    switch (c)
                    {
                        case (byte)' ':
                        case (byte)'\n':
                        case (byte)'\r':
                        case (byte)'\t':
                        case 0:
                            done = true;
                            break;
                        case (byte)'"':
                            inDouble = true;
                            break;
                        case (byte)'\'':
                            inSingle = true;
                            break;
                        default:
                            arg[n++] = c;
                            break;
                    }
                }
                if (p < line.Length)
                {
                    p++;
                }
            }
            command.TrimLast(n);
        }
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    private static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
