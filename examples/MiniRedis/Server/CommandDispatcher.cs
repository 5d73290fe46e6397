// Runs one request against the keyspace and the pub/sub hub, appending its replies to a ReplyBuffer.
//
// Invariants:
//  1. Execute is synchronous and allocation-free on the common paths (GET/SET/INCR/LPUSH/LPOP...): the command
//     name is upper-cased into a stack buffer and looked up by span; keys are looked up by span; only stored
//     values (and new keys) are copied out of the request.
//  2. Every keyspace command takes Db.Gate once and does all its work under it: commands are atomic.
//  3. Replies and error strings are Redis 7.0's byte for byte (checked against redis-server 7.0.15).
//  4. Execute never throws for anything a client sends: bad arguments become error replies.
using System.Text;
using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Executes commands.</summary>
public sealed partial class CommandDispatcher
{
    private static readonly Dictionary<byte[], CommandSpec> s_table = BuildTable();
    private static readonly Dictionary<byte[], CommandSpec>.AlternateLookup<ReadOnlySpan<byte>> s_lookup =
        s_table.GetAlternateLookup<ReadOnlySpan<byte>>();

    private readonly Db _db;
    private readonly PubSubHub _hub;
    private readonly ServerInfo _info;

    /// <summary>Creates a dispatcher over a keyspace and a hub.</summary>
    public CommandDispatcher(Db db, PubSubHub hub, ServerInfo info)
    {
        _db = db;
        _hub = hub;
        _info = info;
    }

    /// <summary>The keyspace.</summary>
    public Db Db => _db;

    /// <summary>The number of commands in the table (COMMAND COUNT).</summary>
    public static int CommandCount => s_table.Count;

