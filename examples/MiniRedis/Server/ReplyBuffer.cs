using MiniRedis.Protocol;

namespace MiniRedis.Server;

/// <summary>
/// The replies of the command being executed, in order. Commands run synchronously under the keyspace lock
/// and append here; the connection then feeds them to the framed writer. Reused: allocation-free once warm.
/// </summary>
public sealed class ReplyBuffer
{
    private RespReply[] _items = new RespReply[16];
    private int _count;

    /// <summary>The number of replies buffered.</summary>
    public int Count => _count;

    /// <summary>Reply <paramref name="index"/>.</summary>
    public ref readonly RespReply this[int index] => ref _items[index];

    /// <summary>Appends a reply.</summary>
    public void Add(in RespReply reply)
    {
        if (_count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }
        _items[_count++] = reply;
    }

    /// <summary>Forgets every reply (and the references they hold).</summary>
    public void Clear()
    {
        if (_items.Length > 4096)
        {
            _items = new RespReply[16];
        }
        else
        {
            Array.Clear(_items, 0, _count);
        }
        _count = 0;
    }
}
