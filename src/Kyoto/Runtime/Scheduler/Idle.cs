namespace Kyoto.Scheduling;

/// <summary>
/// Accounting of idle and searching workers of the multi-thread scheduler (Tokio's idle protocol).
/// </summary>
/// <remarks>
/// <para>The state word packs <c>unparked</c> (workers not parked, high bits) and <c>searching</c> (workers
/// looking for work to steal, low 16 bits). Invariants and rules:</para>
/// <list type="number">
/// <item>At most half of the workers search at once (<see cref="TryTransitionToSearching"/>), so on few cores
/// idle workers do not burn the CPU the busy ones need.</item>
/// <item>A producer wakes a parked worker only when nobody is searching and someone is parked
/// (<see cref="WorkerToNotify"/>); a searching worker will find the new work itself.</item>
/// <item>The woken worker is counted as unparked and searching, under the sleepers lock, before it is
/// unparked; it therefore wakes another one when it finds work (<see cref="TransitionFromSearching"/>
/// returns true for the last searcher), which spreads work one worker at a time.</item>
/// <item>The last searcher to park re-checks every queue after registering as parked, so work published
/// by a producer that saw it still searching is not stranded (no lost wake-up).</item>
/// <item>The sleepers list and every change of <c>unparked</c> happen under <see cref="_lock"/>.</item>
/// </list>
/// </remarks>
internal sealed class Idle
{
    private const int UnparkShift = 16;
    private const int SearchMask = (1 << UnparkShift) - 1;

    private TinyLock _lock; // a few instructions per critical section: spin, never sleep in the kernel
    private readonly int[] _sleepers; // stack of parked worker indices; guarded by _lock
    private int _sleeperCount; // guarded by _lock
    private readonly int _numWorkers;
    private PaddedInt _state;

    internal Idle(int numWorkers)
    {
        _numWorkers = numWorkers;
        _sleepers = new int[numWorkers];
        _state.Value = numWorkers << UnparkShift;
    }

    private static int Searching(int state) => state & SearchMask;

    private static int Unparked(int state) => state >> UnparkShift;

    internal int NumSearching => Searching(Volatile.Read(ref _state.Value));

    internal int NumUnparked => Unparked(Volatile.Read(ref _state.Value));

    /// <summary>
    /// If a parked worker should be woken for new work, picks it and counts it as unparked and searching.
    /// Returns its index, or -1.
    /// </summary>
    internal int WorkerToNotify()
    {
        // The caller has just published work. A full fence orders that publication before reading the
        // state, pairing with the fence a parking worker executes between registering and re-checking queues.
        // (A plain read after the fence measured faster than an atomic read-modify-write here.)
        Interlocked.MemoryBarrier();
        if (!ShouldWake(_state.Value))
        {
            return -1;
        }

        _lock.Enter();
        try
        {
            if (!ShouldWake(Volatile.Read(ref _state.Value)) || _sleeperCount == 0)
            {
                return -1;
            }

            // One more unparked, one more searching.
            Interlocked.Add(ref _state.Value, (1 << UnparkShift) | 1);
            return _sleepers[--_sleeperCount];
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>
    /// A fence-free pre-check for wakes caused by a worker's own local push: if it says no (someone is
    /// searching, or nobody is parked), skip the wake. A stale "no" cannot strand work: the item is in the
    /// pushing worker's own queue, which that worker runs next; at worst a parked worker stays parked a
    /// little longer. Remote pushes must use <see cref="WorkerToNotify"/> directly.
    /// </summary>
    internal bool MayNeedWake => ShouldWake(Volatile.Read(ref _state.Value));

    private bool ShouldWake(int state) => Searching(state) == 0 && Unparked(state) < _numWorkers;

    /// <summary>Becomes a searcher unless half the workers already search.</summary>
    internal bool TryTransitionToSearching()
    {
        int state = Volatile.Read(ref _state.Value);
        if (2 * Searching(state) >= _numWorkers)
        {
            return false;
        }

        Interlocked.Increment(ref _state.Value);
        return true;
    }

    /// <summary>Stops searching. Returns true if this was the last searcher (it must then wake another).</summary>
    internal bool TransitionFromSearching()
    {
        int prev = Interlocked.Decrement(ref _state.Value) + 1;
        return Searching(prev) == 1;
    }

    /// <summary>
    /// Registers worker <paramref name="index"/> as parked. Returns true if it was the last searcher, in
    /// which case it must re-check all queues for work published meanwhile.
    /// </summary>
    internal bool TransitionToParked(int index, bool isSearching)
    {
        _lock.Enter();
        try
        {
            int delta = -(1 << UnparkShift) - (isSearching ? 1 : 0);
            int prev = Interlocked.Add(ref _state.Value, delta) - delta;
            _sleepers[_sleeperCount++] = index;
            return isSearching && Searching(prev) == 1;
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>True while worker <paramref name="index"/> is in the sleepers list (not yet notified).</summary>
    internal bool IsParked(int index)
    {
        _lock.Enter();
        try
        {
            for (int i = 0; i < _sleeperCount; i++)
            {
                if (_sleepers[i] == index)
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            _lock.Exit();
        }
    }

    /// <summary>
    /// Removes worker <paramref name="index"/> from the sleepers (it woke for a reason of its own, e.g. a task
    /// in its LIFO slot or a driver event) and counts it unparked and searching. False if it was not there.
    /// </summary>
    internal bool UnparkWorkerById(int index) => UnparkWorkerById(index, searching: true);

    /// <summary>
    /// Takes <paramref name="index"/> off the sleepers list if it is still there (true). With
    /// <paramref name="searching"/> false, the worker comes back to run work it already holds (woken by its own
    /// driver's events or timers), so it does not count as searching and will not wake another worker when it
    /// finds that work (Tokio's <c>unpark_worker_by_id</c>).
    /// </summary>
    internal bool UnparkWorkerById(int index, bool searching)
    {
        _lock.Enter();
        try
        {
            for (int i = 0; i < _sleeperCount; i++)
            {
                if (_sleepers[i] == index)
                {
                    _sleepers[i] = _sleepers[--_sleeperCount];
                    Interlocked.Add(ref _state.Value, (1 << UnparkShift) | (searching ? 1 : 0));
                    return true;
                }
            }

            return false;
        }
        finally
        {
            _lock.Exit();
        }
    }
}
