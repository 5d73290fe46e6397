namespace Kyoto.Scheduling;

/// <summary>
/// A test-and-set spin lock for critical sections of a few instructions (queue links, ring indices):
/// one CAS to enter, a plain release write to leave. Not reentrant. Spins with <see cref="SpinWait"/>,
/// which yields the processor after a while, so a preempted holder does not burn the other core.
/// </summary>
/// <remarks>
/// Measured against <see cref="Lock"/> on the runtime's hot paths (task registry, injection queue): the
/// full lock's owner-thread bookkeeping cost ~7% of ping-pong and of remote spawning.
/// Use only as a field (never copy it), and never hold it around user code or anything that can block.
/// </remarks>
internal struct TinyLock
{
    private int _locked;

    internal void Enter()
    {
        if (Interlocked.CompareExchange(ref _locked, 1, 0) != 0)
        {
            EnterContended();
        }
    }

    private void EnterContended()
    {
        var spinner = default(SpinWait);
        do
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        while (Volatile.Read(ref _locked) != 0 || Interlocked.CompareExchange(ref _locked, 1, 0) != 0);
    }

    internal void Exit() => Volatile.Write(ref _locked, 0);
}
