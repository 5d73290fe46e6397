namespace Kyoto.Sync;

/// <summary>What <see cref="AsyncBarrier.WaitAsync"/> tells each caller of a generation.</summary>
public readonly struct BarrierWaitResult : IEquatable<BarrierWaitResult>
{
    internal BarrierWaitResult(bool isLeader) => IsLeader = isLeader;

    /// <summary>
    /// True for exactly one caller per generation: the last to arrive, whose arrival released the others.
    /// </summary>
    public bool IsLeader { get; }

    /// <inheritdoc />
    public bool Equals(BarrierWaitResult other) => IsLeader == other.IsLeader;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BarrierWaitResult other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => IsLeader.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => IsLeader ? "BarrierWaitResult { IsLeader = True }" : "BarrierWaitResult { IsLeader = False }";

    /// <summary>True if both results say the same.</summary>
    public static bool operator ==(BarrierWaitResult left, BarrierWaitResult right) => left.Equals(right);

    /// <summary>True if the results differ.</summary>
    public static bool operator !=(BarrierWaitResult left, BarrierWaitResult right) => !left.Equals(right);
}
