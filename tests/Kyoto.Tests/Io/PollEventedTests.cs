using Kyoto.Native;
using Kyoto.Reactor;
using Kyoto.Tasks;

namespace Kyoto.Tests.Io;

/// <summary>
/// Descriptors driven by the runtime's own reactor end to end: the worker that parks turns epoll and wakes the
/// task that waits for readiness (both flavours). Groundwork for the socket types of issue 5.
/// </summary>
public abstract class PollEventedTests : RuntimeTestBase
{
    public sealed class MultiThread : PollEventedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : PollEventedTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static unsafe (PollEvented A, PollEvented B) Pair()
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, sv));
        return (PollEvented.Register(sv[0], ownsFd: true), PollEvented.Register(sv[1], ownsFd: true));
    }

    private static IoReactor Reactor => RuntimeHandle.Current.Scheduler.Time.Reactor!;

    [Fact]
    public void Transfer_FourMegabytes_ArrivesWhole()
    {
        const int Size = 4 << 20;
        using var rt = NewRuntime();
        (long sent, long received) = rt.BlockOnBounded(async () =>
        {
            var (a, b) = Pair();
            using (a)
            using (b)
            {
                var data = new byte[Size];
                new Random(42).NextBytes(data);
                JoinHandle writer = KyotoTask.Spawn(async () => await a.WriteAllAsync(data, default));
                var got = new byte[Size];
                int total = 0;
                while (total < Size)
                {
                    int n = await b.ReadAsync(got.AsMemory(total, Math.Min(65_536, Size - total)), default);
                    Assert.True(n > 0, "end of stream before all the data");
                    total += n;
                }

                await writer;
                return (Checksum(data), Checksum(got));
            }
        });
        Assert.Equal(sent, received);
    }

    private static long Checksum(byte[] data)
    {
        long sum = 0;
        for (int i = 0; i < data.Length; i++)
        {
            sum = (sum * 31) + data[i];
        }

        return sum;
    }

    [Fact]
    public void Read_WaitsUntilAnotherTaskWrites()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            var (a, b) = Pair();
            using (a)
            using (b)
            {
                var buffer = new byte[1];
                ValueTask<int> read = b.ReadAsync(buffer, default);
                Assert.False(read.IsCompleted);
                _ = KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    await a.WriteAllAsync(new byte[] { 42 }, default);
                });
                Assert.Equal(1, await read);
                return buffer[0];
            }
        });
        Assert.Equal(42, value);
    }

    [Fact]
    public void PeerClosed_ReadReturnsZero()
    {
        using var rt = NewRuntime();
        int n = rt.BlockOnBounded(async () =>
        {
            var (a, b) = Pair();
            using (b)
            {
                ValueTask<int> read = b.ReadAsync(new byte[8], default);
                a.Dispose();
                return await read;
            }
        });
        Assert.Equal(0, n);
    }

    [Fact]
    public void Read_Cancelled_ThenReadAgainWorks()
    {
        using var rt = NewRuntime();
        int value = rt.BlockOnBounded(async () =>
        {
            var (a, b) = Pair();
            using (a)
            using (b)
            {
                var buffer = new byte[1];
                using (var cts = new CancellationTokenSource())
                {
                    ValueTask<int> read = b.ReadAsync(buffer, cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await read);
                }

                await a.WriteAllAsync(new byte[] { 5 }, default);
                Assert.Equal(1, await b.ReadAsync(buffer, default));
                return buffer[0];
            }
        });
        Assert.Equal(5, value);
    }

    [Fact]
    public void AbortedReader_StopsAndDisposeDeregisters()
    {
        using var rt = NewRuntime();
        (bool cancelled, int registrationsBefore, int registrationsAfter) = rt.BlockOnBounded(async () =>
        {
            int before = Reactor.RegistrationCount;
            var (a, b) = Pair();
            var (startedTx, startedRx) = Kyoto.Sync.Oneshot.Create<bool>();
            JoinHandle reader = KyotoTask.Spawn(async () =>
            {
                using (b)
                {
                    startedTx.TrySend(true);
                    await b.ReadAsync(new byte[8], default);
                }
            });
            await startedRx;
            reader.Abort();
            bool wasCancelled = false;
            try
            {
                await reader;
            }
            catch (JoinException e) when (e.IsCancelled)
            {
                wasCancelled = true;
            }

            a.Dispose();
            return (wasCancelled, before, Reactor.RegistrationCount);
        });
        Assert.True(cancelled);
        Assert.Equal(registrationsBefore, registrationsAfter);
    }

}

/// <summary>The process's descriptor count is global: this runs alone, with no other test opening or closing any.</summary>
[CollectionDefinition(nameof(DescriptorCountCollection), DisableParallelization = true)]
public sealed class DescriptorCountCollection
{
}

/// <summary>Registering and closing thousands of descriptors leaves none open.</summary>
[Collection(nameof(DescriptorCountCollection))]
public sealed class DescriptorLeakTests
{
    private static unsafe (PollEvented A, PollEvented B) Pair()
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0, sv));
        return (PollEvented.Register(sv[0], ownsFd: true), PollEvented.Register(sv[1], ownsFd: true));
    }

    private static int CountOpenDescriptors() => Descriptors.CountOpen();

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void OpenAndClose_ThousandsOfDescriptors_LeakNone(RuntimeFlavor flavor)
    {
        using Runtime rt = flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 }.Build() : RuntimeBuilder.CurrentThread().Build();
        (int before, int after) = rt.BlockOnBounded(async () =>
        {
            int open = CountOpenDescriptors();
            for (int i = 0; i < 5_000; i++)
            {
                var (a, b) = Pair();
                a.Dispose();
                b.Dispose();
                if (i % 500 == 0)
                {
                    await KyotoTask.Yield();
                }
            }

            return (open, CountOpenDescriptors());
        });
        Descriptors.AssertNoLeak(before, after);
    }
}
