namespace Kyoto.Tests;

/// <summary>
/// The base of the flavour matrix (STYLE.md, "tests as matrices"): a behaviour shared by both flavours is
/// written once in an abstract class deriving from this, and runs once per sealed subclass.
/// </summary>
public abstract class RuntimeTestBase
{
    /// <summary>The flavour under test.</summary>
    protected abstract RuntimeFlavor Flavor { get; }

    /// <summary>Workers of the multi-thread flavour (ignored by the current-thread one).</summary>
    protected virtual int WorkerThreads => 2;

    protected bool IsMultiThread => Flavor == RuntimeFlavor.MultiThread;

    /// <summary>A builder of the flavour under test, with an explicit worker count (never the environment default).</summary>
    protected RuntimeBuilder NewBuilder() => Flavor == RuntimeFlavor.MultiThread
        ? new RuntimeBuilder { Flavor = RuntimeFlavor.MultiThread, WorkerThreads = WorkerThreads }
        : RuntimeBuilder.CurrentThread();

    /// <summary>Builds a runtime of the flavour under test; the caller disposes it.</summary>
    protected Runtime NewRuntime(Action<RuntimeBuilder>? configure = null)
    {
        RuntimeBuilder builder = NewBuilder();
        configure?.Invoke(builder);
        return builder.Build();
    }
}

/// <summary>
/// Keeps a current-thread runtime driven from a helper thread (a BlockOn whose root waits until disposed),
/// so tasks spawned from the test thread make progress. Does nothing for the multi-thread flavour.
/// </summary>
internal sealed class BackgroundDriver : IDisposable
{
    private readonly Kyoto.Sync.OneshotSender<bool>? _stop;
    private readonly Task? _thread;

    public BackgroundDriver(Kyoto.Runtime runtime)
    {
        if (runtime.Flavor != RuntimeFlavor.CurrentThread)
        {
            return;
        }

        var (tx, rx) = Kyoto.Sync.Oneshot.Create<bool>();
        _stop = tx;
        using var running = new ManualResetEventSlim();
        _thread = Bounded.OnThread(() => runtime.BlockOn(async () =>
        {
            running.Set();
            try
            {
                await rx;
            }
            catch (Exception)
            {
                // shut down or stopped: either way the driver is done
            }
        }), "kyoto-test-driver");
        Bounded.Wait(running, "the background driver to start");
    }

    public void Dispose()
    {
        if (_stop is null || _thread is null)
        {
            return;
        }

        _stop.TrySend(true);
        Assert.True(Bounded.Finishes(_thread), "the background driver did not stop");
    }
}

/// <summary>
/// Spawns, from inside a task, a task that parks on a oneshot and returns only once it is parked. The task
/// sends a ready signal just before its await; the caller's continuation is then woken on the task's own
/// worker (its LIFO slot, which other workers cannot steal; or the single queue of the current-thread
/// flavour), so it runs only after the task's poll has ended at the await. An abort after this returns
/// therefore always finds the task parked, never running.
/// </summary>
internal static class ParkedTask
{
    public static async Task<(Kyoto.Tasks.JoinHandle<int> Handle, Kyoto.Sync.OneshotSender<int> Release)> SpawnAsync(Action? onFinally = null)
    {
        var (tx, rx) = Kyoto.Sync.Oneshot.Create<int>();
        var (readyTx, readyRx) = Kyoto.Sync.Oneshot.Create<bool>();
        Kyoto.Tasks.JoinHandle<int> h = Kyoto.Tasks.KyotoTask.Spawn(() => Body(rx, readyTx, onFinally));
        await readyRx;
        return (h, tx);
    }

    /// <summary>The same, spawned into <paramref name="set"/>.</summary>
    public static async Task<(Kyoto.Tasks.AbortHandle Handle, Kyoto.Sync.OneshotSender<int> Release)> SpawnIntoAsync(Kyoto.Tasks.JoinSet<int> set, Action? onFinally = null)
    {
        var (tx, rx) = Kyoto.Sync.Oneshot.Create<int>();
        var (readyTx, readyRx) = Kyoto.Sync.Oneshot.Create<bool>();
        Kyoto.Tasks.AbortHandle h = set.Spawn(() => Body(rx, readyTx, onFinally));
        await readyRx;
        return (h, tx);
    }

    private static async Task<int> Body(Kyoto.Sync.OneshotReceiver<int> rx, Kyoto.Sync.OneshotSender<bool> ready, Action? onFinally)
    {
        try
        {
            // End the first poll first, so the task is in the runtime's registry (what shutdown aborts).
            await Kyoto.Tasks.KyotoTask.Yield();
            ready.TrySend(true);
            return await rx;
        }
        finally
        {
            onFinally?.Invoke();
        }
    }
}
