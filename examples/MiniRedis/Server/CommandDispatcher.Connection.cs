using System.Text;
using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Connection and server commands.</summary>
public sealed partial class CommandDispatcher
{
    private static readonly byte[] s_pong = "pong"u8.ToArray();
    private static readonly byte[] s_reset = "RESET"u8.ToArray();

    // What CONFIG GET answers, enough for redis-benchmark and redis-cli to start without warnings.
    private static readonly (byte[] Name, byte[] Value)[] s_config =
    [
        ("appendonly"u8.ToArray(), "no"u8.ToArray()),
        ("save"u8.ToArray(), []),
        ("databases"u8.ToArray(), "1"u8.ToArray()),
        ("maxmemory"u8.ToArray(), "0"u8.ToArray()),
        ("proto-max-bulk-len"u8.ToArray(), "536870912"u8.ToArray()),
    ];

    private static void Ping(RespCommand command, ClientSession session, ReplyBuffer replies)
    {
        if (command.Count > 2)
        {
            replies.Add(Errors.WrongArity("ping"));
            return;
        }
        if (session.SubscriptionCount > 0)
        {
            replies.Add(RespReply.Array(2));
            replies.Add(RespReply.Bulk(s_pong));
            replies.Add(command.Count == 2 ? RespReply.Bulk(command.GetMemory(1)) : RespReply.Bulk(ReadOnlyMemory<byte>.Empty));
            return;
        }
        replies.Add(command.Count == 2 ? RespReply.Bulk(command.GetMemory(1)) : RespReply.Pong);
    }

    private void Reset(ClientSession session, ReplyBuffer replies)
    {
        UnsubscribeAll(session);
        session.Name = null;
        replies.Add(RespReply.Simple(s_reset));
    }

    private void Hello(RespCommand command, ClientSession session, ReplyBuffer replies)
    {
        if (command.Count >= 2)
        {
            if (!RespNumber.TryParseInt64(command[1], out long version))
            {
                replies.Add(RespReply.Error("ERR Protocol version is not an integer or out of range"));
                return;
            }
            if (version != 2)
            {
                // RESP3 is not implemented: refuse it the way Redis refuses versions it does not speak.
                replies.Add(RespReply.Error("NOPROTO unsupported protocol version"));
                return;
            }
        }
        byte[]? newName = null;
        bool setName = false;
        for (int i = 2; i < command.Count; i++)
        {
            if (command.Is(i, "AUTH"u8) && command.Count - i - 1 >= 2)
            {
                i += 2; // no passwords: the default user accepts any (as Redis's nopass default user does)
            }
            else if (command.Is(i, "SETNAME"u8) && command.Count - i - 1 >= 1)
            {
                newName = command.ToArray(++i);
                setName = true;
                if (!IsValidClientName(newName))
                {
                    replies.Add(RespReply.Error("ERR Client names cannot contain spaces, newlines or special characters."));
                    return;
                }
            }
            else
            {
                replies.Add(RespReply.Error($"ERR Syntax error in HELLO option '{Errors.Sanitize(command.GetString(i))}'"));
                return;
            }
        }
        if (setName)
        {
            session.Name = newName!.Length == 0 ? null : newName;
        }

        replies.Add(RespReply.Array(14));
        replies.Add(RespReply.Bulk("server"));
        replies.Add(RespReply.Bulk("redis"));
        replies.Add(RespReply.Bulk("version"));
        replies.Add(RespReply.Bulk(ServerInfo.Version));
        replies.Add(RespReply.Bulk("proto"));
        replies.Add(RespReply.FromInteger(2));
        replies.Add(RespReply.Bulk("id"));
        replies.Add(RespReply.FromInteger(session.Id));
        replies.Add(RespReply.Bulk("mode"));
        replies.Add(RespReply.Bulk("standalone"));
        replies.Add(RespReply.Bulk("role"));
        replies.Add(RespReply.Bulk("master"));
        replies.Add(RespReply.Bulk("modules"));
        replies.Add(RespReply.Array(0));
    }

    private static bool IsValidClientName(ReadOnlySpan<byte> name)
    {
        foreach (byte b in name)
        {
            if (b < (byte)'!' || b > (byte)'~')
            {
                return false;
            }
        }
        return true;
    }

