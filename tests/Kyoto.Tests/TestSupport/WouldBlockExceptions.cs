using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Kyoto.Tests;

/// <summary>
/// Counts the SocketExceptions with <see cref="SocketError.WouldBlock"/> thrown on one runtime's threads while it is
/// alive (other tests' runtimes, running in parallel, are not counted): .NET's socket calls that report EAGAIN by
/// throwing, which Kyoto's hot paths must not make.
/// </summary>
internal sealed class WouldBlockExceptions : IDisposable
{
    private readonly RuntimeHandle _runtime;
    private int _count;

    /// <param name="runtime">The runtime whose threads count.</param>
    internal WouldBlockExceptions(Runtime runtime)
    {
        _runtime = runtime.Handle;
        AppDomain.CurrentDomain.FirstChanceException += OnThrow;
    }

    internal int Count => Volatile.Read(ref _count);

    private void OnThrow(object? sender, FirstChanceExceptionEventArgs e)
    {
        if (e.Exception is SocketException { SocketErrorCode: SocketError.WouldBlock }
            && ReferenceEquals(RuntimeHandle.TryCurrent, _runtime))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void Dispose() => AppDomain.CurrentDomain.FirstChanceException -= OnThrow;
}
