namespace Kyoto.Tests;

/// <summary>The process's descriptor count is global: tests in this collection run alone, with no other test opening or closing any.</summary>
[CollectionDefinition(nameof(DescriptorCountCollection), DisableParallelization = true)]
public sealed class DescriptorCountCollection
{
}
