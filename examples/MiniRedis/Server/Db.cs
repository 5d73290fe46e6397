// The keyspace: keys (byte strings) to values (byte[] for strings, RedisList for lists), with optional
// expiry deadlines on Kyoto's clock (Instant, so a paused test runtime controls it).
//
// Invariants:
//  1. Every member except Gate must be called with Gate held. Connections on different workers share one Db;
//     a command takes the lock once and does all its work under it (commands are atomic, as in Redis).
//  2. Values are immutable once stored: a string value is replaced, never written in place, so a reply may
//     keep referring to a value after the lock is released (until it is encoded).
//  3. A key in _expires is also in _data and is the very same byte[] instance.
//  4. Expired keys are removed lazily by every access (Lookup) and actively by PurgeExpired, which a timer
//     task calls periodically: _expiryQueue holds (key, deadline) pairs in deadline order; an entry whose
//     deadline no longer matches _expires (persisted, re-expired, deleted) is stale and dropped when popped.
//     The queue is rebuilt from _expires when stale entries outnumber live ones, so it stays O(keys).
using System.Runtime.InteropServices;
using Kyoto.Time;

namespace MiniRedis.Server;

/// <summary>The keyspace with expiry.</summary>
public sealed class Db
{
    // Instant is bounded by the Stopwatch range: deadlines further than this are stored as this far.
    private static readonly TimeSpan s_maxTtl = TimeSpan.FromDays(365 * 100);

    private readonly Dictionary<byte[], object> _data = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], object>.AlternateLookup<ReadOnlySpan<byte>> _dataBySpan;
    private readonly Dictionary<byte[], Instant> _expires = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Instant>.AlternateLookup<ReadOnlySpan<byte>> _expiresBySpan;
    private readonly PriorityQueue<byte[], Instant> _expiryQueue = new();

    /// <summary>Creates an empty keyspace.</summary>
    public Db()
    {
        _dataBySpan = _data.GetAlternateLookup<ReadOnlySpan<byte>>();
        _expiresBySpan = _expires.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>The lock every other member requires.</summary>
    public Lock Gate { get; } = new();

    /// <summary>The number of keys (expired keys not yet purged included, as Redis's DBSIZE).</summary>
    public int Count => _data.Count;

    /// <summary>The number of keys with a deadline.</summary>
    public int ExpiresCount => _expires.Count;

    /// <summary>The value of <paramref name="key"/>, or null if absent or expired (then removed).</summary>
    public object? Lookup(ReadOnlySpan<byte> key)
    {
        if (!_dataBySpan.TryGetValue(key, out byte[]? actual, out object? value))
        {
            return null;
        }
        if (_expires.Count != 0 && _expires.TryGetValue(actual, out Instant deadline) && deadline <= Instant.Now)
        {
            _data.Remove(actual);
            _expires.Remove(actual);
            return null;
        }
        return value;
    }

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, dropping any deadline unless <paramref name="keepTtl"/>.</summary>
    public void Set(ReadOnlySpan<byte> key, object value, bool keepTtl = false)
    {
        ref object? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_dataBySpan, key, out bool exists);
        slot = value;
        if (exists && !keepTtl && _expires.Count != 0)
        {
            _expiresBySpan.Remove(key);
        }
    }

    /// <summary>Stores a new value under a key known to be absent, and returns it (for lists).</summary>
    public T Add<T>(ReadOnlySpan<byte> key, T value) where T : class
    {
        _dataBySpan[key] = value;
        return value;
    }

    /// <summary>Removes <paramref name="key"/>; true if it existed (and had not expired).</summary>
    public bool Remove(ReadOnlySpan<byte> key)
    {
        if (Lookup(key) is null)
        {
            return false;
        }
        _dataBySpan.Remove(key, out byte[]? actual, out _);
        if (_expires.Count != 0)
        {
            _expires.Remove(actual!);
        }
        return true;
    }

    /// <summary>Sets the deadline of an existing key; false if the key does not exist.</summary>
    public bool SetExpiry(ReadOnlySpan<byte> key, TimeSpan ttl)
    {
        if (Lookup(key) is null)
        {
            return false;
        }
        if (ttl <= TimeSpan.Zero)
        {
            return Remove(key);
        }
        _dataBySpan.TryGetValue(key, out byte[]? actual, out _);
        Instant deadline = Instant.Now + (ttl > s_maxTtl ? s_maxTtl : ttl);
        _expires[actual!] = deadline;
        _expiryQueue.Enqueue(actual!, deadline);
        if (_expiryQueue.Count > 1024 && _expiryQueue.Count > 2 * _expires.Count)
        {
            RebuildQueue();
        }
        return true;
    }

    /// <summary>Removes the deadline of a key; true if it had one.</summary>
    public bool Persist(ReadOnlySpan<byte> key) => Lookup(key) is not null && _expiresBySpan.Remove(key);

    /// <summary>The time left before <paramref name="key"/> expires: null if it has no deadline.</summary>
    public TimeSpan? TimeToLive(ReadOnlySpan<byte> key)
    {
        if (_expires.Count != 0 && _expiresBySpan.TryGetValue(key, out Instant deadline))
        {
            TimeSpan left = deadline - Instant.Now;
            return left < TimeSpan.Zero ? TimeSpan.Zero : left;
        }
        return null;
    }

    /// <summary>The live keys matching <paramref name="pattern"/>.</summary>
    public List<byte[]> Keys(ReadOnlySpan<byte> pattern)
    {
        var keys = new List<byte[]>();
        bool all = pattern.Length == 1 && pattern[0] == (byte)'*';
        Instant now = Instant.Now;
        foreach (byte[] key in _data.Keys)
        {
            if (_expires.Count != 0 && _expires.TryGetValue(key, out Instant deadline) && deadline <= now)
            {
                continue;
            }
            if (all || Glob.IsMatch(pattern, key))
            {
                keys.Add(key);
            }
        }
        return keys;
    }

    /// <summary>Removes every key.</summary>
    public void Clear()
    {
        _data.Clear();
        _expires.Clear();
        _expiryQueue.Clear();
    }

    /// <summary>
    /// Removes keys whose deadline has passed, at most <paramref name="max"/> of them (the timer task calls
    /// again soon when more remain). Returns how many it removed.
    /// </summary>
    public int PurgeExpired(int max)
    {
        Instant now = Instant.Now;
        int removed = 0;
        while (removed < max && _expiryQueue.TryPeek(out byte[]? key, out Instant deadline) && deadline <= now)
        {
            _expiryQueue.Dequeue();
            if (_expires.TryGetValue(key, out Instant current) && current == deadline)
            {
                _expires.Remove(key);
                _data.Remove(key);
                removed++;
            }
        }
        return removed;
    }

    private void RebuildQueue()
    {
        _expiryQueue.Clear();
        foreach (KeyValuePair<byte[], Instant> entry in _expires)
        {
            _expiryQueue.Enqueue(entry.Key, entry.Value);
        }
    }
}
