using Kyoto.Reactor;
using Kyoto.Scheduling;
using Kyoto.Time;

namespace Kyoto.Timing;

/// <summary>
/// The runtime's timer driver: the wheel, its lock, and the park/wake protocol that lets an idle worker
/// sleep exactly until the next deadline and then fire the due timers itself (no timer thread, no hop).
/// </summary>
/// <remarks>
/// <para>Ground rules:</para>
/// <list type="number">
/// <item>The wheel, the imminent list, <see cref="_parkedUntil"/> and every <see cref="TimerNode"/>'s links are
/// touched only under <see cref="_lock"/>. Timers fire outside the lock, on the thread that advanced the wheel. One
/// read is made without it: <see cref="AnyDue"/> first reads the two counts (ints, read whole) and answers false
/// when both are zero, which is safe because a timer is never put there already due (it fires as it registers).</item>
/// <item>Exact deadlines. The wheel works in milliseconds: a timer sits in the slot of its deadline's
/// millisecond (rounded down). When that slot comes due, timers whose exact deadline has passed fire; the
/// others (due later within that millisecond) move to a short "imminent" list, and the driver sleeps until the
/// earliest exact deadline. With a sub-millisecond wait (<see cref="WakeSignal"/>) a timer fires tens of
/// microseconds after its deadline, never before it.</item>
/// <item>Parking only waits; the parked thread fires the due timers after it wakes and has left the idle
/// state (<see cref="FireDue"/>), so the tasks it wakes are work of a running worker and the other workers
/// are woken the usual way (firing while still registered as parked would make the wake-up logic pick the
/// firing worker itself and leave the others asleep).</item>
/// <item>At most one thread drives (parks in or fires) the driver at a time: whoever wins <see cref="TryLock"/>.
/// Others park on their own monitors; a registration due before the driver's current sleep ends wakes it
/// (<see cref="_parkedUntil"/>), so no deadline is slept through.</item>
/// <item>Paused clock: the driving thread that is about to sleep advances virtual time to the next deadline
/// when the scheduler says the runtime is idle (no runnable task, no blocking task); anything that may make
/// it idle later (a worker parking, a blocking task ending) wakes the driver to look again.</item>
/// </list>
/// </remarks>
internal sealed class TimeDriver : IParkDriver
{
    private readonly Lock _lock = new();
    private readonly Wheel _wheel = new();
    private readonly List<TimerNode> _imminent = new();
    private readonly List<TimerNode> _expired = new();
    // What the driving thread sleeps in: on Linux the runtime's epoll reactor (so the worker that parks also
    // dispatches socket readiness, and a wake is its eventfd); elsewhere a plain wake signal.
    private readonly IoReactor? _reactor;
    private readonly WakeSignal? _signal;
    private int _held;
    private long _parkedUntil = long.MaxValue; // timestamp the parked driver sleeps until; MaxValue: not parked

    internal TimeDriver(Clock clock, Func<bool> isIdle, bool enableIo = true)
    {
        Clock = clock;
        IsIdle = isIdle;
        if (enableIo && OperatingSystem.IsLinux())
        {
            _reactor = new IoReactor();
        }
        else
        {
            _signal = new WakeSignal();
        }
    }

    /// <summary>The runtime's I/O reactor, turned by whichever thread parks in this driver; null without I/O (EnableIo false, or off Linux).</summary>
    internal IoReactor? Reactor => _reactor;

    internal Clock Clock { get; }

    /// <summary>True when the scheduler has nothing to run and no blocking task is running.</summary>
    private Func<bool> IsIdle { get; }

    /// <summary>Armed timers (takes the lock).</summary>
    internal int TimerCount
    {
        get
        {
            lock (_lock)
            {
                return _wheel.Count + _imminent.Count;
            }
        }
    }

    /// <summary>
    /// Arms <paramref name="node"/> for <paramref name="deadline"/>. If the deadline has already passed the node
    /// fires now, on the calling thread.
    /// </summary>
    internal void Register(TimerNode node, Instant deadline)
    {
        bool fireNow;
        bool wake;
        lock (_lock)
        {
            fireNow = ArmUnsynchronized(node, deadline, out wake);
        }

        AfterArm(node, fireNow, wake);
    }

