// Design of RedisPool:
// - PoolSize slots, each holding at most one RedisConnection. A call picks the next slot round-robin and
//   pipelines on its connection: no lease, so one connection carries many callers at once.
// - An AsyncSemaphore of MaxInFlight permits bounds the commands in flight through the pool (a call holds one
//   permit until its reply); callers past the bound wait in FIFO order.
// - Reconnect: a slot whose connection broke (IsConnected false) is replaced by the next call that lands on it,
//   under the slot's gate (an AsyncSemaphore of 1), so one caller connects while the others on that slot wait for
//   it. After a failed attempt the slot remembers when the next may start (exponential backoff between
//   ReconnectMinBackoff and ReconnectMaxBackoff); a call that arrives earlier waits out the rest of the backoff
//   (bounded by its token) and then tries. A failed attempt throws RedisConnectionException to its caller.
// Threads: a slot's Connection is written only under its gate and read without it (a volatile snapshot);
// Failures and NextAttempt only under the gate.
using Kyoto.Sync;
using Kyoto.Time;
using MiniRedis.Client.Protocol;

namespace MiniRedis.Client;

/// <summary>
/// A pool of <see cref="RedisClientOptions.PoolSize"/> pipelining connections, used round-robin, that
/// reconnects (with backoff) after a connection breaks, for example when the server restarts.
/// </summary>
/// <remarks>
/// Connections are opened lazily by the first calls. Calls that are in flight at the same time may go to different
/// connections and so run in any order; a caller that needs its commands to run in order awaits each before
/// sending the next, or pipelines on one connection from <see cref="GetConnectionAsync"/>. Calls in flight on a connection that breaks fail with
/// <see cref="RedisConnectionException"/>; the next call on that slot reconnects. Must be used on a Kyoto runtime.
/// </remarks>
/// <example>
/// <code>
/// await using var pool = new RedisPool(new RedisClientOptions { Port = 6379, PoolSize = 4 });
/// await pool.SetAsync("k", "v");
/// long hits = await pool.IncrAsync("hits");
/// </code>
/// </example>
public sealed class RedisPool : IRedisExecutor, IAsyncDisposable
{
    private readonly RedisClientOptions _options;
    private readonly Slot[] _slots;
    private readonly AsyncSemaphore _inFlight;
    private int _next = -1;
    private volatile bool _disposed;

    /// <summary>Creates a pool; no connection is opened until the first call.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="RedisClientOptions.PoolSize"/> or
    /// <see cref="RedisClientOptions.MaxInFlight"/> is not positive.</exception>
    public RedisPool(RedisClientOptions? options = null)
    {
        _options = options?.Clone() ?? new RedisClientOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.PoolSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxInFlight, nameof(options));
        _slots = new Slot[_options.PoolSize];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot();
        }

        _inFlight = new AsyncSemaphore(_options.MaxInFlight);
    }

    /// <summary>How many connections are currently open and healthy.</summary>
    public int ConnectedCount => _slots.Count(s => s.Connection is { IsConnected: true });

    /// <summary>How many connections the pool has opened in all (reconnects included).</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);

    private int _opened;

    /// <summary>Sends a command (its name then its arguments) with the default timeout and returns its reply.</summary>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisConnectionException">No connection could be made, or it broke before the reply.</exception>
    /// <exception cref="RedisTimeoutException">No reply within <see cref="RedisClientOptions.CommandTimeout"/>.</exception>
    public ValueTask<RespValue> ExecuteAsync(params RedisArgument[] command) => ExecuteAsync(new RedisCommand(command), null, default);

    /// <inheritdoc />
    /// <remarks>
    /// Waits for a permit (<see cref="RedisClientOptions.MaxInFlight"/>) and, on a slot that needs it, for a
    /// reconnection, then pipelines on the slot's connection. <b>Cancel safety:</b> as
    /// <see cref="RedisConnection.ExecuteAsync(RedisCommand, TimeSpan?, CancellationToken)"/>; a call cancelled
    /// while waiting for its permit or a connection has sent nothing.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public async ValueTask<RespValue> ExecuteAsync(RedisCommand command, TimeSpan? timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using SemaphorePermit permit = await _inFlight.AcquireAsync(cancellationToken).ConfigureAwait(true);
        RedisConnection connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(true);
        return await connection.ExecuteAsync(command, timeout, cancellationToken).ConfigureAwait(true);
    }

    /// <summary>
    /// The next connection in round-robin order, reconnecting it first if it broke. The connection stays shared:
    /// pipeline on it, do not dispose it.
    /// </summary>
    /// <remarks><b>Cancel safety:</b> safe: a connection opened by a cancelled call is kept for the next one.</remarks>
    /// <exception cref="RedisConnectionException">The reconnection attempt failed.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public ValueTask<RedisConnection> GetConnectionAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        uint index = (uint)Interlocked.Increment(ref _next) % (uint)_slots.Length;
        Slot slot = _slots[index];
        RedisConnection? current = slot.Connection;
        return current is { IsConnected: true } ? new ValueTask<RedisConnection>(current) : ReconnectAsync(slot, cancellationToken);
    }

    private async ValueTask<RedisConnection> ReconnectAsync(Slot slot, CancellationToken cancellationToken)
    {
        using SemaphorePermit gate = await slot.Gate.AcquireAsync(cancellationToken).ConfigureAwait(true);
        RedisConnection? current = slot.Connection;
        if (current is { IsConnected: true })
        {
            return current; // another caller reconnected while this one waited
        }

        long wait = slot.NextAttempt - Environment.TickCount64;
        if (wait > 0)
        {
            await KyotoTime.Sleep(TimeSpan.FromMilliseconds(wait), cancellationToken);
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            RedisConnection fresh = await RedisConnection.ConnectAsync(_options, cancellationToken).ConfigureAwait(true);
            current?.Dispose();
            slot.Failures = 0;
            slot.NextAttempt = 0;
            slot.Connection = fresh;
            Interlocked.Increment(ref _opened);
            if (_disposed)
            {
                fresh.Dispose();
            }

            return fresh;
        }
        catch (RedisConnectionException)
        {
            slot.Failures++;
            slot.NextAttempt = Environment.TickCount64 + (long)_options.Backoff(slot.Failures).TotalMilliseconds;
            throw;
        }
    }

    /// <summary>Closes every connection (calls in flight fail) and refuses later calls.</summary>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        foreach (Slot slot in _slots)
        {
            if (slot.Connection is { } connection)
            {
                await connection.DisposeAsync().ConfigureAwait(true);
            }
        }
    }

    private sealed class Slot
    {
        private RedisConnection? _connection;

        /// <summary>Held while (re)connecting.</summary>
        public AsyncSemaphore Gate { get; } = new(1);

        /// <summary>Written under <see cref="Gate"/>, read without it.</summary>
        public RedisConnection? Connection
        {
            get => Volatile.Read(ref _connection);
            set => Volatile.Write(ref _connection, value);
        }

        /// <summary>Consecutive failed attempts (under <see cref="Gate"/>).</summary>
        public int Failures { get; set; }

        /// <summary>Environment.TickCount64 before which no attempt starts (under <see cref="Gate"/>).</summary>
        public long NextAttempt { get; set; }
    }
}
