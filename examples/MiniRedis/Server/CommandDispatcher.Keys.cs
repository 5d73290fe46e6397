using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Keyspace commands.</summary>
public sealed partial class CommandDispatcher
{
    [Flags]
    private enum ExpireFlags
    {
        None = 0,
        Nx = 1,
        Xx = 2,
        Gt = 4,
        Lt = 8,
    }

    private void Del(RespCommand command, ReplyBuffer replies)
    {
        int removed = 0;
        lock (_db.Gate)
        {
            for (int i = 1; i < command.Count; i++)
            {
                if (_db.Remove(command[i]))
                {
                    removed++;
                }
            }
        }
        replies.Add(RespReply.FromInteger(removed));
    }

    private void Exists(RespCommand command, ReplyBuffer replies)
    {
        int found = 0;
        lock (_db.Gate)
        {
            for (int i = 1; i < command.Count; i++)
            {
                if (_db.Lookup(command[i]) is not null)
                {
                    found++;
                }
            }
        }
        replies.Add(RespReply.FromInteger(found));
    }

    private void Expire(RespCommand command, string name, long unitMilliseconds, ReplyBuffer replies)
    {
        if (!RespNumber.TryParseInt64(command[2], out long amount))
        {
            replies.Add(Errors.NotInteger);
            return;
        }
        ExpireFlags flags = ExpireFlags.None;
        for (int i = 3; i < command.Count; i++)
        {
            if (command.Is(i, "NX"u8))
            {
                flags |= ExpireFlags.Nx;
            }
            else if (command.Is(i, "XX"u8))
            {
                flags |= ExpireFlags.Xx;
            }
            else if (command.Is(i, "GT"u8))
            {
                flags |= ExpireFlags.Gt;
            }
            else if (command.Is(i, "LT"u8))
            {
                flags |= ExpireFlags.Lt;
            }
            else
            {
                replies.Add(RespReply.Error($"ERR Unsupported option {Errors.Sanitize(command.GetString(i))}"));
                return;
            }
        }
        if ((flags & ExpireFlags.Nx) != 0 && (flags & (ExpireFlags.Xx | ExpireFlags.Gt | ExpireFlags.Lt)) != 0)
        {
            replies.Add(RespReply.Error("ERR NX and XX, GT or LT options at the same time are not compatible"));
            return;
        }
        if ((flags & ExpireFlags.Gt) != 0 && (flags & ExpireFlags.Lt) != 0)
        {
            replies.Add(RespReply.Error("ERR GT and LT options at the same time are not compatible"));
            return;
        }
        // Redis's overflow rules: the amount in ms, then the absolute unix time, must fit in 64 bits.
        if (unitMilliseconds == 1000 && (amount > long.MaxValue / 1000 || amount < long.MinValue / 1000))
        {
            replies.Add(Errors.InvalidExpire(name));
            return;
        }
        long ms = amount * unitMilliseconds;
        if (ms > long.MaxValue - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
        {
            replies.Add(Errors.InvalidExpire(name));
            return;
        }

        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            if (_db.Lookup(key) is null)
            {
                replies.Add(RespReply.FromInteger(0));
                return;
            }
            if (flags != ExpireFlags.None)
            {
                TimeSpan? current = _db.TimeToLive(key);
                long newTtl = ms;
                bool refuse = ((flags & ExpireFlags.Nx) != 0 && current is not null)
                    || ((flags & ExpireFlags.Xx) != 0 && current is null)
                    || ((flags & ExpireFlags.Gt) != 0 && (current is null || newTtl <= (long)current.Value.TotalMilliseconds))
                    || ((flags & ExpireFlags.Lt) != 0 && current is not null && newTtl >= (long)current.Value.TotalMilliseconds);
                if (refuse)
                {
                    replies.Add(RespReply.FromInteger(0));
                    return;
                }
            }
            _db.SetExpiry(key, ms <= 0 ? TimeSpan.Zero : ToTimeSpan(ms));
            replies.Add(RespReply.FromInteger(1));
        }
    }

    private void Ttl(RespCommand command, bool milliseconds, ReplyBuffer replies)
    {
        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            if (_db.Lookup(key) is null)
            {
                replies.Add(RespReply.FromInteger(-2));
                return;
            }
            if (_db.TimeToLive(key) is not { } left)
            {
                replies.Add(RespReply.FromInteger(-1));
                return;
            }
            long ms = (long)Math.Ceiling(left.TotalMilliseconds);
            replies.Add(RespReply.FromInteger(milliseconds ? ms : (ms + 500) / 1000));
        }
    }

    private void Persist(RespCommand command, ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            replies.Add(RespReply.FromInteger(_db.Persist(command[1]) ? 1 : 0));
        }
    }

    private void Keys(RespCommand command, ReplyBuffer replies)
    {
        List<byte[]> keys;
        lock (_db.Gate)
        {
            keys = _db.Keys(command[1]);
        }
        replies.Add(RespReply.Array(keys.Count));
        foreach (byte[] key in keys)
        {
            replies.Add(RespReply.Bulk(key));
        }
    }

    private void DbSize(ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            replies.Add(RespReply.FromInteger(_db.Count));
        }
    }

    private void Flush(RespCommand command, ReplyBuffer replies)
    {
        if (command.Count > 2 || (command.Count == 2 && !command.Is(1, "ASYNC"u8) && !command.Is(1, "SYNC"u8)))
        {
            replies.Add(Errors.Syntax);
            return;
        }
        lock (_db.Gate)
        {
            _db.Clear();
        }
        replies.Add(RespReply.Ok);
    }
}
