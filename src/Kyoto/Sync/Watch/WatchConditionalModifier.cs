namespace Kyoto.Sync;

/// <summary>
/// Modifies a watch channel's value in place and says whether it did (<see cref="WatchSender{T}.SendIfModified"/>):
/// receivers are notified only when it returns true.
/// </summary>
/// <param name="value">The channel's value, writable.</param>
/// <returns>True if the value was modified (receivers are notified); false if not (nobody is).</returns>
/// <typeparam name="T">The value type.</typeparam>
public delegate bool WatchConditionalModifier<T>(ref T value);
