using System.Runtime.CompilerServices;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// Typed helpers over <see cref="IRedisExecutor.ExecuteAsync"/> for common commands, usable on a
/// <see cref="RedisConnection"/> or a <see cref="RedisPool"/>. Each waits at most
/// <see cref="RedisClientOptions.CommandTimeout"/> (or the bound given to <see cref="WithTimeout"/>) and takes a
/// <see cref="CancellationToken"/>; the cancel safety of <see cref="IRedisExecutor.ExecuteAsync"/> applies to all of
/// them.
/// </summary>
/// <example>
/// <code>
/// await redis.SetAsync("session:42", "data", expiry: TimeSpan.FromMinutes(30));
/// bool created = await redis.SetAsync("lock", "owner", TimeSpan.FromSeconds(10), SetCondition.IfNotExists);
/// string?[] values = await redis.MGetAsync(["a", "b"]);
/// </code>
/// </example>
public static class RedisCommands
{
    /// <summary>
    /// A view of <paramref name="redis"/> whose commands wait at most <paramref name="timeout"/> for their reply
    /// (instead of <see cref="RedisClientOptions.CommandTimeout"/>): the per-call timeout of the typed helpers,
    /// as in <c>await redis.WithTimeout(TimeSpan.FromMilliseconds(200)).GetAsync("k")</c>.
    /// </summary>
    /// <param name="redis">The connection or pool.</param>
    /// <param name="timeout">The bound; <see cref="Timeout.InfiniteTimeSpan"/> for none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative and not infinite.</exception>
    public static IRedisExecutor WithTimeout(this IRedisExecutor redis, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(redis);
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive or infinite.");
        }

