using System.ComponentModel;
using System.Runtime.CompilerServices;
using Kyoto.Timing;

namespace Kyoto.Time;

/// <summary>
/// A pending sleep (from <see cref="KyotoTime.Sleep(TimeSpan, CancellationToken)"/>): await it once; move its
/// deadline with <see cref="Reset"/> while it is pending. Sleeping allocates nothing once warm.
/// </summary>
/// <remarks>
/// Awaiting throws <see cref="OperationCanceledException"/> if the token is cancelled first, and
/// <see cref="Kyoto.Tasks.TaskAbortedException"/> if the awaiting task is aborted; either way the timer is
/// removed from the wheel. Like a <see cref="ValueTask"/>, a sleep may be awaited only once.
/// <para><b>Cancel safety:</b> nothing is lost by abandoning a sleep; its timer fires later and is discarded.</para>
/// </remarks>
public readonly struct Sleep
{
    private readonly SleepSource? _source;
    private readonly short _version;

    internal Sleep(SleepSource source)
    {
        _source = source;
        _version = source.Version;
    }

    private SleepSource Source => _source ?? throw new InvalidOperationException("This Sleep is default: create one with KyotoTime.Sleep.");

    /// <summary>When the sleep ends.</summary>
    public Instant Deadline => Source.Deadline;

    /// <summary>True once the deadline has passed (or the sleep was cancelled).</summary>
    public bool IsCompleted => Source.Version != _version || Source.IsCompleted;

    /// <summary>
    /// Moves the deadline of a pending sleep (earlier or later). Returns false if the sleep has already
    /// completed (it is then not re-armed).
    /// </summary>
    /// <exception cref="InvalidOperationException">The sleep has already been awaited to completion.</exception>
    public bool Reset(Instant deadline) => Source.Reset(_version, deadline);

    /// <summary>The sleep as a <see cref="ValueTask"/>.</summary>
    public ValueTask AsValueTask() => new(Source, _version);

    /// <summary>Gets the awaiter.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
#pragma warning disable CA2012 // the awaiter is the one consumer of this ValueTask
    public ValueTaskAwaiter GetAwaiter() => AsValueTask().GetAwaiter();
#pragma warning restore CA2012
}
