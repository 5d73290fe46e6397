using Kyoto.Scheduling;

namespace Kyoto;

/// <summary>
/// Configures and builds a <see cref="Runtime"/>. Set the properties, then call <see cref="Build"/>; values are
/// validated there, and an invalid one throws <see cref="ArgumentOutOfRangeException"/> naming the property.
/// </summary>
/// <example>
/// <code>
/// using Runtime runtime = new RuntimeBuilder { WorkerThreads = 2, ThreadName = "my-service" }.Build();
/// int answer = runtime.BlockOn(async () =&gt; { await KyotoTask.Yield(); return 42; });
/// </code>
/// </example>
public sealed class RuntimeBuilder
{
    /// <summary>The environment variable that overrides the default worker count (not an explicit one).</summary>
    public const string WorkerThreadsEnvironmentVariable = "KYOTO_WORKER_THREADS";

    /// <summary>A builder for the multi-thread, work-stealing flavour (the default).</summary>
    public static RuntimeBuilder MultiThread() => new() { Flavor = RuntimeFlavor.MultiThread };

    /// <summary>A builder for the current-thread flavour.</summary>
    public static RuntimeBuilder CurrentThread() => new() { Flavor = RuntimeFlavor.CurrentThread };

    /// <summary>The scheduler flavour. Defaults to <see cref="RuntimeFlavor.MultiThread"/>.</summary>
    public RuntimeFlavor Flavor { get; set; } = RuntimeFlavor.MultiThread;

    /// <summary>
    /// Worker threads of the multi-thread flavour. Defaults to <see cref="Environment.ProcessorCount"/>, or to
    /// the value of <c>KYOTO_WORKER_THREADS</c> when that is set. Must be at least 1. Ignored by the
    /// current-thread flavour.
    /// </summary>
    public int? WorkerThreads { get; set; }

    /// <summary>
    /// The most threads the blocking pool runs at once (<c>SpawnBlocking</c> and <c>BlockInPlace</c>); more
    /// work queues. Defaults to 512, as in Tokio: blocking work is mostly waiting, so many threads are cheap.
    /// </summary>
    public int MaxBlockingThreads { get; set; } = 512;

    /// <summary>How long an idle blocking thread lives before exiting. Defaults to 10 seconds. Must be positive.</summary>
    public TimeSpan ThreadKeepAlive { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The name of the runtime's threads. Defaults to "kyoto-runtime-worker".</summary>
    public string ThreadName { get; set; } = "kyoto-runtime-worker";

    /// <summary>Computes each thread's name; overrides <see cref="ThreadName"/>. Defaults to null.</summary>
    public Func<string>? ThreadNameFn { get; set; }

    /// <summary>Stack size of the runtime's threads in bytes; 0 for the platform default. Defaults to 0.</summary>
    public int ThreadStackSize { get; set; }

    /// <summary>Runs on each runtime thread when it starts. Defaults to null.</summary>
    public Action? OnThreadStart { get; set; }

    /// <summary>Runs on each runtime thread before it stops. Defaults to null.</summary>
    public Action? OnThreadStop { get; set; }

    /// <summary>Runs on a worker just before it parks for lack of work. Defaults to null.</summary>
    public Action? OnThreadPark { get; set; }

    /// <summary>Runs on a worker just after it wakes from parking. Defaults to null.</summary>
    public Action? OnThreadUnpark { get; set; }

    /// <summary>
    /// Ticks between checks of the global (injection) queue before the local one, for fairness between
    /// local and remote work. Defaults to 61 for multi-thread and 31 for current-thread (Tokio's values).
    /// Must be at least 1.
    /// </summary>
    public int? GlobalQueueInterval { get; set; }

    /// <summary>
    /// Ticks between polls of the drivers (I/O, timers) while there is work to run. Defaults to 61 (Tokio's
    /// value). Must be at least 1.
    /// </summary>
    public int EventInterval { get; set; } = 61;

    /// <summary>
    /// Turns off the LIFO slot, so a woken task goes to the back of the queue instead of running next.
    /// Defaults to false (the slot is on).
    /// </summary>
    public bool DisableLifoSlot { get; set; }

    /// <summary>
    /// Starts the runtime's clock paused, for tests: time moves only when advanced, or automatically to the
    /// next timer when every task is idle and no blocking task runs. Defaults to false.
    /// </summary>
    public bool StartPaused { get; set; }

    /// <summary>
    /// Whether the runtime owns an I/O driver (Tokio's <c>enable_io</c>): Kyoto's sockets and descriptors need
    /// it. Defaults to true. The driver uses Linux's epoll, so on another OS <see cref="Build"/> throws
    /// <see cref="PlatformNotSupportedException"/> unless this is false (timers, tasks and sync still work).
    /// </summary>
    public bool EnableIo { get; set; } = true;

    /// <summary>What to do when an exception escapes a task. Defaults to <see cref="Kyoto.UnhandledExceptionPolicy.Ignore"/>.</summary>
    public UnhandledExceptionPolicy UnhandledExceptionPolicy { get; set; } = UnhandledExceptionPolicy.Ignore;

    /// <summary>Called with every exception that escapes a task, before the policy applies. Defaults to null.</summary>
    public Action<Exception>? OnUnhandledException { get; set; }

    /// <summary>Validates the settings and starts the runtime.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the parameter name says which.</exception>
    /// <exception cref="PlatformNotSupportedException">The platform cannot run Kyoto.</exception>
    public Runtime Build() => new(CreateScheduler());

    internal Scheduler CreateScheduler()
    {
        int workers = Flavor == RuntimeFlavor.CurrentThread ? 1 : WorkerThreads ?? DefaultWorkerThreads();
        if (workers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WorkerThreads), workers, "WorkerThreads must be at least 1.");
        }

