namespace Kyoto.Sync;

/// <summary>The order in which <see cref="Select"/> starts its branches.</summary>
public enum SelectOrder
{
    /// <summary>
    /// From a randomly chosen branch, then on in order (wrapping around), so that when several branches are
    /// ready at once none is always preferred (Tokio's default). The default.
    /// </summary>
    Unbiased = 0,

    /// <summary>
    /// In the order given: when several branches are ready at once, the earliest wins (Tokio's <c>biased;</c>).
    /// Cheaper, and deterministic; a branch that is always ready can starve the ones after it.
    /// </summary>
    Biased = 1,
}
