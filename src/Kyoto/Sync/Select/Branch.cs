namespace Kyoto.Sync;

/// <summary>
/// One branch of a select or try-join, as the owner sees it: not started, completed while being started, or
/// pending under a <see cref="BranchWatcher{T}"/>. A mutable struct kept in the owner's locals or arrays; only
/// the owner touches it.
/// </summary>
internal struct Branch<T>
{
    /// <summary>The watcher of a branch that was pending when started; null otherwise (and after <see cref="Collect"/>).</summary>
    private BranchWatcher<T>? _watcher;

    /// <summary>True once the branch was started.</summary>
    internal bool Started;

    /// <summary>The value, if <see cref="Error"/> is null and the branch completed.</summary>
    internal T? Value;

    /// <summary>The branch's exception, or null.</summary>
    internal Exception? Error;

    /// <summary>When the branch completed relative to the others (1 = first); 0 if not started.</summary>
    internal int Order;

    /// <summary>True if the group's token had been cancelled when the branch completed.</summary>
    internal bool TokenWasCancelled;

    /// <summary>True if the branch completed with a value.</summary>
    internal readonly bool Succeeded => Started && Error is null;

    /// <summary>True if the branch failed with something other than the cancellation the group asked for.</summary>
    internal readonly bool FailedOtherwise => Started && Error is not null && !BranchGroup.IsCancellation(Error, TokenWasCancelled);

    /// <summary>The untyped outcome, for <see cref="BranchOutcome.Resolve"/>.</summary>
    internal readonly BranchOutcome Outcome => new(Started, Succeeded, FailedOtherwise, Order, Error);

    /// <summary>
    /// Starts the branch with the group's token. A branch that completes (or throws) at once is recorded and
    /// may decide the operation; otherwise a watcher reports its completion to the group.
    /// </summary>
    internal void Start(BranchGroup group, int index, Func<CancellationToken, ValueTask<T>> branch)
    {
        Started = true;
        ValueTask<T> task;
        try
        {
            task = branch(group.Token);
        }
        catch (Exception e)
        {
            CompleteSynchronously(group, index, default, e);
            return;
        }

        if (!task.IsCompleted)
        {
            _watcher = BranchWatcher<T>.Watch(group, index, task);
            return;
        }

        T? value = default;
        Exception? error = null;
        try
        {
            value = task.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            error = e;
        }

        CompleteSynchronously(group, index, value, error);
    }

    private void CompleteSynchronously(BranchGroup group, int index, T? value, Exception? error)
    {
        Value = value;
        Error = error;
        Order = group.NextOrder();
        TokenWasCancelled = group.Token.IsCancellationRequested;
        group.CompletedSynchronously(index, failed: error is not null);
    }

    /// <summary>Moves a watched branch's outcome here and returns the watcher to its pool. Call once the group finished.</summary>
    internal void Collect()
    {
        BranchWatcher<T>? w = _watcher;
        if (w is null)
        {
            return;
        }

        _watcher = null;
        Value = w.Value;
        Error = w.Error;
        Order = w.Order;
        TokenWasCancelled = w.TokenWasCancelled;
        w.Return();
    }
}

/// <summary>The untyped outcome of one branch, once the group has finished.</summary>
internal readonly struct BranchOutcome(bool started, bool succeeded, bool failedOtherwise, int order, Exception? error)
{
    internal bool Started { get; } = started;

    internal bool Succeeded { get; } = succeeded;

    internal bool FailedOtherwise { get; } = failedOtherwise;

    internal int Order { get; } = order;

    internal Exception? Error { get; } = error;

    /// <summary>
    /// Picks the branch whose value a select returns: the deciding (first completed) branch if it succeeded,
    /// else the earliest completed branch that succeeded. If none succeeded, throws the deciding branch's
    /// exception (see <see cref="BranchGroup.Rethrow"/>). <paramref name="loserErrors"/> gets the other
    /// branches' exceptions that are not the requested cancellation.
    /// </summary>
    internal static int Resolve(ReadOnlySpan<BranchOutcome> outcomes, int decided, CancellationToken callerToken, out (int Index, Exception Exception)[]? loserErrors)
    {
        int result = -1;
        if (outcomes[decided].Succeeded)
        {
            result = decided;
        }
        else
        {
            int best = int.MaxValue;
            for (int i = 0; i < outcomes.Length; i++)
            {
                if (outcomes[i].Succeeded && outcomes[i].Order < best)
                {
                    best = outcomes[i].Order;
                    result = i;
                }
            }
        }

        if (result < 0)
        {
            // No value anywhere: the select fails with the first completion's exception.
            throw BranchGroup.Rethrow(outcomes[decided].Error!, callerToken);
        }

        int errorCount = 0;
        for (int i = 0; i < outcomes.Length; i++)
        {
            if (i != result && outcomes[i].FailedOtherwise)
            {
                errorCount++;
            }
        }

        loserErrors = null;
        if (errorCount > 0)
        {
            loserErrors = new (int, Exception)[errorCount];
            int k = 0;
            for (int i = 0; i < outcomes.Length; i++)
            {
                if (i != result && outcomes[i].FailedOtherwise)
                {
                    loserErrors[k++] = (i, outcomes[i].Error!);
                }
            }
        }

        return result;
    }
}
