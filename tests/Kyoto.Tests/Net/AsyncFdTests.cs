using System.Runtime.InteropServices;
using Kyoto.IO;
using Kyoto.Native;
using Kyoto.Net;
using Kyoto.Reactor;
using Kyoto.Tasks;
using Microsoft.Win32.SafeHandles;

namespace Kyoto.Tests.Net;

/// <summary>AsyncFd over descriptors the test owns (eventfd, pipe): readiness, clearing, the I/O loop, ownership.</summary>
public abstract class AsyncFdTests : RuntimeTestBase
{
    public sealed class MultiThread : AsyncFdTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : AsyncFdTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static IoReactor Reactor => RuntimeHandle.Current.Scheduler.Time.Reactor!;

    private static unsafe bool TryWriteByte(int fd, byte value, out nint written)
    {
        written = Libc.write(fd, &value, 1);
        return written >= 0 || Marshal.GetLastPInvokeError() != Libc.EAGAIN;
    }

    private static unsafe bool TryReadByte(int fd, int unused, out byte value)
    {
        byte b;
        nint n = Libc.read(fd, &b, 1);
        value = b;
        return n == 1 || Marshal.GetLastPInvokeError() != Libc.EAGAIN;
    }

    private static unsafe (int Read, int Write) NewPipe()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Libc.pipe2(fds, Libc.O_NONBLOCK | Libc.O_CLOEXEC));
        return (fds[0], fds[1]);
    }

    private static int NewEventFd()
    {
        int fd = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        Assert.True(fd >= 0, $"eventfd failed (errno {Marshal.GetLastPInvokeError()})");
        return fd;
    }

    private static unsafe void Signal(int fd, ulong value = 1) => Assert.Equal(8, (int)Libc.write(fd, &value, 8));

    /// <summary>Reads the eventfd's counter: false on EAGAIN (the AsyncFdOperation convention).</summary>
    private static unsafe bool TryReadCounter(int fd, int unused, out ulong value)
    {
        ulong v;
        nint n = Libc.read(fd, &v, 8);
        value = v;
        if (n == 8)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Libc.EAGAIN ? false : throw new IOException($"read failed (errno {errno}).");
    }

    [Fact]
    public void Readable_AfterAWrite_ThenClearReadyMakesTheNextWaitWait()
    {
        using var rt = NewRuntime();
        int efd = NewEventFd();
        try
        {
            rt.BlockOnBounded(async () =>
            {
                using var fd = AsyncFd.Register(efd);
                Assert.Equal(efd, fd.Fd);
                ValueTask<AsyncFdReadyGuard> waiting = fd.ReadableAsync();
                Assert.False(waiting.IsCompleted);
                Signal(efd, 5);
                AsyncFdReadyGuard guard = await waiting;
                Assert.True(guard.Ready.HasFlag(Ready.Readable));
                Assert.True(guard.TryIo<int, ulong>(0, TryReadCounter, out ulong value));
                Assert.Equal(5UL, value);

                // Still marked readable (nothing cleared): the next wait returns at once, the call would block, and
                // TryIo clears the readiness.
                AsyncFdReadyGuard again = await fd.ReadableAsync();
                Assert.False(again.TryIo<int, ulong>(0, TryReadCounter, out _));

                // Cleared: the next wait waits for a new edge. (The first read woke the eventfd's writers; if epoll's
                // report of that edge landed between the try's look at the state and its clear, the clear rightly
                // kept the readiness: then one more try finds nothing and clears it.)
                ValueTask<AsyncFdReadyGuard> next = fd.ReadableAsync();
                if (next.IsCompleted)
                {
                    Assert.False((await next).TryIo<int, ulong>(0, TryReadCounter, out _));
                    next = fd.ReadableAsync();
                }

                Assert.False(next.IsCompleted);
                _ = KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    Signal(efd, 7);
                });
                AsyncFdReadyGuard third = await next;
                Assert.True(third.TryIo<int, ulong>(0, TryReadCounter, out value));
                Assert.Equal(7UL, value);
                third.ClearReady();

                // Reading the counter wakes the eventfd's writers, which epoll may report as one more edge after the
                // guard was taken; ClearReady then keeps the readiness (a newer edge), and a try finds nothing and
                // clears it. Either way the wait after that waits.
                ValueTask<AsyncFdReadyGuard> after = fd.ReadableAsync();
                if (after.IsCompleted)
                {
                    Assert.False((await after).TryIo<int, ulong>(0, TryReadCounter, out _));
                    after = fd.ReadableAsync();
                }

                Assert.False(after.IsCompleted || !fd.IsRegistered);
            });
        }
        finally
        {
            Libc.close(efd);
        }
    }

    [Fact]
    public void RunIoAsync_LoopsUntilTheCallCompletes()
    {
        using var rt = NewRuntime();
        int efd = NewEventFd();
        try
        {
            ulong total = rt.BlockOnBounded(async () =>
            {
                using var fd = AsyncFd.Register(efd);
                ulong sum = 0;
                for (int i = 1; i <= 50; i++)
                {
                    ulong add = (ulong)i;
                    _ = KyotoTask.Spawn(async () =>
                    {
                        await KyotoTask.Yield();
                        Signal(efd, add);
                    });
                    sum += await fd.RunIoAsync<int, ulong>(Interest.Readable, 0, TryReadCounter);
                }

                return sum;
            });
            Assert.Equal(50UL * 51 / 2, total);
        }
        finally
        {
            Libc.close(efd);
        }
    }

    [Fact]
    public void Pipe_WritableThenReadable_AndReadWriteInterest()
    {
        using var rt = NewRuntime();
        (int readEnd, int writeEnd) = NewPipe();
        using var readHandle = new SafeFileHandle(readEnd, ownsHandle: true);
        using var writeHandle = new SafeFileHandle(writeEnd, ownsHandle: true);
        rt.BlockOnBounded(async () =>
        {
            using var reader = AsyncFd.Register(readHandle);
            using var writer = AsyncFd.Register(writeHandle);
            AsyncFdReadyGuard w = await writer.WritableAsync();
            Assert.True(w.Ready.HasFlag(Ready.Writable));
            Assert.True(w.TryIo<byte, nint>(42, TryWriteByte, out nint written));
            Assert.Equal(1, written);
            AsyncFdReadyGuard either = await reader.ReadyAsync(Interest.ReadWrite);
            Assert.True(either.Ready.HasFlag(Ready.Readable));
            byte got = await reader.RunIoAsync<int, byte>(Interest.Readable, 0, TryReadByte);
            Assert.Equal(42, got);
        });
        Assert.False(readHandle.IsClosed); // AsyncFd never closes the descriptor
    }

    [Fact]
    public void ReadWrite_WaitsForEitherDirection()
    {
        using var rt = NewRuntime();
        int efd = NewEventFd();
        try
        {
            rt.BlockOnBounded(async () =>
            {
                using var fd = AsyncFd.Register(efd);
                // An eventfd is writable at once: a ReadWrite wait returns with Writable.
                AsyncFdReadyGuard guard = await fd.ReadyAsync(Interest.ReadWrite);
                Assert.True(guard.Ready.HasFlag(Ready.Writable));
                guard.ClearReadyMatching(Ready.Writable);
                ValueTask<AsyncFdReadyGuard> both = fd.ReadyAsync(Interest.ReadWrite);
                Signal(efd, 1);
                AsyncFdReadyGuard after = await both;
                Assert.NotEqual(Ready.None, after.Ready);

                // Both waiter slots are free again.
                Assert.True(fd.ReadableAsync().IsCompleted);
            });
        }
        finally
        {
            Libc.close(efd);
        }
    }

    [Fact]
    public void Dispose_FailsThePendingWait_DoesNotCloseTheFd_AndDeregisters()
    {
        using var rt = NewRuntime();
        int efd = NewEventFd();
        try
        {
            (int before, int after) = rt.BlockOnBounded(async () =>
            {
                int registered = Reactor.RegistrationCount;
                var fd = AsyncFd.Register(efd);
                ValueTask<AsyncFdReadyGuard> waiting = fd.ReadableAsync();
                fd.Dispose();
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await waiting);
                await Assert.ThrowsAsync<ObjectDisposedException>(async () => await fd.WritableAsync());
                Assert.False(fd.IsRegistered);
                fd.Dispose();
                return (registered, Reactor.RegistrationCount);
            });
            Assert.Equal(before, after);
            Signal(efd, 1); // still open
        }
        finally
        {
            Libc.close(efd);
        }
    }

    [Fact]
    public void Dispose_ThenANewRegistrationWaitsBeforeTheFailedWaitIsRead_EachWaitKeepsItsOwnOutcome()
    {
        // A disposed registration's slot may serve the next descriptor at once; the failed wait's result must stay
        // its own (it was once the slot's reusable waiter, reset by the next descriptor's wait: seen as a hang and
        // as "the operation has not completed" under a signal storm).
        using var rt = NewRuntime();
        int efd1 = NewEventFd();
        int efd2 = NewEventFd();
        try
        {
            rt.BlockOnBounded(async () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    var first = AsyncFd.Register(efd1);
                    ValueTask<AsyncFdReadyGuard> stale = first.ReadableAsync();
                    first.Dispose();
                    using var second = AsyncFd.Register(efd2);
                    ValueTask<AsyncFdReadyGuard> fresh = second.ReadableAsync();
                    await Assert.ThrowsAsync<ObjectDisposedException>(async () => await stale);
                    Signal(efd2);
                    AsyncFdReadyGuard guard = await fresh;
                    Assert.True(guard.Ready.HasFlag(Ready.Readable));
                    Assert.True(TryReadCounter(efd2, 0, out ulong counter));
                    Assert.Equal(1UL, counter);
                    guard.ClearReady();
                }
            });
        }
        finally
        {
            Libc.close(efd1);
            Libc.close(efd2);
        }
    }

    [Fact]
    public void Wait_CancelledByTokenOrAbort_LeavesTheFdUsable()
    {
        using var rt = NewRuntime();
        int efd = NewEventFd();
        try
        {
            rt.BlockOnBounded(async () =>
            {
                using var fd = AsyncFd.Register(efd);
                using (var cts = new CancellationTokenSource())
                {
                    ValueTask<AsyncFdReadyGuard> pending = fd.ReadableAsync(cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
                }

                var (startedTx, startedRx) = Kyoto.Sync.Oneshot.Create<bool>();
                JoinHandle waiter = KyotoTask.Spawn(async () =>
                {
                    startedTx.TrySend(true);
                    await fd.ReadableAsync();
                });
                await startedRx;
                await KyotoTask.Yield();
                waiter.Abort();
                await Assert.ThrowsAsync<JoinException>(async () => await waiter);

                Signal(efd, 3);
                Assert.Equal(3UL, await fd.RunIoAsync<int, ulong>(Interest.Readable, 0, TryReadCounter));
            });
        }
        finally
        {
            Libc.close(efd);
        }
    }

    [Fact]
    public void BadArguments_Throw()
    {
        using var rt = NewRuntime();
        rt.BlockOnBounded(async () =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => AsyncFd.Register(-1));
            Assert.Throws<IOException>(() => AsyncFd.Register(int.MaxValue - 1)); // not an open descriptor
            int efd = NewEventFd();
            try
            {
                using var fd = AsyncFd.Register(efd);
                await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await fd.ReadyAsync((Interest)4));
                Assert.Throws<InvalidOperationException>(() => default(AsyncFdReadyGuard).ClearReady());
            }
            finally
            {
                Libc.close(efd);
            }
        });
    }
}
