// One request: the arguments of a RESP array of bulk strings or of an inline command line.
//
// Invariants:
//  1. An instance belongs to one RespDecoder and is reused for every request it decodes: the arguments live in
//     the decoder's arena and stay valid only until the next TryDecode call on that decoder. A connection encodes
//     every reply that refers to them (ECHO, PING msg) before it decodes the next request.
//  2. Count >= 1 once decoded: empty requests (`*0`, blank inline lines) are skipped by the decoder.
//  3. Not thread-safe; used by the connection task only.
using System.Text;

namespace MiniRedis.Protocol;

/// <summary>A decoded request: its arguments, the first being the command name.</summary>
public sealed class RespCommand
{
    private const int InitialArena = 4096;
    private const int ShrinkAbove = 1 << 20;

    private byte[] _arena = new byte[InitialArena];
    private int _used;
    private Range[] _args = new Range[8];
    private int _count;

    /// <summary>The number of arguments, the command name included.</summary>
    public int Count => _count;

    /// <summary>The command name (argument 0), as sent.</summary>
    public ReadOnlySpan<byte> Name => this[0];

    /// <summary>Argument <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }
            return _arena.AsSpan(_args[index]);
        }
    }

    /// <summary>Argument <paramref name="index"/> as memory over the arena (valid until the next decode).</summary>
    public ReadOnlyMemory<byte> GetMemory(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }
        return _arena.AsMemory(_args[index]);
    }

    /// <summary>A copy of argument <paramref name="index"/>, to keep beyond the next decode.</summary>
    public byte[] ToArray(int index) => this[index].ToArray();

    /// <summary>Argument <paramref name="index"/> as text (for logs and error messages only).</summary>
    public string GetString(int index) => Encoding.UTF8.GetString(this[index]);

    /// <summary>True if argument <paramref name="index"/> equals <paramref name="upperAscii"/> ignoring ASCII case.</summary>
    public bool Is(int index, ReadOnlySpan<byte> upperAscii) => index < _count && Ascii.EqualsIgnoreCase(this[index], upperAscii);

    /// <summary>Builds a command from text arguments (tests and tools).</summary>
    public static RespCommand From(params string[] args)
    {
        var command = new RespCommand();
        command.Reset();
        foreach (string a in args)
        {
            command.Add(Encoding.UTF8.GetBytes(a));
        }
        return command;
    }

    internal void Reset()
    {
        if (_arena.Length > ShrinkAbove)
        {
            _arena = new byte[InitialArena];
        }
        if (_args.Length > 1024)
        {
            _args = new Range[8];
        }
        _used = 0;
        _count = 0;
    }

    /// <summary>Reserves room for an argument of <paramref name="length"/> bytes and returns it to fill.</summary>
    internal Span<byte> AddUninitialized(int length)
    {
        if (_count == _args.Length)
        {
            Array.Resize(ref _args, _args.Length * 2);
        }
        if (_arena.Length - _used < length)
        {
            int size = Math.Max(_arena.Length * 2, _used + length);
            Array.Resize(ref _arena, size);
        }
        _args[_count++] = new Range(_used, _used + length);
        Span<byte> span = _arena.AsSpan(_used, length);
        _used += length;
        return span;
    }

    internal void Add(ReadOnlySpan<byte> value) => value.CopyTo(AddUninitialized(value.Length));

    /// <summary>Shortens the last argument added to <paramref name="length"/> bytes.</summary>
    internal void TrimLast(int length)
    {
        Range last = _args[_count - 1];
        int start = last.Start.Value;
        _used = start + length;
        _args[_count - 1] = new Range(start, start + length);
    }
}
