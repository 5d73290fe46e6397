namespace MiniRedis.Client.Protocol;

/// <summary>
/// A reply exceeds one of the decoder's limits (<see cref="RespReplyDecoder.MaxBulkLength"/>,
/// <see cref="RespReplyDecoder.MaxNestingDepth"/>, <see cref="RespReplyDecoder.MaxLineLength"/>). Thrown before
/// anything sized by the reply is allocated.
/// </summary>
public sealed class RespLimitException : RespProtocolException
{
    /// <summary>Creates the exception naming the limit and the value that exceeded it.</summary>
    public RespLimitException(string limitName, long limit, long actual)
        : base($"RESP reply exceeds {limitName}: {actual} > {limit}.")
    {
        LimitName = limitName;
        Limit = limit;
        Actual = actual;
    }

    /// <summary>The name of the limit (for example <c>MaxBulkLength</c>).</summary>
    public string LimitName { get; }

    /// <summary>The configured limit.</summary>
    public long Limit { get; }

    /// <summary>The value found in the reply (for a line limit, the bytes buffered without a CRLF).</summary>
    public long Actual { get; }
}
