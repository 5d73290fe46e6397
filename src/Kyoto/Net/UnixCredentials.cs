namespace Kyoto.Net;

/// <summary>
/// The credentials of the process at the other end of a Unix socket (<c>SO_PEERCRED</c>), as the kernel recorded
/// them when the connection was made (Tokio's <c>UCred</c>).
/// </summary>
/// <param name="ProcessId">The peer's process id (when it connected, or created the pair).</param>
/// <param name="UserId">The peer's effective user id.</param>
/// <param name="GroupId">The peer's effective group id.</param>
public readonly record struct UnixCredentials(int ProcessId, uint UserId, uint GroupId);
