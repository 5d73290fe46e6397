using System.Net;
using Kyoto.IO;
using Kyoto.Net;

namespace Kyoto.Tests.IO;

/// <summary>Connected loopback pairs, fakes and checksums shared by the adapter tests.</summary>
internal static class AdapterTestSupport
{
    public static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    /// <summary>A connected (client, server) pair of Kyoto TCP streams.</summary>
    public static async Task<(TcpStream Client, TcpStream Server)> ConnectPairAsync()
    {
        using var acceptor = TcpAcceptor.Bind(AnyLoopback);
        ValueTask<TcpStream> accept = acceptor.AcceptAsync();
        TcpStream client = await TcpStream.ConnectAsync(acceptor.LocalEndPoint);
        TcpStream server = await accept;
        return (client, server);
    }

    public static byte[] RandomBytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static long Checksum(ReadOnlySpan<byte> data)
    {
        long sum = 17;
        foreach (byte b in data)
        {
            sum = (sum * 31) + b;
        }

        return sum;
    }

    /// <summary>Reads <paramref name="stream"/> to its end.</summary>
    public static async Task<byte[]> ReadToEndAsync(Stream stream, int chunk = 8192)
    {
        using var all = new MemoryStream();
        var buffer = new byte[chunk];
        int n;
        while ((n = await stream.ReadAsync(buffer.AsMemory())) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }
}

/// <summary>
/// A scripted in-memory duplex: reads serve <see cref="Incoming"/> (then end of stream), writes take at most
/// <see cref="MaxPerWrite"/> bytes per call (completing asynchronously every other call when
/// <see cref="AsyncEveryOther"/>), and it records flush, shutdown and dispose calls.
/// </summary>
internal sealed class FakeDuplex : IAsyncDuplex, IDisposable
{
    private readonly MemoryStream _written = new();
    private int _readPos;

    public byte[] Incoming { get; init; } = [];

    public int MaxPerWrite { get; init; } = int.MaxValue;

    public bool AsyncEveryOther { get; init; }

    public Exception? ReadError { get; init; }

    public Exception? WriteError { get; init; }

    /// <summary>What a write returns instead of its real count (a broken writer), when set.</summary>
    public int? ReportWritten { get; init; }

    public int WriteCalls { get; private set; }

    public int Flushes { get; private set; }

    public int Shutdowns { get; private set; }

    public int Disposals { get; private set; }

    public byte[] Written => _written.ToArray();

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Disposals > 0, this);
        await Task.Yield();
        if (ReadError is not null)
        {
            throw ReadError;
        }

        int n = Math.Min(buffer.Length, Incoming.Length - _readPos);
        Incoming.AsSpan(_readPos, n).CopyTo(buffer.Span);
        _readPos += n;
        return n;
    }

    public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Disposals > 0, this);
        if (Shutdowns > 0)
        {
            throw new InvalidOperationException("written after shutdown");
        }

        WriteCalls++;
        if (WriteError is not null)
        {
            throw WriteError;
        }

        int n = Math.Min(buffer.Length, MaxPerWrite);
        _written.Write(buffer.Span[..n]);
        int reported = ReportWritten ?? n;
        return AsyncEveryOther && WriteCalls % 2 == 0 ? Later(reported) : new ValueTask<int>(reported);
    }

    private static async ValueTask<int> Later(int n)
    {
        await Task.Yield();
        return n;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Flushes++;
        return default;
    }

    public ValueTask ShutdownAsync(CancellationToken cancellationToken = default)
    {
        Shutdowns++;
        return default;
    }

    public void Dispose() => Disposals++;
}
