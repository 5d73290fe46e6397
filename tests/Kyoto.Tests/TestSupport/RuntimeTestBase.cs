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
