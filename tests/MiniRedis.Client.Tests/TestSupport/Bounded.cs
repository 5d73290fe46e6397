using Kyoto;

namespace MiniRedis.Client.Tests;

/// <summary>Bounded waits: a hang fails the test with a message instead of hanging the run.</summary>
internal static class Bounded
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="body"/> on a fresh 2-worker runtime (BlockOn on a helper thread), bounded.</summary>
    public static void OnRuntime(Func<Task> body, TimeSpan? timeout = null)
    {
        using Runtime runtime = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        var thread = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var helper = new Thread(() =>
        {
            try
            {
                runtime.BlockOn(body);
                thread.SetResult();
            }
            catch (Exception e)
            {
                thread.SetException(e);
            }
        })
        { IsBackground = true, Name = "redis-test" };
        helper.Start();
        TimeSpan limit = timeout ?? Timeout;
        Assert.True(((IAsyncResult)thread.Task).AsyncWaitHandle.WaitOne(limit), $"The test body did not finish within {limit}.");
        thread.Task.GetAwaiter().GetResult();
    }

    /// <summary>Polls <paramref name="condition"/> (on the runtime) every few milliseconds until true, failing after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(20);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < limit, $"Timed out after {limit} waiting for {what}.");
            await Kyoto.Time.KyotoTime.Sleep(TimeSpan.FromMilliseconds(20));
        }
    }
}