    private static void Client(RespCommand command, ClientSession session, ReplyBuffer replies)
    {
        if (command.Is(1, "SETNAME"u8))
        {
            if (command.Count != 3)
            {
                replies.Add(Errors.WrongArity("client|setname"));
                return;
            }
            if (!IsValidClientName(command[2]))
            {
                replies.Add(RespReply.Error("ERR Client names cannot contain spaces, newlines or special characters."));
                return;
            }
            session.Name = command[2].IsEmpty ? null : command.ToArray(2);
            replies.Add(RespReply.Ok);
        }
        else if (command.Is(1, "GETNAME"u8))
        {
            replies.Add(command.Count != 2 ? Errors.WrongArity("client|getname") : RespReply.BulkOrNull(session.Name));
        }
        else if (command.Is(1, "ID"u8))
        {
            replies.Add(command.Count != 2 ? Errors.WrongArity("client|id") : RespReply.FromInteger(session.Id));
        }
        else
        {
            replies.Add(Errors.UnknownSubcommand(command.GetString(1), "CLIENT"));
        }
    }

    private static void Select(RespCommand command, ReplyBuffer replies)
    {
        if (!RespNumber.TryParseInt64(command[1], out long index))
        {
            replies.Add(Errors.NotInteger);
            return;
        }
        replies.Add(index == 0 ? RespReply.Ok : Errors.DbIndexOutOfRange);
    }

    private static void Config(RespCommand command, ReplyBuffer replies)
    {
        if (command.Is(1, "GET"u8))
        {
            if (command.Count < 3)
            {
                replies.Add(Errors.WrongArity("config|get"));
                return;
            }
            var matched = new List<int>();
            // Like Redis: every parameter matching any of the patterns, in the server's own order.
            for (int c = 0; c < s_config.Length; c++)
            {
                for (int i = 2; i < command.Count; i++)
                {
                    if (Glob.IsMatch(Lower(command[i]), s_config[c].Name))
                    {
                        matched.Add(c);
                        break;
                    }
                }
            }
            replies.Add(RespReply.Array(matched.Count * 2));
            foreach (int c in matched)
            {
                replies.Add(RespReply.Bulk(s_config[c].Name));
                replies.Add(RespReply.Bulk(s_config[c].Value));
            }
        }
        else if (command.Is(1, "RESETSTAT"u8))
        {
            replies.Add(command.Count != 2 ? Errors.WrongArity("config|resetstat") : RespReply.Ok);
        }
        else
        {
            replies.Add(Errors.UnknownSubcommand(command.GetString(1), "CONFIG"));
        }
    }

    private static byte[] Lower(ReadOnlySpan<byte> text)
    {
        byte[] lower = new byte[text.Length];
        Ascii.ToLower(text, lower, out _);
        return lower;
    }

    private static void Command(RespCommand command, ReplyBuffer replies)
    {
        if (command.Count == 1 || command.Is(1, "DOCS"u8))
        {
            // No command metadata: redis-cli then simply shows no hints.
            replies.Add(RespReply.Array(0));
        }
        else if (command.Is(1, "COUNT"u8))
        {
            replies.Add(RespReply.FromInteger(CommandCount));
        }
        else if (command.Is(1, "INFO"u8))
        {
            replies.Add(RespReply.Array(command.Count - 2));
            for (int i = 2; i < command.Count; i++)
            {
                replies.Add(RespReply.NullBulk);
            }
        }
        else
        {
            replies.Add(Errors.UnknownSubcommand(command.GetString(1), "COMMAND"));
        }
    }

    private void Info(ReplyBuffer replies)
    {
        int keys;
        int expires;
        lock (_db.Gate)
        {
            keys = _db.Count;
            expires = _db.ExpiresCount;
        }
        var text = new StringBuilder();
        text.Append("# Server\r\n");
        text.Append("redis_version:").Append(ServerInfo.Version).Append("\r\n");
        text.Append("redis_mode:standalone\r\n");
        text.Append("os:").Append(Environment.OSVersion.Platform).Append("\r\n");
        text.Append("arch_bits:64\r\n");
        text.Append("process_id:").Append(Environment.ProcessId).Append("\r\n");
        text.Append("tcp_port:").Append(_info.Port).Append("\r\n");
        text.Append("\r\n# Clients\r\n");
        text.Append("connected_clients:").Append(_info.ConnectedClients).Append("\r\n");
        text.Append("\r\n# Persistence\r\n");
        text.Append("loading:0\r\n");
        text.Append("\r\n# Replication\r\n");
        text.Append("role:master\r\n");
        text.Append("connected_slaves:0\r\n");
        text.Append("\r\n# Keyspace\r\n");
        if (keys > 0)
        {
            text.Append("db0:keys=").Append(keys).Append(",expires=").Append(expires).Append(",avg_ttl=0\r\n");
        }
        replies.Add(RespReply.Bulk(text.ToString()));
    }
}