    /// <summary>
    /// Puts an unarmed node in the wheel (or the imminent list) under the lock. Returns true if the deadline has
    /// passed (the caller fires the node after releasing the lock); <paramref name="wake"/> says whether a
    /// driver asleep past this deadline (or for ever) must look again.
    /// </summary>
    private bool ArmUnsynchronized(TimerNode node, Instant deadline, out bool wake)
    {
        if (deadline <= Clock.Now())
        {
            wake = false;
            return true;
        }

        node.Deadline = deadline.Timestamp;
        if (!_wheel.TryInsert(node, Clock.ToMsFloor(deadline)))
        {
            AddImminentUnsynchronized(node);
        }

        wake = deadline.Timestamp < _parkedUntil && _parkedUntil != long.MaxValue;
        return false;
    }

    private void AfterArm(TimerNode node, bool fireNow, bool wake)
    {
        if (fireNow)
        {
            node.Fire();
        }
        else if (wake)
        {
            Wake();
        }
    }

    /// <summary>Disarms <paramref name="node"/>; false if it was not armed (fired, firing, or never registered).</summary>
    internal bool Unregister(TimerNode node)
    {
        lock (_lock)
        {
            return RemoveUnsynchronized(node);
        }
    }

    /// <summary>Removes <paramref name="node"/> if it is armed and still registered under <paramref name="stamp"/>.</summary>
    internal bool Unregister(TimerNode node, int stamp)
    {
        lock (_lock)
        {
            return node.Stamp == stamp && RemoveUnsynchronized(node);
        }
    }

    private bool RemoveUnsynchronized(TimerNode node)
    {
        if (node.Level == -2)
        {
            int i = node.ImminentIndex;
            TimerNode last = _imminent[^1];
            _imminent[i] = last;
            last.ImminentIndex = i;
            _imminent.RemoveAt(_imminent.Count - 1);
            node.Level = -1;
            return true;
        }

        return _wheel.Remove(node);
    }

    private void AddImminentUnsynchronized(TimerNode node)
    {
        node.Level = -2;
        node.ImminentIndex = _imminent.Count;
        _imminent.Add(node);
    }

    /// <summary>
    /// Moves an armed node to a new deadline, in one critical section. Returns false, and does nothing, if the
    /// node is not armed: it has fired (or is firing right now, outside the lock) or was cancelled, and
    /// re-arming it would let a stale timer fire into whatever the node's owner has become since.
    /// </summary>
    internal bool TryReset(TimerNode node, Instant deadline)
    {
        bool fireNow;
        bool wake;
        lock (_lock)
        {
            if (!RemoveUnsynchronized(node))
            {
                return false;
            }

            fireNow = ArmUnsynchronized(node, deadline, out wake);
        }

        AfterArm(node, fireNow, wake);
        return true;
    }

    /// <inheritdoc />
    public bool TryLock() => Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <inheritdoc />
    public void Unlock() => Volatile.Write(ref _held, 0);

    /// <summary>The earliest instant at which the driver has work (firing or cascading); null if none.</summary>
    private long? NextWakeUnsynchronized()
    {
        long? next = null;
        if (_wheel.NextExpiration() is { } ms)
        {
            next = Clock.FromMs(ms).Timestamp;
        }

        foreach (TimerNode node in _imminent)
        {
            if (next is null || node.Deadline < next)
            {
                next = node.Deadline;
            }
        }

        return next;
    }

    /// <inheritdoc />
    public void Park(TimeSpan timeout, Parker parker)
    {
        long waitTicks;
        lock (_lock)
        {
            // Reading the next deadline and publishing how long we sleep happen in one critical section:
            // a registration either comes before (and is in the deadline) or after (and sees _parkedUntil and
            // wakes us). Splitting them let a timer registered in between sleep until some later wake-up.
            long? next = NextWakeUnsynchronized();
            if (next is null)
            {
                waitTicks = -1;
            }
            else if (Clock.IsPaused)
            {
                if (IsIdle())
                {
                    // Nothing can happen before the next timer: jump to it.
                    Clock.AdvanceTo(new Instant(next.Value));
                    waitTicks = 0;
                }
                else
                {
                    waitTicks = -1;
                }
            }
            else
            {
                waitTicks = Math.Max(0, next.Value - Clock.Now().Timestamp);
            }

            if (timeout >= TimeSpan.Zero)
            {
                long limit = Instant.ToTimestamps(timeout);
                waitTicks = waitTicks < 0 ? limit : Math.Min(waitTicks, limit);
            }

            if (waitTicks != 0)
            {
                _parkedUntil = waitTicks < 0 ? long.MaxValue - 1 : Clock.Now().Timestamp + waitTicks;
            }
        }

        if (waitTicks == 0)
        {
            if (_reactor is not null)
            {
                _reactor.Turn(0);
            }
            else
            {
                _signal!.Drain();
            }

            return;
        }

        if (_reactor is not null)
        {
            _reactor.Turn(waitTicks);
        }
        else
        {
            _signal!.Wait(waitTicks);
        }

        lock (_lock)
        {
            _parkedUntil = long.MaxValue;
        }
    }

