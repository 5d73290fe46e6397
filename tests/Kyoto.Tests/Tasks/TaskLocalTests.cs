using Kyoto.Sync;
using Kyoto.Tasks;

namespace Kyoto.Tests.Tasks;

/// <summary>TaskLocal: scoped to a task and a piece of its code, never inherited by spawned tasks.</summary>
public abstract class TaskLocalTests : RuntimeTestBase
{
    public sealed class MultiThread : TaskLocalTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.MultiThread;
    }

    public sealed class CurrentThread : TaskLocalTests
    {
        protected override RuntimeFlavor Flavor => RuntimeFlavor.CurrentThread;
    }

    private static readonly TaskLocal<string> RequestId = new();

    [Fact]
    public void Value_InsideScope_VisibleAcrossKyotoAndForeignAwaits()
    {
        using var rt = NewRuntime();
        string[] seen = rt.BlockOnBounded(async () =>
        {
            var list = new List<string>();
            await RequestId.ScopeAsync("req-1", async () =>
            {
                list.Add(RequestId.Value);
                await KyotoTask.Yield();
                list.Add(RequestId.Value);
                await Task.Yield();
                list.Add(RequestId.Value);
                await KyotoTask.Spawn(() => Task.CompletedTask);
                list.Add(RequestId.Value);
            });
            return list.ToArray();
        });
        Assert.Equal(["req-1", "req-1", "req-1", "req-1"], seen);
    }

    [Fact]
    public void Value_OutsideAnyScope_ThrowsAndTryGetValueIsFalse()
    {
        using var rt = NewRuntime();
        (bool found, Exception? e) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            bool ok = RequestId.TryGetValue(out _);
            return (ok, Record.Exception(() => RequestId.Value));
        });
        Assert.False(found);
        Assert.IsType<InvalidOperationException>(e);
    }

    [Fact]
    public void Value_AfterScopeEnds_IsGone()
    {
        using var rt = NewRuntime();
        bool found = rt.BlockOnBounded(async () =>
        {
            await RequestId.ScopeAsync("r", async () => await KyotoTask.Yield());
            return RequestId.TryGetValue(out _);
        });
        Assert.False(found);
    }

    [Fact]
    public void Value_NestedScopes_InnerWinsThenOuterIsRestored()
    {
        using var rt = NewRuntime();
        string[] seen = rt.BlockOnBounded(async () =>
        {
            var list = new List<string>();
            await RequestId.ScopeAsync("outer", async () =>
            {
                list.Add(RequestId.Value);
                await RequestId.ScopeAsync("inner", async () =>
                {
                    await KyotoTask.Yield();
                    list.Add(RequestId.Value);
                });
                list.Add(RequestId.Value);
            });
            return list.ToArray();
        });
        Assert.Equal(["outer", "inner", "outer"], seen);
    }

    [Fact]
    public void Value_ScopeBodyThrows_ScopeIsStillRestored()
    {
        using var rt = NewRuntime();
        (bool threw, string after) = rt.BlockOnBounded(async () =>
        {
            bool t = false;
            string v = "";
            await RequestId.ScopeAsync("outer", async () =>
            {
                try
                {
                    await RequestId.ScopeAsync("inner", async () =>
                    {
                        await KyotoTask.Yield();
                        throw new FormatException();
                    });
                }
                catch (FormatException)
                {
                    t = true;
                }

                v = RequestId.Value;
            });
            return (t, v);
        });
        Assert.True(threw);
        Assert.Equal("outer", after);
    }

    [Fact]
    public void Value_SpawnedTaskInsideScope_DoesNotInheritIt()
    {
        using var rt = NewRuntime();
        var asyncLocal = new AsyncLocal<string>();
        (bool childSeesTaskLocal, string? childSeesAsyncLocal, string parentAfter) = rt.BlockOnBounded(async () =>
        {
            bool childFound = true;
            string? childAsync = null;
            string parent = "";
            await RequestId.ScopeAsync("parent", async () =>
            {
                asyncLocal.Value = "flows";
                await KyotoTask.Spawn(async () =>
                {
                    await KyotoTask.Yield();
                    childFound = RequestId.TryGetValue(out _);
                    childAsync = asyncLocal.Value; // an AsyncLocal does flow, for contrast
                });
                parent = RequestId.Value;
            });
            return (childFound, childAsync, parent);
        });
        Assert.False(childSeesTaskLocal);
        Assert.Equal("flows", childSeesAsyncLocal);
        Assert.Equal("parent", parentAfter);
    }

    [Fact]
    public void Value_ConcurrentTasksWithOwnScopes_AreIsolated()
    {
        using var rt = NewRuntime();
        bool allOk = rt.BlockOnBounded(async () =>
        {
            var handles = new List<JoinHandle<bool>>();
            for (int i = 0; i < 50; i++)
            {
                string mine = "t" + i;
                handles.Add(KyotoTask.Spawn(() => RequestId.ScopeAsync(mine, async () =>
                {
                    for (int k = 0; k < 10; k++)
                    {
                        await KyotoTask.Yield();
                        if (RequestId.Value != mine)
                        {
                            return false;
                        }
                    }

                    return true;
                })));
            }

            bool ok = true;
            foreach (JoinHandle<bool> h in handles)
            {
                ok &= await h;
            }

            return ok;
        });
        Assert.True(allOk);
    }

    [Fact]
    public void ScopeAsyncOfT_ReturnsBodyResult()
    {
        using var rt = NewRuntime();
        string v = rt.BlockOnBounded(() => RequestId.ScopeAsync("abc", async () =>
        {
            await KyotoTask.Yield();
            return RequestId.Value + "!";
        }));
        Assert.Equal("abc!", v);
    }

    [Fact]
    public void Scope_Synchronous_SetsValueForBodyOnly()
    {
        using var rt = NewRuntime();
        (string inside, bool after) = rt.BlockOnBounded(async () =>
        {
            await KyotoTask.Yield();
            string v = RequestId.Scope("sync", () => RequestId.Value);
            return (v, RequestId.TryGetValue(out _));
        });
        Assert.Equal("sync", inside);
        Assert.False(after);
    }

    [Fact]
    public void Scope_NullBody_ThrowsArgumentNullException()
    {
        var local = new TaskLocal<int>();
        Assert.Throws<ArgumentNullException>(() => local.Scope<int>(1, null!));
        Assert.ThrowsAsync<ArgumentNullException>(() => local.ScopeAsync(1, null!)).GetAwaiter().GetResult();
        Assert.ThrowsAsync<ArgumentNullException>(() => local.ScopeAsync<int>(1, null!)).GetAwaiter().GetResult();
    }

    [Fact]
    public void Scope_OutsideRuntime_Works()
    {
        var local = new TaskLocal<int>();
        Assert.Equal(5, Bounded.Run(() => local.Scope(5, () => local.Value), "Scope on a plain thread"));
    }

    [Fact]
    public void Value_InsideScope_SurvivesOneshotWakeFromAnotherTask()
    {
        using var rt = NewRuntime();
        string v = rt.BlockOnBounded(async () =>
        {
            var (tx, rx) = Oneshot.Create<int>();
            _ = KyotoTask.Spawn(async () =>
            {
                await KyotoTask.Yield();
                tx.TrySend(1);
            });
            return await RequestId.ScopeAsync("woken", async () =>
            {
                await rx;
                return RequestId.Value;
            });
        });
        Assert.Equal("woken", v);
    }
}
