namespace Kyoto.Net;

/// <summary>
/// One non-blocking call on a descriptor registered with <see cref="AsyncFd"/>, for
/// <see cref="AsyncFd.RunIoAsync{TState, TResult}"/> and <see cref="AsyncFdReadyGuard.TryIo{TState, TResult}"/>.
/// </summary>
/// <param name="fd">The descriptor.</param>
/// <param name="state">The caller's state (pass buffers here: a static lambda then allocates nothing).</param>
/// <param name="result">The call's result, when it returns true.</param>
/// <returns>True if the call completed (successfully or not: throw for errors); false if it would block (<c>EAGAIN</c>/<c>EWOULDBLOCK</c>).</returns>
public delegate bool AsyncFdOperation<in TState, TResult>(int fd, TState state, out TResult result);