    /// <summary>True if the driver has work now: a timer to fire or a slot to cascade (takes the lock unless no timer is registered).</summary>
    internal bool AnyDue()
    {
        // Every park asks. With no timer registered (an I/O-bound server between timeouts) the answer needs neither
        // the clock nor the lock: the counts are read racily, and a timer added just after the read was not due when
        // it was added (a due one fires as it registers), so the next park's wait or maintenance poll still sees it.
        if (_wheel.Count == 0 && _imminent.Count == 0)
        {
            return false;
        }

        long now = Clock.Now().Timestamp;
        lock (_lock)
        {
            return (_wheel.Count != 0 || _imminent.Count != 0) && NextWakeUnsynchronized() is { } next && next <= now;
        }
    }

    /// <summary>Fires the due timers if no other thread is driving. Returns false if another thread was.</summary>
    internal bool FireDue()
    {
        if (!TryLock())
        {
            return false;
        }

        try
        {
            FireExpired();
        }
        finally
        {
            Unlock();
        }

        return true;
    }

    /// <inheritdoc />
    public void Poll(Parker parker) => PollIfFree();

    /// <summary>
    /// Fires due timers and dispatches ready I/O without blocking, if no other thread is driving; for the
    /// workers' periodic maintenance (so busy workers still see sockets become ready).
    /// </summary>
    internal void PollIfFree()
    {
        if (!TryLock())
        {
            return;
        }

        try
        {
            FireExpired();

            // A busy worker's poll costs an epoll_wait only while some descriptor is registered.
            if (_reactor is { RegistrationCount: > 0 } reactor)
            {
                reactor.Turn(0);
            }
        }
        finally
        {
            Unlock();
        }
    }

    /// <inheritdoc />
    public void Wake()
    {
        if (_reactor is not null)
        {
            _reactor.Wake();
        }
        else
        {
            _signal!.Set();
        }
    }

    /// <summary>Releases the reactor or the wake-up descriptor (after the runtime's threads have stopped).</summary>
    internal void Dispose()
    {
        _reactor?.Dispose();
        _signal?.Dispose();
    }

    /// <summary>Advances the wheel to now and fires what is due. Only the driving thread calls it.</summary>
    private void FireExpired()
    {
        Instant nowInstant = Clock.Now();
        long now = nowInstant.Timestamp;
        lock (_lock)
        {
            if (_wheel.Count == 0 && _imminent.Count == 0)
            {
                return;
            }

            for (int i = _imminent.Count - 1; i >= 0; i--)
            {
                TimerNode node = _imminent[i];
                if (node.Deadline <= now)
                {
                    RemoveUnsynchronized(node);
                    _expired.Add(node);
                }
            }

            ulong nowMs = Clock.ToMsFloor(nowInstant);
            if (_wheel.NextExpiration() is { } nextMs && nextMs <= nowMs)
            {
                int first = _expired.Count;
                _wheel.Advance(nowMs, _expired);

                // Slots come due at their millisecond's start: what is due later in it waits as imminent.
                for (int i = _expired.Count - 1; i >= first; i--)
                {
                    TimerNode node = _expired[i];
                    if (node.Deadline > now)
                    {
                        _expired[i] = _expired[^1];
                        _expired.RemoveAt(_expired.Count - 1);
                        AddImminentUnsynchronized(node);
                    }
                }
            }
        }

        if (_expired.Count == 0)
        {
            return;
        }

        foreach (TimerNode node in _expired)
        {
            node.Fire();
        }

        _expired.Clear();
    }
}
