using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using Kyoto.IO;

namespace Kyoto.Tests.IO;

/// <summary>A reader over fixed data that returns at most the next chunk size per read (sizes cycle), optionally completing asynchronously.</summary>
internal sealed class ChunkedReader(byte[] data, int[] chunks, bool asynchronous = false) : IAsyncReader
{
    private int _position;
    private int _next;

    public ChunkedReader(byte[] data, int chunk, bool asynchronous = false)
        : this(data, [chunk], asynchronous)
    {
    }

    public int ReadCalls { get; private set; }

    public List<int> RequestedSizes { get; } = [];

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ReadCalls++;
        RequestedSizes.Add(buffer.Length);
        if (asynchronous)
        {
            await Task.Yield();
        }

        cancellationToken.ThrowIfCancellationRequested();
        int n = Math.Min(Math.Min(buffer.Length, chunks[_next++ % chunks.Length]), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer.Span);
        _position += n;
        return n;
    }
}

/// <summary>A writer that records every call; takes at most <c>maxPerWrite</c> bytes per write; can fail or return 0 after a given number of bytes.</summary>
internal sealed class RecordingWriter(int maxPerWrite = int.MaxValue) : IAsyncWriter
{
    private readonly ArrayBufferWriter<byte> _data = new();

    /// <summary>Bytes after which the next write throws <see cref="IOException"/>.</summary>
    public int? FailAfter { get; init; }

    /// <summary>Bytes after which every write returns 0.</summary>
    public int? ZeroAfter { get; init; }

    /// <summary>Write call number (1-based) that throws <see cref="OperationCanceledException"/> once.</summary>
    public int? CancelOnCall { get; set; }

    public List<string> Events { get; } = [];

    public int WriteCalls { get; private set; }

    public byte[] Data => _data.WrittenSpan.ToArray();

    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        WriteCalls++;
        if (CancelOnCall == WriteCalls)
        {
            CancelOnCall = null;
            return ValueTask.FromCanceled<int>(new CancellationToken(true));
        }

        if (FailAfter is { } fail && _data.WrittenCount >= fail)
        {
            return ValueTask.FromException<int>(new IOException("injected failure"));
        }

        if (ZeroAfter is { } zero && _data.WrittenCount >= zero)
        {
            return new ValueTask<int>(0);
        }

        int n = Math.Min(buffer.Length, maxPerWrite);
        _data.Write(buffer.Span[..n]);
        Events.Add($"W{n}");
        return new ValueTask<int>(n);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Events.Add("F");
        return default;
    }

    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        Events.Add("S");
        return default;
    }
}

/// <summary>A position-sensitive streaming checksum (64-bit words, multiply-rotate mixing), independent of how the bytes are split.</summary>
internal sealed class StreamChecksum
{
    private const ulong P1 = 0x9E3779B185EBCA87UL;
    private const ulong P2 = 0xC2B2AE3D27D4EB4FUL;
    private ulong _hash = 0x27D4EB2F165667C5UL;
    private ulong _pending;
    private int _pendingBytes;

    public long Length { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        Length += data.Length;
        while (_pendingBytes != 0 && !data.IsEmpty)
        {
            _pending |= (ulong)data[0] << (8 * _pendingBytes++);
            data = data[1..];
            if (_pendingBytes == 8)
            {
                Mix(_pending);
                _pending = 0;
                _pendingBytes = 0;
            }
        }

        int whole = data.Length & ~7;
        foreach (ulong word in MemoryMarshal.Cast<byte, ulong>(data[..whole]))
        {
            Mix(word);
        }

        foreach (byte b in data[whole..])
        {
            _pending |= (ulong)b << (8 * _pendingBytes++);
        }
    }

    private void Mix(ulong word) => _hash = BitOperations.RotateLeft(_hash ^ (word * P1), 31) * P2;

    public ulong Value
    {
        get
        {
            ulong h = BitOperations.RotateLeft(_hash ^ (_pending * P1), 31) * P2;
            h ^= (ulong)Length;
            h ^= h >> 33;
            h *= P2;
            return h ^ (h >> 29);
        }
    }
}

/// <summary>Data helpers.</summary>
internal static class TestData
{
    public static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static async Task<byte[]> ReadAllAsync(IAsyncReader reader)
    {
        var output = new ArrayBufferWriter<byte>();
        await reader.ReadToEndAsync(output);
        return output.WrittenSpan.ToArray();
    }
}
