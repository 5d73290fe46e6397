namespace Kyoto.Sync;

/// <summary>Modifies a watch channel's value in place (<see cref="WatchSender{T}.SendModify"/>).</summary>
/// <param name="value">The channel's value, writable.</param>
/// <typeparam name="T">The value type.</typeparam>
public delegate void WatchModifier<T>(ref T value);
