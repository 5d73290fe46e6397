using Kyoto.Scheduling;
using Kyoto.Tasks;

namespace Kyoto;

/// <summary>
/// A Kyoto runtime: worker threads (or the calling thread, for the current-thread flavour), their run queues,
/// a blocking pool, and later the I/O and timer drivers. Build one with <see cref="RuntimeBuilder"/>, run a
/// root task with <see cref="BlockOn(Func{Task})"/>, and dispose it to shut it down.
/// </summary>
/// <remarks>
/// The shutdown protocol (what happens to running, queued and blocking tasks, and to a spawn that races
/// with shutdown) is described at the top of <c>Runtime/Scheduler/Scheduler.cs</c> and in
/// <see cref="Shutdown"/>.
/// </remarks>
/// <example>
/// <code>
/// using var runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
/// runtime.BlockOn(async () =&gt;
/// {
///     JoinHandle&lt;int&gt; child = KyotoTask.Spawn(async () =&gt; { await KyotoTask.Yield(); return 1; });
///     Console.WriteLine(await child);
/// });
/// </code>
/// </example>
public sealed class Runtime : IDisposable, IAsyncDisposable
{
    /// <summary>How long <see cref="Dispose"/> lets tasks unwind and blocking work finish: 10 seconds.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(10);

    internal Runtime(Scheduler scheduler) => Scheduler = scheduler;

    internal Scheduler Scheduler { get; }

    /// <summary>A multi-thread runtime with the default settings.</summary>
    public static Runtime Create() => new RuntimeBuilder().Build();

    /// <summary>The runtime's handle, to spawn onto it from anywhere.</summary>
    public RuntimeHandle Handle => Scheduler.Handle;

    /// <summary>The runtime's flavour.</summary>
    public RuntimeFlavor Flavor => Scheduler.Flavor;

    /// <summary>Counters of the runtime's scheduler.</summary>
    public RuntimeMetrics Metrics => new(Scheduler);

    /// <inheritdoc cref="RuntimeHandle.TimeProvider"/>
    public TimeProvider TimeProvider => Scheduler.TimeProvider;

    /// <summary>True once shutdown has begun.</summary>
    public bool IsShutdown => Scheduler.IsShuttingDown;

    /// <inheritdoc cref="RuntimeHandle.BlockOn(Func{Task})"/>
    public void BlockOn(Func<Task> body) => Handle.BlockOn(body);

    /// <inheritdoc cref="RuntimeHandle.BlockOn{T}(Func{Task{T}})"/>
    public T BlockOn<T>(Func<Task<T>> body) => Handle.BlockOn(body);

    /// <inheritdoc cref="RuntimeHandle.Spawn(Func{Task})"/>
    public JoinHandle Spawn(Func<Task> body) => Handle.Spawn(body);

    /// <inheritdoc cref="RuntimeHandle.Spawn{T}(Func{Task{T}})"/>
    public JoinHandle<T> Spawn<T>(Func<Task<T>> body) => Handle.Spawn(body);

    /// <inheritdoc cref="RuntimeHandle.SpawnBlocking(Action)"/>
    public JoinHandle SpawnBlocking(Action body) => Handle.SpawnBlocking(body);

    /// <inheritdoc cref="RuntimeHandle.SpawnBlocking{T}(Func{T})"/>
    public JoinHandle<T> SpawnBlocking<T>(Func<T> body) => Handle.SpawnBlocking(body);

    /// <inheritdoc cref="RuntimeHandle.Enter"/>
    public EnterGuard Enter() => Handle.Enter();

    /// <summary>
    /// Shuts the runtime down and waits up to <paramref name="timeout"/>: new spawns are refused, every task
    /// is aborted and given until the timeout to unwind (its <c>finally</c> blocks run at its next Kyoto
    /// await), then workers stop; tasks that did not unwind complete as cancelled; queued blocking tasks are
    /// cancelled and running ones waited for. <see cref="Timeout.InfiniteTimeSpan"/> waits without limit.
    /// </summary>
    /// <returns>True if every task and blocking task finished within the timeout.</returns>
    /// <exception cref="InvalidOperationException">Called from one of this runtime's workers.</exception>
    public bool Shutdown(TimeSpan timeout) => Scheduler.Shutdown(timeout);

    /// <summary>Starts shutting down without waiting; usable from inside the runtime.</summary>
    public void ShutdownBackground() => Scheduler.ShutdownBackground();

    /// <summary>Shuts down with <see cref="DefaultShutdownTimeout"/>.</summary>
    /// <exception cref="InvalidOperationException">Called from one of this runtime's workers.</exception>
    public void Dispose() => Shutdown(DefaultShutdownTimeout);

    /// <summary>
    /// Shuts down with <see cref="DefaultShutdownTimeout"/> without blocking the caller. From inside the
    /// runtime itself it only starts the shutdown (it cannot wait for its own workers).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Scheduler.IsOnWorkerThread)
        {
            ShutdownBackground();
            return ValueTask.CompletedTask;
        }

        return new ValueTask(Task.Factory.StartNew(
            static s => ((Runtime)s!).Dispose(), this, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));
    }
}
