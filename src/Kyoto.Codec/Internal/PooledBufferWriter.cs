// A growable contiguous byte buffer rented from ArrayPool<byte>.Shared: the output buffer of the framed writers.
// Invariants: 0 <= _written <= _array.Length; bytes [0, _written) are the encoded, not yet consumed output.
// Growth rents a larger array, copies the written bytes and returns the old one; nothing is allocated once the
// buffer has reached the size the workload needs. Single-threaded: used by one framed writer at a time.
using System.Buffers;
using System.Diagnostics;

namespace Kyoto.Codec.Internal;

internal sealed class PooledBufferWriter : IBufferWriter<byte>
{
    private byte[] _array;
    private int _written;

    public PooledBufferWriter(int initialCapacity)
    {
        _array = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256));
    }

    /// <summary>The bytes written so far.</summary>
    public int WrittenCount => _written;

    public int Capacity => _array.Length;

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _written);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _array.Length - _written)
        {
            throw new InvalidOperationException($"Cannot advance past the end of the buffer ({count} > {_array.Length - _written}).");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureFree(sizeHint);
        return _array.AsSpan(_written);
    }

    /// <summary>Forgets the written bytes past <paramref name="count"/> (rolls back a failed encode).</summary>
    public void Truncate(int count)
    {
        Debug.Assert(count >= 0 && count <= _written, "truncating to a count within the written bytes");
        _written = count;
    }

    /// <summary>Empties the buffer; gives back an array grown past <paramref name="keepCapacity"/> for a smaller one.</summary>
    public void Reset(int keepCapacity)
    {
        _written = 0;
        if (_array.Length > keepCapacity)
        {
            byte[] old = _array;
            _array = ArrayPool<byte>.Shared.Rent(keepCapacity);
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    public void Release()
    {
        byte[] old = _array;
        _array = [];
        _written = 0;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    private void EnsureFree(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        int need = Math.Max(sizeHint, 1);
        if (_array.Length - _written >= need)
        {
            return;
        }

        if (_array.Length == 0)
        {
            throw new ObjectDisposedException(nameof(PooledBufferWriter));
        }

        long wanted = Math.Max((long)_array.Length * 2, (long)_written + need);
        if (wanted > Array.MaxLength)
        {
            wanted = (long)_written + need;
            if (wanted > Array.MaxLength)
            {
                throw new OutOfMemoryException("The framed writer's buffer cannot grow past Array.MaxLength.");
            }
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent((int)wanted);
        _array.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }
}
