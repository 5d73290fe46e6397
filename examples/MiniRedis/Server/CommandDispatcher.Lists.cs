using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>List commands.</summary>
public sealed partial class CommandDispatcher
{
    /// <summary>
    /// The list at <paramref name="key"/> (null if there is none), or false, with the WRONGTYPE error added to
    /// <paramref name="replies"/>, if the key holds something else. Call under <c>_db.Gate</c>.
    /// </summary>
    private bool TryGetList(ReadOnlySpan<byte> key, ReplyBuffer replies, out RedisList? list)
    {
        switch (_db.Lookup(key))
        {
            case null:
                list = null;
                return true;
            case RedisList existing:
                list = existing;
                return true;
            default:
                list = null;
                replies.Add(Errors.WrongType);
                return false;
        }
    }

    private void Push(RespCommand command, bool head, ReplyBuffer replies)
    {
        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            if (!TryGetList(key, replies, out RedisList? list))
            {
                return;
            }

            list ??= _db.Add(key, new RedisList());
            for (int i = 2; i < command.Count; i++)
            {
                if (head)
                {
                    list.PushHead(command.ToArray(i));
                }
                else
                {
                    list.PushTail(command.ToArray(i));
                }
            }
            replies.Add(RespReply.FromInteger(list.Count));
        }
    }

    private void Pop(RespCommand command, bool head, ReplyBuffer replies)
    {
        if (command.Count > 3)
        {
            replies.Add(Errors.Syntax);
            return;
        }
        bool hasCount = command.Count == 3;
        long count = 1;
        if (hasCount && (!RespNumber.TryParseInt64(command[2], out count) || count < 0))
        {
            replies.Add(Errors.MustBePositive);
            return;
        }

        ReadOnlySpan<byte> key = command[1];
        lock (_db.Gate)
        {
            if (!TryGetList(key, replies, out RedisList? list))
            {
                return;
            }

            if (list is null)
            {
                replies.Add(hasCount ? RespReply.NullArray : RespReply.NullBulk);
                return;
            }

            if (!hasCount)
            {
                replies.Add(RespReply.Bulk(head ? list.PopHead() : list.PopTail()));
            }
            else
            {
                int n = (int)Math.Min(count, list.Count);
                replies.Add(RespReply.Array(n));
                for (int i = 0; i < n; i++)
                {
                    replies.Add(RespReply.Bulk(head ? list.PopHead() : list.PopTail()));
                }
            }
            if (list.Count == 0)
            {
                _db.Remove(key);
            }
        }
    }

    private void LRange(RespCommand command, ReplyBuffer replies)
    {
        if (!RespNumber.TryParseInt64(command[2], out long start) || !RespNumber.TryParseInt64(command[3], out long end))
        {
            replies.Add(Errors.NotInteger);
            return;
        }
        lock (_db.Gate)
        {
            if (!TryGetList(command[1], replies, out RedisList? list))
            {
                return;
            }

            if (list is null)
            {
                replies.Add(RespReply.Array(0));
                return;
            }

            long length = list.Count;
            if (start < 0)
            {
                start = length + start;
            }
            if (end < 0)
            {
                end = length + end;
            }
            if (start < 0)
            {
                start = 0;
            }
            if (start > end || start >= length)
            {
                replies.Add(RespReply.Array(0));
                return;
            }
            if (end >= length)
            {
                end = length - 1;
            }
            int n = (int)(end - start + 1);
            replies.Add(RespReply.Array(n));
            for (int i = 0; i < n; i++)
            {
                replies.Add(RespReply.Bulk(list[(int)start + i]));
            }
        }
    }

    private void LLen(RespCommand command, ReplyBuffer replies)
    {
        lock (_db.Gate)
        {
            replies.Add(_db.Lookup(command[1]) switch
            {
                null => RespReply.FromInteger(0),
                RedisList list => RespReply.FromInteger(list.Count),
                _ => Errors.WrongType,
            });
        }
    }
}
