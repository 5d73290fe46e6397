using Kyoto.Scheduling;
using Kyoto.Time;

namespace Kyoto.Timing;

/// <summary>
/// The completion behind a <see cref="Sleep"/>: a Kyoto value-task source plus its wheel node. Pooled per
/// thread (returned when the sleep's result is read), so sleeping allocates nothing once warm.
/// </summary>
/// <remarks>
/// Invariants: the node is in the wheel only while the await is pending. Firing, cancellation and abort race
/// through the wheel lock: cancellation completes the source only if it removed the node from the wheel, so
/// a sleep that has already fired stays a success ("the result wins"), and a cancelled sleep leaves nothing
/// in the wheel. <see cref="Reset"/> moves a pending node under the same lock.
/// </remarks>
internal sealed class SleepSource : KyotoValueTaskSource<bool>
{
    private const int MaxPooledPerThread = 256;

    [ThreadStatic]
    private static SleepSource? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    private readonly Node _node;
    private readonly bool _pooled;
    private SleepSource? _nextFree;
    private TimeDriver? _driver;

    internal SleepSource(bool pooled)
    {
        _node = new Node(this);
        _pooled = pooled;
    }

    /// <summary>The deadline of the current await.</summary>
    internal Instant Deadline { get; private set; }

    internal static SleepSource Rent()
    {
        SleepSource? source = t_free;
        if (source is null)
        {
            return new SleepSource(pooled: true);
        }

        t_free = source._nextFree;
        t_freeCount--;
        source._nextFree = null;
        return source;
    }

    /// <summary>Arms the (reset) source for <paramref name="deadline"/> on <paramref name="driver"/>.</summary>
    internal void Start(TimeDriver driver, Instant deadline, CancellationToken cancellationToken)
    {
        _driver = driver;
        Deadline = deadline;
        if (cancellationToken.IsCancellationRequested)
        {
            TrySetException(new OperationCanceledException(cancellationToken));
            return;
        }

        _node.Stamp = Version;
        driver.Register(_node, deadline);
        RegisterCancellation(cancellationToken);
    }

    /// <summary>Moves a pending sleep to a new deadline; false if it has already completed.</summary>
    internal bool Reset(short version, Instant deadline)
    {
        if (version != Version)
        {
            throw new InvalidOperationException("This sleep has already completed and been awaited; create a new one.");
        }

        if (IsCompleted || _driver is null)
        {
            return false;
        }

        // Only an armed timer moves: one that is firing right now keeps its completion.
        if (!_driver.TryReset(_node, deadline))
        {
            return false;
        }

        Deadline = deadline;
        return true;
    }

    protected override void OnCancellationRequested(Exception error, short version)
    {
        if (_driver is { } driver && driver.Unregister(_node, version))
        {
            TrySetException(error);
        }
    }

    protected override void OnConsumed()
    {
        if (!_pooled)
        {
            return;
        }

        _driver = null;
        Reset();
        if (t_freeCount < MaxPooledPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
    }

    /// <summary>Cancels a pending await of a non-pooled source (an <see cref="Interval"/> being disposed).</summary>
    internal void Cancel() => OnCancellationRequested(new ObjectDisposedException(nameof(Interval)), Version);

    private sealed class Node(SleepSource owner) : TimerNode
    {
        internal override void Fire() => owner.TrySetResult(true);
    }
}
