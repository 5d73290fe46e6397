namespace Kyoto.Tests.Signal;

/// <summary>
/// Signals are process-wide: a signal test runs alone, so no other test's delivery wakes its receivers (and the
/// coalescing and blocking assertions stay exact).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SignalCollection
{
    public const string Name = "Process signals";
}
