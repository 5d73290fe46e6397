namespace Kyoto.Time;

/// <summary>What an <see cref="Interval"/> does when ticks were missed (the consumer was late by more than 5 ms).</summary>
public enum MissedTickBehavior
{
    /// <summary>
    /// Fire the missed ticks as fast as possible until caught up, keeping the original schedule
    /// (ticks at start + n × period). The default.
    /// </summary>
    Burst,

    /// <summary>Start a new schedule: the next tick is one period after the late one was taken.</summary>
    Delay,

    /// <summary>Drop the missed ticks: the next tick is the next multiple of the period on the original schedule.</summary>
    Skip,
}