        if (workers > short.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(WorkerThreads), workers, $"WorkerThreads must be at most {short.MaxValue}.");
        }

        if (MaxBlockingThreads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBlockingThreads), MaxBlockingThreads, "MaxBlockingThreads must be at least 1.");
        }

        if (ThreadKeepAlive <= TimeSpan.Zero || ThreadKeepAlive.TotalMilliseconds > int.MaxValue)
        {
            // The upper bound is the longest wait Monitor.Wait takes (about 24.8 days); beyond it the first idle
            // blocking thread would throw on its pool thread and end the process.
            throw new ArgumentOutOfRangeException(nameof(ThreadKeepAlive), ThreadKeepAlive, "ThreadKeepAlive must be positive and at most int.MaxValue milliseconds (about 24.8 days).");
        }

        if (ThreadStackSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadStackSize), ThreadStackSize, "ThreadStackSize must not be negative.");
        }

        if (EnableIo && !OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(
                "Kyoto's I/O driver uses Linux's epoll and this OS is not Linux. Set RuntimeBuilder.EnableIo = false to run tasks, timers and sync primitives without sockets.");
        }

        int gqi = GlobalQueueInterval ?? (Flavor == RuntimeFlavor.CurrentThread ? 31 : 61);
        if (gqi < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(GlobalQueueInterval), gqi, "GlobalQueueInterval must be at least 1.");
        }

        if (EventInterval < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(EventInterval), EventInterval, "EventInterval must be at least 1.");
        }

        if (!Enum.IsDefined(Flavor))
        {
            throw new ArgumentOutOfRangeException(nameof(Flavor), Flavor, "Unknown runtime flavor.");
        }

        if (!Enum.IsDefined(UnhandledExceptionPolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(UnhandledExceptionPolicy), UnhandledExceptionPolicy, "Unknown unhandled-exception policy.");
        }

        string name = ThreadName ?? throw new ArgumentNullException(nameof(ThreadName));
        var options = new RuntimeOptions
        {
            Flavor = Flavor,
            WorkerThreads = Flavor == RuntimeFlavor.CurrentThread ? 1 : workers,
            MaxBlockingThreads = MaxBlockingThreads,
            ThreadKeepAlive = ThreadKeepAlive,
            ThreadNameFn = ThreadNameFn ?? (() => name),
            ThreadStackSize = ThreadStackSize,
            OnThreadStart = OnThreadStart,
            OnThreadStop = OnThreadStop,
            OnThreadPark = OnThreadPark,
            OnThreadUnpark = OnThreadUnpark,
            GlobalQueueInterval = gqi,
            EventInterval = EventInterval,
            DisableLifoSlot = DisableLifoSlot,
            StartPaused = StartPaused,
            EnableIo = EnableIo,
            UnhandledExceptionPolicy = UnhandledExceptionPolicy,
            OnUnhandledException = OnUnhandledException,
        };

        return Flavor == RuntimeFlavor.CurrentThread
            ? new CurrentThreadScheduler(options)
            : new MultiThreadScheduler(options);
    }

    private static int DefaultWorkerThreads()
    {
        string? env = Environment.GetEnvironmentVariable(WorkerThreadsEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(env))
        {
            return Environment.ProcessorCount;
        }

        if (!int.TryParse(env, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WorkerThreads), env, $"{WorkerThreadsEnvironmentVariable} must be a positive integer.");
        }

        return n;
    }
}
