namespace MiniRedis.Server;

/// <summary>A list value: a ring-buffer deque of byte strings (O(1) push/pop at both ends and indexing).</summary>
/// <remarks>Not thread-safe: used under <see cref="Db.Gate"/> only.</remarks>
public sealed class RedisList
{
    private byte[][] _items = new byte[4][];
    private int _head;
    private int _count;

    /// <summary>The number of elements.</summary>
    public int Count => _count;

    /// <summary>Element <paramref name="index"/> (0 = head).</summary>
    public byte[] this[int index] => _items[(_head + index) & (_items.Length - 1)];

    /// <summary>Adds at the head.</summary>
    public void PushHead(byte[] value)
    {
        Grow();
        _head = (_head - 1) & (_items.Length - 1);
        _items[_head] = value;
        _count++;
    }

    /// <summary>Adds at the tail.</summary>
    public void PushTail(byte[] value)
    {
        Grow();
        _items[(_head + _count) & (_items.Length - 1)] = value;
        _count++;
    }

    /// <summary>Removes and returns the head element; the list must not be empty.</summary>
    public byte[] PopHead()
    {
        byte[] value = _items[_head];
        _items[_head] = null!;
        _head = (_head + 1) & (_items.Length - 1);
        _count--;
        return value;
    }

    /// <summary>Removes and returns the tail element; the list must not be empty.</summary>
    public byte[] PopTail()
    {
        int tail = (_head + _count - 1) & (_items.Length - 1);
        byte[] value = _items[tail];
        _items[tail] = null!;
        _count--;
        return value;
    }

    private void Grow()
    {
        if (_count < _items.Length)
        {
            return;
        }
        var bigger = new byte[_items.Length * 2][];
        for (int i = 0; i < _count; i++)
        {
            bigger[i] = this[i];
        }
        _items = bigger;
        _head = 0;
    }
}
