using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>String commands.</summary>
public sealed partial class CommandDispatcher
{
    [Flags]
    private enum SetFlags
    {
        None = 0,
        Nx = 1,
        Xx = 2,
        Get = 4,
        KeepTtl = 8,
        Ex = 16,
        Px = 32,
        ExAt = 64,
        PxAt = 128,
        AnyExpire = Ex | Px | ExAt | PxAt,
    }

    private void Get(RespCommand command, ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            replies.Add(_db.Lookup(command[1]) switch
            {
                null => RespReply.NullBulk,
                byte[] value => RespReply.Bulk(value),
                _ => Errors.WrongType,
            });
        }
    }

    private void Set(RespCommand command, ReplyBuffer replies)
    {
        SetFlags flags = SetFlags.None;
        int expireIndex = -1;
        for (int i = 3; i < command.Count; i++)
        {
            bool hasNext = i + 1 < command.Count;
            if (command.Is(i, "NX"u8) && (flags & SetFlags.Xx) == 0)
            {
                flags |= SetFlags.Nx;
            }
            else if (command.Is(i, "XX"u8) && (flags & SetFlags.Nx) == 0)
            {
                flags |= SetFlags.Xx;
            }
            else if (command.Is(i, "GET"u8))
            {
                flags |= SetFlags.Get;
            }
            else if (command.Is(i, "KEEPTTL"u8) && (flags & SetFlags.AnyExpire) == 0)
            {
                flags |= SetFlags.KeepTtl;
            }
            else if (hasNext && (flags & (SetFlags.AnyExpire | SetFlags.KeepTtl)) == 0 && ExpireOption(command, i) is var option && option != SetFlags.None)
            {
                flags |= option;
                expireIndex = ++i;
            }
            else
            {
                replies.Add(Errors.Syntax);
                return;
            }
        }

        TimeSpan? ttl = null;
        if (expireIndex > 0)
        {
            if (!RespNumber.TryParseInt64(command[expireIndex], out long amount))
            {
                replies.Add(Errors.NotInteger);
                return;
            }
            bool seconds = (flags & (SetFlags.Ex | SetFlags.ExAt)) != 0;
            if (amount <= 0 || (seconds && amount > long.MaxValue / 1000))
            {
                replies.Add(Errors.InvalidExpire("set"));
                return;
            }
            long ms = seconds ? amount * 1000 : amount;
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            if ((flags & (SetFlags.Ex | SetFlags.Px)) != 0)
            {
                if (ms > long.MaxValue - now)
                {
                    replies.Add(Errors.InvalidExpire("set"));
                    return;
                }
            }
            else
            {
                ms -= now;
            }
            ttl = ToTimeSpan(ms);
        }

        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            object? old = _db.Lookup(key);
            if ((flags & SetFlags.Get) != 0 && old is not null and not byte[])
            {
                replies.Add(Errors.WrongType);
                return;
            }
            bool found = old is not null;
            if (((flags & SetFlags.Nx) != 0 && found) || ((flags & SetFlags.Xx) != 0 && !found))
            {
                replies.Add((flags & SetFlags.Get) != 0 ? RespReply.BulkOrNull(old as byte[]) : RespReply.NullBulk);
                return;
            }
            _db.Set(key, command.ToArray(2), keepTtl: (flags & SetFlags.KeepTtl) != 0);
            if (ttl is { } t)
            {
                _db.SetExpiry(key, t);
            }
            replies.Add((flags & SetFlags.Get) != 0 ? RespReply.BulkOrNull(old as byte[]) : RespReply.Ok);
        }
    }

    private void SetNx(RespCommand command, ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            if (_db.Lookup(command[1]) is not null)
            {
                replies.Add(RespReply.FromInteger(0));
                return;
            }
            _db.Set(command[1], command.ToArray(2));
            replies.Add(RespReply.FromInteger(1));
        }
    }

    private void SetEx(RespCommand command, string name, long unitMilliseconds, ReplyBuffer replies)
    {
        if (!RespNumber.TryParseInt64(command[2], out long amount))
        {
            replies.Add(Errors.NotInteger);
            return;
        }
        if (amount <= 0 || (unitMilliseconds == 1000 && amount > long.MaxValue / 1000)
            || amount * unitMilliseconds > long.MaxValue - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
        {
            replies.Add(Errors.InvalidExpire(name));
            return;
        }
        lock (_db.Gate)
        {
            _db.Set(command[1], command.ToArray(3));
            _db.SetExpiry(command[1], ToTimeSpan(amount * unitMilliseconds));
        }
        replies.Add(RespReply.Ok);
    }

    private static SetFlags ExpireOption(RespCommand command, int i) =>
        command.Is(i, "EX"u8) ? SetFlags.Ex
        : command.Is(i, "PX"u8) ? SetFlags.Px
        : command.Is(i, "EXAT"u8) ? SetFlags.ExAt
        : command.Is(i, "PXAT"u8) ? SetFlags.PxAt
        : SetFlags.None;

    private static TimeSpan ToTimeSpan(long milliseconds) =>
        milliseconds >= (long)TimeSpan.MaxValue.TotalMilliseconds ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(milliseconds);

    private void MGet(RespCommand command, ReplyBuffer replies)
    {
        replies.Add(RespReply.Array(command.Count - 1));
        lock (_db.Gate)
        {
            for (int i = 1; i < command.Count; i++)
            {
                replies.Add(_db.Lookup(command[i]) is byte[] value ? RespReply.Bulk(value) : RespReply.NullBulk);
            }
        }
    }

    private void MSet(RespCommand command, ReplyBuffer replies)
    {
        if (command.Count % 2 == 0)
        {
            replies.Add(Errors.WrongArity("mset"));
            return;
        }
        lock (_db.Gate)
        {
            for (int i = 1; i < command.Count; i += 2)
            {
                _db.Set(command[i], command.ToArray(i + 1));
            }
        }
        replies.Add(RespReply.Ok);
    }

    private void IncrBy(RespCommand command, bool negate, ReplyBuffer replies)
    {
        if (!RespNumber.TryParseInt64(command[2], out long delta))
        {
            replies.Add(Errors.NotInteger);
            return;
        }
        if (negate)
        {
            if (delta == long.MinValue)
            {
                replies.Add(Errors.DecrementOverflow);
                return;
            }
            delta = -delta;
        }
        IncrBy(command, delta, replies);
    }

    private void IncrBy(RespCommand command, long delta, ReplyBuffer replies)
    {
        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            long current = 0;
            switch (_db.Lookup(key))
            {
                case null:
                    break;
                case byte[] value:
                    if (!RespNumber.TryParseInt64(value, out current))
                    {
                        replies.Add(Errors.NotInteger);
                        return;
                    }
                    break;
                default:
                    replies.Add(Errors.WrongType);
                    return;
            }
            if ((delta < 0 && current < 0 && delta < long.MinValue - current)
                || (delta > 0 && current > 0 && delta > long.MaxValue - current))
            {
                replies.Add(Errors.Overflow);
                return;
            }
            long result = current + delta;
            Span<byte> text = stackalloc byte[24];
            int n = RespNumber.Format(result, text);
            _db.Set(key, text[..n].ToArray(), keepTtl: true);
            replies.Add(RespReply.FromInteger(result));
        }
    }

    private void Append(RespCommand command, ReplyBuffer replies)
    {
        ReadOnlySpan<byte> key = command[1];
        ReadOnlySpan<byte> suffix = command[2];
        lock (_db.Gate)
        {
            switch (_db.Lookup(key))
            {
                case null:
                    _db.Set(key, suffix.ToArray());
                    replies.Add(RespReply.FromInteger(suffix.Length));
                    break;
                case byte[] value:
                    if ((long)value.Length + suffix.Length > RespDecoder.MaxBulkLength)
                    {
                        replies.Add(Errors.StringTooLong);
                        return;
                    }
                    // Values are immutable (a reply may still refer to the old one): build a new array.
                    byte[] joined = new byte[value.Length + suffix.Length];
                    value.CopyTo(joined, 0);
                    suffix.CopyTo(joined.AsSpan(value.Length));
                    _db.Set(key, joined, keepTtl: true);
                    replies.Add(RespReply.FromInteger(joined.Length));
                    break;
                default:
                    replies.Add(Errors.WrongType);
                    break;
            }
        }
    }

    private void StrLen(RespCommand command, ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            replies.Add(_db.Lookup(command[1]) switch
            {
                null => RespReply.FromInteger(0),
                byte[] value => RespReply.FromInteger(value.Length),
                _ => Errors.WrongType,
            });
        }
    }
}
