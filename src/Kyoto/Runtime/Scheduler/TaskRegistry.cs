using Kyoto.Tasks;

namespace Kyoto.Scheduling;

/// <summary>
/// The runtime's set of started, unfinished tasks (Tokio's OwnedTasks): what shutdown aborts and what
/// diagnostics list. Only tasks that did not finish in their first poll are registered, so a task that
/// completes at once costs nothing here.
/// </summary>
/// <remarks>
/// <para>Invariants:</para>
/// <list type="number">
/// <item>Intrusive doubly-linked lists (<see cref="TaskCore.RegistryPrev"/>/<see cref="TaskCore.RegistryNext"/>),
/// sharded by task id; each shard's links and count change only under that shard's <see cref="TinyLock"/>.</item>
/// <item>A task is added by the thread that ran its first poll, before the continuation that observes its
/// completion is attached; it is removed by its completion. So a removal never precedes its add.</item>
/// <item>Once <see cref="Close"/> has run, <see cref="TryAdd"/> still registers the task (so shutdown's last
/// step can complete it if it never unwinds) but returns false: the caller aborts the task itself, so no task
/// escapes the abort sweep.</item>
/// </list>
/// </remarks>
internal sealed class TaskRegistry
{
    private const int ShardCount = 16;

    private readonly Shard[] _shards;
    private volatile bool _closed;
    private readonly ManualResetEventSlim _emptyAfterClose = new(false);

    internal TaskRegistry()
    {
        _shards = new Shard[ShardCount];
        for (int i = 0; i < ShardCount; i++)
        {
            _shards[i] = new Shard();
        }
    }

    private sealed class Shard
    {
        private TinyLock _lock;
        internal TaskCore? Head;
        internal int Count;

        internal void Enter() => _lock.Enter();

        internal void Exit() => _lock.Exit();
    }

    internal bool IsClosed => _closed;

    /// <summary>Registers a task; returns false (the task is registered all the same) once the registry is closed.</summary>
    internal bool TryAdd(TaskCore task)
    {
        Shard shard = _shards[(int)(task.Id & (ShardCount - 1))];
        shard.Enter();
        bool open = !_closed;
        if (!open)
        {
            _emptyAfterClose.Reset();
        }

        task.RegistryNext = shard.Head;
        if (shard.Head is not null)
        {
            shard.Head.RegistryPrev = task;
        }

        shard.Head = task;
        task.IsRegistered = true;
        shard.Count++;
        shard.Exit();
        return open;
    }

    internal void Remove(TaskCore task)
    {
        Shard shard = _shards[(int)(task.Id & (ShardCount - 1))];
        shard.Enter();
        if (!task.IsRegistered)
        {
            shard.Exit();
            return;
        }

        task.IsRegistered = false;
        if (task.RegistryPrev is not null)
        {
            task.RegistryPrev.RegistryNext = task.RegistryNext;
        }
        else
        {
            shard.Head = task.RegistryNext;
        }

        if (task.RegistryNext is not null)
        {
            task.RegistryNext.RegistryPrev = task.RegistryPrev;
        }

        task.RegistryPrev = null;
        task.RegistryNext = null;
        shard.Count--;
        bool checkEmpty = _closed && shard.Count == 0;
        shard.Exit();

        if (checkEmpty && Count == 0)
        {
            _emptyAfterClose.Set();
        }
    }

    /// <summary>Registered tasks, summed over the shards (racy unless closed).</summary>
    internal int Count
    {
        get
        {
            int n = 0;
            foreach (Shard s in _shards)
            {
                s.Enter();
                n += s.Count;
                s.Exit();
            }

            return n;
        }
    }

    /// <summary>A snapshot of the registered tasks.</summary>
    internal List<TaskCore> Snapshot()
    {
        var list = new List<TaskCore>();
        foreach (Shard s in _shards)
        {
            s.Enter();
            try
            {
                for (TaskCore? t = s.Head; t is not null; t = t.RegistryNext)
                {
                    list.Add(t);
                }
            }
            finally
            {
                s.Exit();
            }
        }

        return list;
    }

    /// <summary>Refuses further registrations and returns the tasks registered now.</summary>
    internal List<TaskCore> Close()
    {
        foreach (Shard s in _shards)
        {
            s.Enter();
            _closed = true;
            s.Exit();
        }

        List<TaskCore> tasks = Snapshot();
        if (tasks.Count == 0)
        {
            _emptyAfterClose.Set();
        }

        return tasks;
    }

    /// <summary>After <see cref="Close"/>: waits until every registered task has finished.</summary>
    internal bool WaitEmpty(TimeSpan timeout) => _emptyAfterClose.Wait(timeout < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : timeout);

    /// <summary>The handle of <see cref="WaitEmpty"/>, to wait on together with a drive loop.</summary>
    internal bool IsEmptyAfterClose => _emptyAfterClose.IsSet;
}
