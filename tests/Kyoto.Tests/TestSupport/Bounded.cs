using System.Runtime.ExceptionServices;
using Kyoto.Tasks;

namespace Kyoto.Tests;

/// <summary>
/// Bounded waits: every blocking wait in the tests goes through here, so a library hang fails the test
/// with a message instead of hanging the run.
/// </summary>
internal static class Bounded
{
    /// <summary>How long any single wait may take before the test fails.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static void Wait(ManualResetEventSlim evt, string what)
        => Assert.True(evt.Wait(Timeout), $"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");

    public static void Wait(CountdownEvent evt, string what)
        => Assert.True(evt.Wait(Timeout), $"Timed out after {Timeout.TotalSeconds}s waiting for {what} ({evt.CurrentCount} of {evt.InitialCount} left).");

    public static void Wait(SemaphoreSlim sem, string what)
        => Assert.True(sem.Wait(Timeout), $"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");

    public static void Wait(Barrier barrier, string what)
        => Assert.True(barrier.SignalAndWait(Timeout), $"Timed out after {Timeout.TotalSeconds}s at barrier: {what}.");

    /// <summary>Waits for <paramref name="task"/> and rethrows its original exception, if any.</summary>
    public static void Wait(Task task, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Timeout;
        Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(limit), $"Timed out after {limit.TotalSeconds}s waiting for {what}.");
        task.GetAwaiter().GetResult();
    }

    /// <summary>Waits for <paramref name="task"/> and returns its result, rethrowing its original exception.</summary>
    public static T Result<T>(Task<T> task, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Timeout;
        Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(limit), $"Timed out after {limit.TotalSeconds}s waiting for {what}.");
        return task.GetAwaiter().GetResult();
    }

    /// <summary>True if <paramref name="task"/> finishes (in any state) within <paramref name="timeout"/>.</summary>
    public static bool Finishes(Task task, TimeSpan? timeout = null)
        => ((IAsyncResult)task).AsyncWaitHandle.WaitOne(timeout ?? Timeout);

    /// <summary>Awaits a join handle from outside the runtime, bounded.</summary>
    public static void Join(JoinHandle handle, string what = "the task") => Wait(handle.AsTask(), what);

    /// <summary>Awaits a join handle from outside the runtime, bounded, and returns its result.</summary>
    public static T Join<T>(JoinHandle<T> handle, string what = "the task") => Result(handle.AsTask(), what);

    /// <summary>The exception awaiting <paramref name="handle"/> throws (bounded); fails if it succeeds.</summary>
    public static JoinException JoinFails(JoinHandle handle, string what = "the task")
    {
        Task t = handle.AsTask();
        Assert.True(Finishes(t), $"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        return Assert.Throws<JoinException>(() => t.GetAwaiter().GetResult());
    }

    /// <inheritdoc cref="JoinFails(JoinHandle, string)"/>
    public static JoinException JoinFails<T>(JoinHandle<T> handle, string what = "the task")
    {
        Task<T> t = handle.AsTask();
        Assert.True(Finishes(t), $"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        return Assert.Throws<JoinException>(() => t.GetAwaiter().GetResult());
    }

    /// <summary>Runs <paramref name="body"/> on a new background thread; the task completes with its outcome.</summary>
    public static Task<T> OnThread<T>(Func<T> body, string name = "kyoto-test-helper")
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                tcs.SetResult(body());
            }
            catch (Exception e)
            {
                tcs.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return tcs.Task;
    }

    /// <inheritdoc cref="OnThread{T}(Func{T}, string)"/>
    public static Task OnThread(Action body, string name = "kyoto-test-helper") => OnThread<bool>(() =>
    {
        body();
        return true;
    }, name);

    /// <summary>Runs <paramref name="body"/> on a helper thread, failing the test if it does not return in time.</summary>
    public static void Run(Action body, string what, TimeSpan? timeout = null) => Wait(OnThread(body), what, timeout);

    /// <inheritdoc cref="Run(Action, string, TimeSpan?)"/>
    public static T Run<T>(Func<T> body, string what, TimeSpan? timeout = null) => Result(OnThread(body), what, timeout);

    /// <summary>Rethrows <paramref name="e"/> preserving its stack.</summary>
    public static void Rethrow(Exception e) => ExceptionDispatchInfo.Capture(e).Throw();
}

/// <summary><c>BlockOn</c> with a bound: runs on a helper thread, so a hang fails the test instead of the run.</summary>
internal static class RuntimeTestExtensions
{
    public static T BlockOnBounded<T>(this Runtime runtime, Func<Task<T>> body, TimeSpan? timeout = null)
        => Bounded.Run(() => runtime.BlockOn(body), "Runtime.BlockOn", timeout);

    public static void BlockOnBounded(this Runtime runtime, Func<Task> body, TimeSpan? timeout = null)
        => Bounded.Run(() => runtime.BlockOn(body), "Runtime.BlockOn", timeout);

    /// <summary>Shuts down on a helper thread (bounded) and returns what <see cref="Runtime.Shutdown"/> returned.</summary>
    public static bool ShutdownBounded(this Runtime runtime, TimeSpan timeout)
        => Bounded.Run(() => runtime.Shutdown(timeout), "Runtime.Shutdown", timeout + Bounded.Timeout);
}
