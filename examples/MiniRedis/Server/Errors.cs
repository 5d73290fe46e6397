using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>Redis's error replies, word for word.</summary>
public static class Errors
{
    /// <summary>-WRONGTYPE.</summary>
    public static readonly RespReply WrongType = RespReply.Error("WRONGTYPE Operation against a key holding the wrong kind of value");

    /// <summary>Not an integer.</summary>
    public static readonly RespReply NotInteger = RespReply.Error("ERR value is not an integer or out of range");

    /// <summary>Syntax error.</summary>
    public static readonly RespReply Syntax = RespReply.Error("ERR syntax error");

    /// <summary>INCR overflow.</summary>
    public static readonly RespReply Overflow = RespReply.Error("ERR increment or decrement would overflow");

    /// <summary>DECRBY of the minimum value.</summary>
    public static readonly RespReply DecrementOverflow = RespReply.Error("ERR decrement would overflow");

    /// <summary>A count that must be positive.</summary>
    public static readonly RespReply MustBePositive = RespReply.Error("ERR value is out of range, must be positive");

    /// <summary>SELECT beyond database 0.</summary>
    public static readonly RespReply DbIndexOutOfRange = RespReply.Error("ERR DB index is out of range");

    /// <summary>APPEND beyond 512 MB.</summary>
    public static readonly RespReply StringTooLong = RespReply.Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

    /// <summary>Wrong argument count for <paramref name="command"/> (lower-case, "config|get" for subcommands).</summary>
    public static RespReply WrongArity(string command) => RespReply.Error($"ERR wrong number of arguments for '{command}' command");

    /// <summary>An invalid expiry for <paramref name="command"/>.</summary>
    public static RespReply InvalidExpire(string command) => RespReply.Error($"ERR invalid expire time in '{command}' command");

    /// <summary>An unknown subcommand.</summary>
    public static RespReply UnknownSubcommand(string subcommand, string command) => RespReply.Error($"ERR unknown subcommand '{Sanitize(subcommand)}'. Try {command} HELP.");

    /// <summary>Redis replaces CR and LF in error messages with spaces, so the reply stays one line.</summary>
    public static string Sanitize(string text) => text.Replace('\r', ' ').Replace('\n', ' ');
}