        return new Internal.TimeoutExecutor(redis, timeout);
    }

    /// <summary><c>PING</c>: returns the server's answer (<c>PONG</c>).</summary>
    /// <exception cref="RedisConnectionException">The connection is broken.</exception>
    /// <exception cref="RedisTimeoutException">No reply in time.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string> PingAsync(this IRedisExecutor redis, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "PING").ConfigureAwait(true)).AsString() ?? "";

    /// <summary><c>GET key</c> as UTF-8 text; null when the key does not exist.</summary>
    /// <exception cref="RedisServerException">The key holds a non-string value (WRONGTYPE).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string?> GetAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "GET", key).ConfigureAwait(true)).AsString();

    /// <summary><c>GET key</c> as bytes; null when the key does not exist.</summary>
    /// <exception cref="RedisServerException">The key holds a non-string value (WRONGTYPE).</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<byte[]?> GetBytesAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "GET", key).ConfigureAwait(true)).ToByteArray();

    /// <summary>
    /// <c>SET key value [PX ms] [NX|XX]</c>. Returns true if the value was written, false if the condition
    /// prevented it.
    /// </summary>
    /// <param name="redis">The connection or pool.</param>
    /// <param name="key">The key.</param>
    /// <param name="value">Text, bytes or an integer.</param>
    /// <param name="expiry">Time to live (millisecond precision); null for none.</param>
    /// <param name="condition">When to write. Defaults to <see cref="SetCondition.Always"/>.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiry"/> is not positive.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> SetAsync(this IRedisExecutor redis, string key, RedisArgument value, TimeSpan? expiry = null,
        SetCondition condition = SetCondition.Always, CancellationToken cancellationToken = default)
    {
        int count = 3 + (expiry is null ? 0 : 2) + (condition == SetCondition.Always ? 0 : 1);
        var parts = new RedisArgument[count];
        parts[0] = "SET";
        parts[1] = key;
        parts[2] = value;
        int i = 3;
        if (expiry is { } ttl)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero, nameof(expiry));
            parts[i++] = "PX";
            parts[i++] = Math.Max(1L, (long)Math.Ceiling(ttl.TotalMilliseconds));
        }

        if (condition != SetCondition.Always)
        {
            parts[i] = condition == SetCondition.IfNotExists ? "NX" : "XX";
        }

        RespValue reply = await redis.ExecuteAsync(parts, null, cancellationToken).ConfigureAwait(true);
        return !reply.IsNull;
    }

    /// <summary><c>DEL key</c>: true if the key existed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> DelAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "DEL", key).ConfigureAwait(true)).AsInteger() == 1;

    /// <summary><c>DEL key [key ...]</c>: how many of the keys existed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> DelAsync(this IRedisExecutor redis, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => (await redis.ExecuteAsync(WithKeys("DEL", keys), null, cancellationToken).ConfigureAwait(true)).AsInteger();

    /// <summary><c>EXISTS key</c>: true if the key exists.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> ExistsAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "EXISTS", key).ConfigureAwait(true)).AsInteger() == 1;

    /// <summary><c>EXISTS key [key ...]</c>: how many of the keys exist (a key named twice counts twice).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> ExistsAsync(this IRedisExecutor redis, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => (await redis.ExecuteAsync(WithKeys("EXISTS", keys), null, cancellationToken).ConfigureAwait(true)).AsInteger();

    /// <summary><c>INCR key</c>: the value after the increment (a missing key counts as 0).</summary>
    /// <exception cref="RedisServerException">The value is not an integer.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> IncrAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "INCR", key).ConfigureAwait(true)).AsInteger();

    /// <summary><c>INCRBY key increment</c>: the value after the increment.</summary>
    /// <exception cref="RedisServerException">The value is not an integer, or the result overflows.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> IncrByAsync(this IRedisExecutor redis, string key, long increment, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "INCRBY", key, increment).ConfigureAwait(true)).AsInteger();

    /// <summary><c>PEXPIRE key ms</c>: true if the key exists and the time to live was set.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiry"/> is negative.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> ExpireAsync(this IRedisExecutor redis, string key, TimeSpan expiry, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expiry, TimeSpan.Zero);
        return (await Run(redis, cancellationToken, "PEXPIRE", key, (long)Math.Ceiling(expiry.TotalMilliseconds)).ConfigureAwait(true)).AsInteger() == 1;
    }

    /// <summary>
    /// <c>TTL key</c>: the remaining time to live in whole seconds; -1 when the key has no expiry, -2 when it does
    /// not exist (Redis's own convention).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> TtlAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "TTL", key).ConfigureAwait(true)).AsInteger();

    /// <summary><c>LPUSH key value</c>: the list's length afterwards.</summary>
    public static ValueTask<long> LPushAsync(this IRedisExecutor redis, string key, RedisArgument value, CancellationToken cancellationToken = default)
        => IntegerAsync(redis, cancellationToken, "LPUSH", key, value);

    /// <summary><c>LPUSH key value [value ...]</c> (each pushed to the head in turn): the list's length afterwards.</summary>
    public static ValueTask<long> LPushAsync(this IRedisExecutor redis, string key, IReadOnlyList<RedisArgument> values, CancellationToken cancellationToken = default)
        => IntegerAsync(redis, WithValues("LPUSH", key, values), cancellationToken);

    /// <summary><c>RPUSH key value</c>: the list's length afterwards.</summary>
    public static ValueTask<long> RPushAsync(this IRedisExecutor redis, string key, RedisArgument value, CancellationToken cancellationToken = default)
        => IntegerAsync(redis, cancellationToken, "RPUSH", key, value);

    /// <summary><c>RPUSH key value [value ...]</c>: the list's length afterwards.</summary>
    public static ValueTask<long> RPushAsync(this IRedisExecutor redis, string key, IReadOnlyList<RedisArgument> values, CancellationToken cancellationToken = default)
        => IntegerAsync(redis, WithValues("RPUSH", key, values), cancellationToken);

    /// <summary><c>LPOP key</c>: the head element as text; null when the list is empty or missing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string?> LPopAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "LPOP", key).ConfigureAwait(true)).AsString();

    /// <summary><c>RPOP key</c>: the tail element as text; null when the list is empty or missing.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string?> RPopAsync(this IRedisExecutor redis, string key, CancellationToken cancellationToken = default)
        => (await Run(redis, cancellationToken, "RPOP", key).ConfigureAwait(true)).AsString();

    /// <summary><c>LRANGE key start stop</c> (inclusive; negative indexes count from the tail) as text.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string[]> LRangeAsync(this IRedisExecutor redis, string key, long start = 0, long stop = -1, CancellationToken cancellationToken = default)
    {
        RespValue reply = await Run(redis, cancellationToken, "LRANGE", key, start, stop).ConfigureAwait(true);
        ReadOnlySpan<RespValue> elements = reply.AsSpanOfElements();
        var result = new string[elements.Length];
        for (int i = 0; i < elements.Length; i++)
        {
            result[i] = elements[i].AsString() ?? "";
        }

        return result;
    }

    /// <summary><c>PUBLISH channel message</c>: how many subscribers received it.</summary>
    public static ValueTask<long> PublishAsync(this IRedisExecutor redis, string channel, RedisArgument message, CancellationToken cancellationToken = default)
        => IntegerAsync(redis, cancellationToken, "PUBLISH", channel, message);

    /// <summary><c>MGET key [key ...]</c>: the values as text, null for each missing key (or non-string value).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<string?[]> MGetAsync(this IRedisExecutor redis, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        RespValue reply = await redis.ExecuteAsync(WithKeys("MGET", keys), null, cancellationToken).ConfigureAwait(true);
        ReadOnlySpan<RespValue> elements = reply.AsSpanOfElements();
        var result = new string?[elements.Length];
        for (int i = 0; i < elements.Length; i++)
        {
            result[i] = elements[i].AsString();
        }

        return result;
    }

    /// <summary><c>MSET key value [key value ...]</c>: sets every pair atomically.</summary>
    /// <exception cref="ArgumentException"><paramref name="pairs"/> is empty.</exception>
    public static async ValueTask MSetAsync(this IRedisExecutor redis, IReadOnlyList<KeyValuePair<string, RedisArgument>> pairs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0)
        {
            throw new ArgumentException("MSET needs at least one pair.", nameof(pairs));
        }

        var parts = new RedisArgument[1 + 2 * pairs.Count];
        parts[0] = "MSET";
        for (int i = 0; i < pairs.Count; i++)
        {
            parts[1 + 2 * i] = pairs[i].Key;
            parts[2 + 2 * i] = pairs[i].Value;
        }

        await redis.ExecuteAsync(parts, null, cancellationToken).ConfigureAwait(true);
    }

    private static ValueTask<RespValue> Run(IRedisExecutor redis, CancellationToken cancellationToken, params RedisArgument[] parts)
    {
        ArgumentNullException.ThrowIfNull(redis);
        return redis.ExecuteAsync(parts, null, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<long> IntegerAsync(IRedisExecutor redis, CancellationToken cancellationToken, params RedisArgument[] parts)
        => (await Run(redis, cancellationToken, parts).ConfigureAwait(true)).AsInteger();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<long> IntegerAsync(IRedisExecutor redis, RedisArgument[] parts, CancellationToken cancellationToken)
        => (await redis.ExecuteAsync(parts, null, cancellationToken).ConfigureAwait(true)).AsInteger();

    private static RedisArgument[] WithKeys(string command, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            throw new ArgumentException($"{command} needs at least one key.", nameof(keys));
        }

        var parts = new RedisArgument[1 + keys.Count];
        parts[0] = command;
        for (int i = 0; i < keys.Count; i++)
        {
            parts[1 + i] = keys[i];
        }

        return parts;
    }

    private static RedisArgument[] WithValues(string command, string key, IReadOnlyList<RedisArgument> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException($"{command} needs at least one value.", nameof(values));
        }

        var parts = new RedisArgument[2 + values.Count];
        parts[0] = command;
        parts[1] = key;
        for (int i = 0; i < values.Count; i++)
        {
            parts[2 + i] = values[i];
        }

        return parts;
    }
}
