// Invariants (BranchWatcher):
// 1. A watcher watches one pending ValueTask of one branch for one operation: it registers one continuation,
//    and that continuation reads the result once (the one GetResult a ValueTask allows), stores the outcome
//    in the watcher, then reports to the group. The outcome fields are written before the report (which
//    takes the group's lock) and read by the owner only after the group said every watcher reported.
// 2. The continuation is registered without flowing the execution context and without the scheduling
//    context: it is a few instructions of ours (read the result, report), never user code, so it may run
//    inline wherever the branch completes; the owner's own continuation goes through the group's Kyoto signal
//    and so always resumes on the owner's runtime.
// 3. After reporting, the continuation touches no field of the watcher; the owner returns the watcher to
//    its per-thread pool after reading the outcome.
namespace Kyoto.Sync;

/// <summary>The untyped part of a branch's outcome, read by the group.</summary>
internal abstract class BranchWatcher
{
    /// <summary>The branch's index in the operation.</summary>
    internal int Index;

    /// <summary>When the branch completed relative to the others (1 = first); set by the group.</summary>
    internal int Order;

    /// <summary>The branch's exception, or null if it produced a value.</summary>
    internal Exception? Error;

    /// <summary>True if the group's token had been cancelled when the branch completed.</summary>
    internal bool TokenWasCancelled;
}

/// <summary>Watches one pending branch of result type <typeparamref name="T"/>.</summary>
internal sealed class BranchWatcher<T> : BranchWatcher
{
    private const int MaxPooledPerThread = 16;

    [ThreadStatic]
    private static BranchWatcher<T>? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    private readonly Action _onCompleted;
    private BranchWatcher<T>? _nextFree;
    private BranchGroup? _group;
    private ValueTask<T> _task;

    /// <summary>The branch's value, if it produced one.</summary>
    internal T? Value;

    private BranchWatcher() => _onCompleted = OnCompleted;

    /// <summary>Counts a new watcher in <paramref name="group"/> and starts watching <paramref name="task"/>.</summary>
    internal static BranchWatcher<T> Watch(BranchGroup group, int index, ValueTask<T> task)
    {
        BranchWatcher<T>? w = t_free;
        if (w is not null)
        {
            t_free = w._nextFree;
            t_freeCount--;
            w._nextFree = null;
        }
        else
        {
            w = new BranchWatcher<T>();
        }

        w._group = group;
        w.Index = index;
        w._task = task;
        group.Watching();
        if (task.IsCompleted)
        {
            w.OnCompleted();
        }
        else
        {
            task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(w._onCompleted);
        }

        return w;
    }

    private void OnCompleted()
    {
        ValueTask<T> task = _task;
        _task = default;
        BranchGroup group = _group!;
        try
        {
            Value = task.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Error = e;
        }

        TokenWasCancelled = group.Token.IsCancellationRequested;
        group.Report(this);
    }

    /// <summary>Returns the watcher to this thread's pool (after its outcome was read).</summary>
    internal void Return()
    {
        Value = default;
        Error = null;
        _group = null;
        Order = 0;
        TokenWasCancelled = false;
        if (t_freeCount < MaxPooledPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
    }
}
