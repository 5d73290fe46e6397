using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// Something that runs commands: a <see cref="RedisConnection"/> or a <see cref="RedisPool"/>. The typed helpers
/// (<see cref="RedisCommands"/>) are extension methods over it.
/// </summary>
public interface IRedisExecutor
{
    /// <summary>
    /// Sends <paramref name="command"/> and returns its reply. An error reply throws
    /// <see cref="RedisServerException"/>; other replies (including errors nested in arrays) are returned.
    /// </summary>
    /// <param name="command">The command name and arguments.</param>
    /// <param name="timeout">How long to wait for the reply; null for <see cref="RedisClientOptions.CommandTimeout"/>,
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no bound.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <remarks>
    /// <b>Cancel safety:</b> a call cancelled (or timed out) before its bytes were written is never sent; one
    /// cancelled after may still run on the server, and its reply is read and dropped, so later commands on the
    /// same connection still get their own replies.
    /// </remarks>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">The connection is broken or broke before the reply.</exception>
    /// <exception cref="RedisTimeoutException">No reply within the timeout.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    ValueTask<RespValue> ExecuteAsync(RedisCommand command, TimeSpan? timeout, CancellationToken cancellationToken = default);
}
