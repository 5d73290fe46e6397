namespace Kyoto.IO;

/// <summary>What <see cref="AsyncCopy.CopyBidirectionalAsync"/> copied in each direction.</summary>
/// <param name="AToB">Bytes read from the first stream and written to the second.</param>
/// <param name="BToA">Bytes read from the second stream and written to the first.</param>
public readonly record struct CopyResult(long AToB, long BToA);