    /// <summary>Executes <paramref name="command"/> for <paramref name="session"/>, appending its replies.</summary>
    public void Execute(RespCommand command, ClientSession session, ReplyBuffer replies)
    {
        if (!TryFind(command.Name, out CommandSpec? spec))
        {
            replies.Add(UnknownCommand(command));
            return;
        }
        if (!spec.AcceptsArgumentCount(command.Count))
        {
            replies.Add(Errors.WrongArity(spec.Name));
            return;
        }
        if (session.SubscriptionCount > 0 && !spec.AllowedWhenSubscribed)
        {
            replies.Add(RespReply.Error($"ERR Can't execute '{spec.Name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
            return;
        }

        switch (spec.Id)
        {
            case CommandId.Ping: Ping(command, session, replies); break;
            case CommandId.Echo: replies.Add(RespReply.Bulk(command.GetMemory(1))); break;
            case CommandId.Get: Get(command, replies); break;
            case CommandId.Set: Set(command, replies); break;
            case CommandId.SetNx: SetNx(command, replies); break;
            case CommandId.SetEx: SetEx(command, spec.Name, 1000, replies); break;
            case CommandId.PSetEx: SetEx(command, spec.Name, 1, replies); break;
            case CommandId.MGet: MGet(command, replies); break;
            case CommandId.MSet: MSet(command, replies); break;
            case CommandId.Del: Del(command, replies); break;
            case CommandId.Exists: Exists(command, replies); break;
            case CommandId.Incr: IncrBy(command, 1, replies); break;
            case CommandId.Decr: IncrBy(command, -1, replies); break;
            case CommandId.IncrBy: IncrBy(command, negate: false, replies); break;
            case CommandId.DecrBy: IncrBy(command, negate: true, replies); break;
            case CommandId.Append: Append(command, replies); break;
            case CommandId.StrLen: StrLen(command, replies); break;
            case CommandId.Expire: Expire(command, spec.Name, 1000, replies); break;
            case CommandId.PExpire: Expire(command, spec.Name, 1, replies); break;
            case CommandId.Ttl: Ttl(command, milliseconds: false, replies); break;
            case CommandId.PTtl: Ttl(command, milliseconds: true, replies); break;
            case CommandId.Persist: Persist(command, replies); break;
            case CommandId.Keys: Keys(command, replies); break;
            case CommandId.DbSize: DbSize(replies); break;
            case CommandId.FlushDb:
            case CommandId.FlushAll: Flush(command, replies); break;
            case CommandId.LPush: Push(command, head: true, replies); break;
            case CommandId.RPush: Push(command, head: false, replies); break;
            case CommandId.LPop: Pop(command, head: true, replies); break;
            case CommandId.RPop: Pop(command, head: false, replies); break;
            case CommandId.LRange: LRange(command, replies); break;
            case CommandId.LLen: LLen(command, replies); break;
            case CommandId.Publish: replies.Add(RespReply.FromInteger(_hub.Publish(command.ToArray(1), command.ToArray(2)))); break;
            case CommandId.Subscribe: Subscribe(command, session, isPattern: false, replies); break;
            case CommandId.PSubscribe: Subscribe(command, session, isPattern: true, replies); break;
            case CommandId.Unsubscribe: Unsubscribe(command, session, isPattern: false, replies); break;
            case CommandId.PUnsubscribe: Unsubscribe(command, session, isPattern: true, replies); break;
            case CommandId.Quit:
                replies.Add(RespReply.Ok);
                session.CloseAfterReply = true;
                break;
            case CommandId.Reset: Reset(session, replies); break;
            case CommandId.Hello: Hello(command, session, replies); break;
            case CommandId.Client: Client(command, session, replies); break;
            case CommandId.Select: Select(command, replies); break;
            case CommandId.Config: Config(command, replies); break;
            case CommandId.Command: Command(command, replies); break;
            case CommandId.Info: Info(replies); break;
        }
    }

    /// <summary>Finds a command by name, ignoring ASCII case, without allocating.</summary>
    public static bool TryFind(ReadOnlySpan<byte> name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CommandSpec? spec)
    {
        spec = null;
        if (name.Length > 16)
        {
            return false;
        }
        Span<byte> upper = stackalloc byte[16];

        // A byte outside ASCII stops the conversion there: the name is then no command at all, not the command
        // spelled by the part before it ("GET\xff" used to run GET).
        return Ascii.ToUpper(name, upper, out int written) == System.Buffers.OperationStatus.Done
            && s_lookup.TryGetValue(upper[..written], out spec);
    }

    private static RespReply UnknownCommand(RespCommand command)
    {
        // Redis: "unknown command '%.128s', with args beginning with: " then "'%.*s' " per argument while the
        // list is under 128 bytes, each argument cut to what is left of the 128; CR and LF become spaces.
        var message = new List<byte>(192);
        message.AddRange("ERR unknown command '"u8.ToArray());
        ReadOnlySpan<byte> name = command.Name;
        AddSanitized(message, name[..Math.Min(name.Length, 128)]);
        message.AddRange("', with args beginning with: "u8.ToArray());
        int args = 0;
        for (int i = 1; i < command.Count && args < 128; i++)
        {
            ReadOnlySpan<byte> arg = command[i];
            int take = Math.Min(arg.Length, 128 - args);
            message.Add((byte)'\'');
            AddSanitized(message, arg[..take]);
            message.Add((byte)'\'');
            message.Add((byte)' ');
            args += take + 3;
        }
        return RespReply.Error(message.ToArray());
    }

    private static void AddSanitized(List<byte> message, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            message.Add(b is (byte)'\r' or (byte)'\n' ? (byte)' ' : b);
        }
    }

    private static Dictionary<byte[], CommandSpec> BuildTable()
    {
        CommandSpec[] specs =
        [
            new(CommandId.Ping, "ping", -1, AllowedWhenSubscribed: true),
            new(CommandId.Echo, "echo", 2),
            new(CommandId.Get, "get", 2),
            new(CommandId.Set, "set", -3),
            new(CommandId.SetNx, "setnx", 3),
            new(CommandId.SetEx, "setex", 4),
            new(CommandId.PSetEx, "psetex", 4),
            new(CommandId.MGet, "mget", -2),
            new(CommandId.MSet, "mset", -3),
            new(CommandId.Del, "del", -2),
            new(CommandId.Del, "unlink", -2),
            new(CommandId.Exists, "exists", -2),
            new(CommandId.Incr, "incr", 2),
            new(CommandId.IncrBy, "incrby", 3),
            new(CommandId.Decr, "decr", 2),
            new(CommandId.DecrBy, "decrby", 3),
            new(CommandId.Append, "append", 3),
            new(CommandId.StrLen, "strlen", 2),
            new(CommandId.Expire, "expire", -3),
            new(CommandId.PExpire, "pexpire", -3),
            new(CommandId.Ttl, "ttl", 2),
            new(CommandId.PTtl, "pttl", 2),
            new(CommandId.Persist, "persist", 2),
            new(CommandId.Keys, "keys", 2),
            new(CommandId.DbSize, "dbsize", 1),
            new(CommandId.FlushDb, "flushdb", -1),
            new(CommandId.FlushAll, "flushall", -1),
            new(CommandId.LPush, "lpush", -3),
            new(CommandId.RPush, "rpush", -3),
            new(CommandId.LPop, "lpop", -2),
            new(CommandId.RPop, "rpop", -2),
            new(CommandId.LRange, "lrange", 4),
            new(CommandId.LLen, "llen", 2),
            new(CommandId.Publish, "publish", 3),
            new(CommandId.Subscribe, "subscribe", -2, AllowedWhenSubscribed: true),
            new(CommandId.Unsubscribe, "unsubscribe", -1, AllowedWhenSubscribed: true),
            new(CommandId.PSubscribe, "psubscribe", -2, AllowedWhenSubscribed: true),
            new(CommandId.PUnsubscribe, "punsubscribe", -1, AllowedWhenSubscribed: true),
            new(CommandId.Quit, "quit", -1, AllowedWhenSubscribed: true),
            new(CommandId.Reset, "reset", 1, AllowedWhenSubscribed: true),
            new(CommandId.Hello, "hello", -1),
            new(CommandId.Client, "client", -2),
            new(CommandId.Select, "select", 2),
            new(CommandId.Config, "config", -2),
            new(CommandId.Command, "command", -1),
            new(CommandId.Info, "info", -1),
        ];
        var table = new Dictionary<byte[], CommandSpec>(ByteKeyComparer.Instance);
        foreach (CommandSpec spec in specs)
        {
            table.Add(Encoding.ASCII.GetBytes(spec.Name.ToUpperInvariant()), spec);
        }
        return table;
    }
}
