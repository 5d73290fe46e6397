using MiniRedis.Client.Protocol;

namespace MiniRedis.Client.Internal;

/// <summary>Runs commands on <c>inner</c> with a fixed timeout wherever the caller left it unset (null).</summary>
internal sealed class TimeoutExecutor(IRedisExecutor inner, TimeSpan timeout) : IRedisExecutor
{
    public ValueTask<RespValue> ExecuteAsync(RedisCommand command, TimeSpan? callTimeout, CancellationToken cancellationToken = default)
        => inner.ExecuteAsync(command, callTimeout ?? timeout, cancellationToken);
}
