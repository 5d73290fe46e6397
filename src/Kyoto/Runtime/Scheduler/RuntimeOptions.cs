namespace Kyoto.Scheduling;

/// <summary>The validated configuration a <see cref="RuntimeBuilder"/> hands to its scheduler.</summary>
internal sealed class RuntimeOptions
{
    internal RuntimeFlavor Flavor { get; init; }
    internal int WorkerThreads { get; init; }
    internal int MaxBlockingThreads { get; init; }
    internal TimeSpan ThreadKeepAlive { get; init; }
    internal Func<string> ThreadNameFn { get; init; } = static () => "kyoto-runtime-worker";
    internal int ThreadStackSize { get; init; }
    internal Action? OnThreadStart { get; init; }
    internal Action? OnThreadStop { get; init; }
    internal Action? OnThreadPark { get; init; }
    internal Action? OnThreadUnpark { get; init; }
    internal int GlobalQueueInterval { get; init; }
    internal int EventInterval { get; init; }
    internal bool DisableLifoSlot { get; init; }
    internal bool StartPaused { get; init; }

    internal bool EnableIo { get; init; } = true;
    internal UnhandledExceptionPolicy UnhandledExceptionPolicy { get; init; }
    internal Action<Exception>? OnUnhandledException { get; init; }
}
