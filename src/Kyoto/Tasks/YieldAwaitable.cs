using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Kyoto.Tasks;

/// <summary>The awaitable of <see cref="KyotoTask.Yield"/>: always suspends, resuming at the back of the run queue.</summary>
public readonly struct YieldAwaitable
{
    /// <summary>Gets the awaiter.</summary>
    public YieldAwaiter GetAwaiter() => default;

    /// <summary>The awaiter of <see cref="YieldAwaitable"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct YieldAwaiter : ICriticalNotifyCompletion
    {
        /// <summary>Always false: a yield always suspends.</summary>
        public bool IsCompleted => false;

        /// <inheritdoc />
        public void OnCompleted(Action continuation) => Coop.YieldContinuation(continuation, flowExecutionContext: true);

        /// <inheritdoc />
        public void UnsafeOnCompleted(Action continuation) => Coop.YieldContinuation(continuation, flowExecutionContext: false);

        /// <summary>Ends the await; throws <see cref="TaskAbortedException"/> if the task was aborted.</summary>
        public void GetResult() => Coop.ThrowIfAborted();
    }
}

/// <summary>
/// The awaitable of <see cref="KyotoTask.ConsumeBudget"/>: completes at once while the task has coop budget,
/// and yields once it is spent.
/// </summary>
public readonly struct BudgetAwaitable
{
    /// <summary>Gets the awaiter.</summary>
    public BudgetAwaiter GetAwaiter() => default;

    /// <summary>The awaiter of <see cref="BudgetAwaitable"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public readonly struct BudgetAwaiter : ICriticalNotifyCompletion
    {
        /// <summary>True (and one unit consumed) while budget remains.</summary>
        public bool IsCompleted => Coop.TryConsume();

        /// <inheritdoc />
        public void OnCompleted(Action continuation) => Coop.YieldContinuation(continuation, flowExecutionContext: true);

        /// <inheritdoc />
        public void UnsafeOnCompleted(Action continuation) => Coop.YieldContinuation(continuation, flowExecutionContext: false);

        /// <summary>Ends the await; throws <see cref="TaskAbortedException"/> if the task was aborted.</summary>
        public void GetResult() => Coop.ThrowIfAborted();
    }
}
