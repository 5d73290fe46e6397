// The process-wide state of one signal number: the one PosixSignalRegistration Kyoto installs for it, the
// delivery counter, and the receivers to wake (Tokio's signal registry: one global handler per signal, whose
// only work is to bump a counter and write to a descriptor that the runtime's I/O driver watches).
//
// How a delivery reaches a waiting task:
//   kernel -> .NET's native handler -> .NET's signal thread -> Handle (below): under _lock, _deliveries += 1, then
//   write 1 to the eventfd of every live receiver -> epoll reports the eventfd readable to the reactor of the
//   receiver's runtime -> the worker that turned the reactor wakes the task parked in SignalReceiver.RecvAsync ->
//   the task drains its eventfd and sees _deliveries != the count it last observed.
//
// Invariants:
//  1. _deliveries only grows, only in Handle, under _lock, and is published (Volatile.Write) before any eventfd is
//     written. So a receiver woken through its eventfd always finds the new count, and one that reads an
//     unchanged count after draining its eventfd has really missed nothing (it waits again).
//  2. A receiver joins _listeners and reads its starting count in one locked region (Add): every delivery counted
//     after that count writes its eventfd, every one before it is not "after the receiver was created".
//  3. A receiver leaves _listeners (Remove, under _lock) before its eventfd is closed, so Handle never writes to a
//     closed descriptor whose number may have been reused.
//  4. The registration is created once, on the first Add, and never disposed: later handlers and receivers reuse
//     it, and the process keeps one handler per signal number however many runtimes listen.
//  5. Handle cancels the signal's default action (context.Cancel) exactly when a receiver is registered and the
//     default action is not "ignore": SIGTERM/SIGINT/SIGHUP/SIGUSR1... then no longer terminate the process while
//     someone listens; SIGCHLD and SIGWINCH keep .NET's own handling.
using System.Runtime.InteropServices;

namespace Kyoto.Signal;

/// <summary>The process-wide delivery counter and receiver list of one signal number.</summary>
internal sealed class SignalSlot
{
    // Indexed by signal number; entries are created under s_slotsLock and never replaced.
    private static readonly SignalSlot?[] s_slots = new SignalSlot?[SignalKind.MaxNumber + 1];
    private static readonly object s_slotsLock = new();

    private readonly SignalKind _kind;

    // Guards _listeners, _registration and the writes of _deliveries (invariants 1-3).
    private readonly object _lock = new();

    // Under _lock only.
    private readonly List<SignalReceiver> _listeners = [];

    // Under _lock only; kept so the registration is never finalized (invariant 4).
    private PosixSignalRegistration? _registration;

    // Written only by Handle under _lock; read by any thread (Volatile).
    private long _deliveries;

    private SignalSlot(SignalKind kind) => _kind = kind;

    /// <summary>How many deliveries of this signal the handler has seen since it was installed.</summary>
    internal long Deliveries => Volatile.Read(ref _deliveries);

    /// <summary>How many receivers are registered (a snapshot).</summary>
    internal int ListenerCount
    {
        get
        {
            lock (_lock)
            {
                return _listeners.Count;
            }
        }
    }

    /// <summary>The slot of <paramref name="kind"/>, created on first use.</summary>
    internal static SignalSlot For(SignalKind kind)
    {
        SignalSlot? slot = Volatile.Read(ref s_slots[kind.Number]);
        if (slot is not null)
        {
            return slot;
        }

        lock (s_slotsLock)
        {
            slot = s_slots[kind.Number];
            if (slot is null)
            {
                slot = new SignalSlot(kind);
                Volatile.Write(ref s_slots[kind.Number], slot);
            }

            return slot;
        }
    }

    /// <summary>
    /// Registers <paramref name="receiver"/> (installing the process-wide handler on first use) and returns the
    /// delivery count it starts from (invariant 2).
    /// </summary>
    internal long Add(SignalReceiver receiver)
    {
        lock (_lock)
        {
            _registration ??= PosixSignalRegistration.Create(ToPosixSignal(_kind), Handle);
            _listeners.Add(receiver);
            return _deliveries;
        }
    }

    /// <summary>Unregisters <paramref name="receiver"/>; after this returns, Handle no longer writes its eventfd (invariant 3).</summary>
    internal void Remove(SignalReceiver receiver)
    {
        lock (_lock)
        {
            _listeners.Remove(receiver);
        }
    }

    // The named portable values where .NET has them (so they share .NET's own registration table entries), the raw
    // number otherwise (.NET accepts raw Unix numbers cast to PosixSignal).
    private static PosixSignal ToPosixSignal(SignalKind kind)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Kyoto.Signal uses Linux signal numbers and Kyoto's Linux I/O driver.");
        }

        return kind.Number switch
        {
            1 => PosixSignal.SIGHUP,
            2 => PosixSignal.SIGINT,
            3 => PosixSignal.SIGQUIT,
            15 => PosixSignal.SIGTERM,
            17 => PosixSignal.SIGCHLD,
            18 => PosixSignal.SIGCONT,
            28 => PosixSignal.SIGWINCH,
            int raw => (PosixSignal)raw,
        };
    }

    // Runs on .NET's signal-dispatch thread (not in signal-handler context: locks are allowed). Never throws.
    private void Handle(PosixSignalContext context)
    {
        lock (_lock)
        {
            Volatile.Write(ref _deliveries, _deliveries + 1);
            foreach (SignalReceiver receiver in _listeners)
            {
                receiver.Wake();
            }

            if (_listeners.Count > 0 && !_kind.IgnoredByDefault)
            {
                context.Cancel = true;
            }
        }
    }
}
