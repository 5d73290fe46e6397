namespace MiniRedis.Server;

/// <summary>The commands MiniRedis implements.</summary>
public enum CommandId
{
#pragma warning disable CS1591 // the names are the Redis commands
    Ping, Echo, Get, Set, SetNx, SetEx, PSetEx, MGet, MSet, Del, Exists, Incr, IncrBy, Decr, DecrBy, Append, StrLen,
    Expire, PExpire, Ttl, PTtl, Persist, Keys, DbSize, FlushDb, FlushAll,
    LPush, RPush, LPop, RPop, LRange, LLen,
    Publish, Subscribe, Unsubscribe, PSubscribe, PUnsubscribe,
    Quit, Reset, Hello, Client, Select, Config, Command, Info,
#pragma warning restore CS1591
}
