using Kyoto.Tasks;

namespace Kyoto.Tests;

public class SmokeTests
{
    [Fact]
    public void BlockOn_ReturnsValue_MultiThread()
    {
        using var rt = new RuntimeBuilder { WorkerThreads = 2 }.Build();
        int v = rt.BlockOn(async () =>
        {
            await KyotoTask.Yield();
            var h = KyotoTask.Spawn(async () => { await KyotoTask.Yield(); return 41; });
            return await h + 1;
        });
        Assert.Equal(42, v);
    }

    [Fact]
    public void BlockOn_ReturnsValue_CurrentThread()
    {
        using var rt = RuntimeBuilder.CurrentThread().Build();
        int v = rt.BlockOn(async () =>
        {
            await KyotoTask.Yield();
            var h = KyotoTask.Spawn(async () => { await KyotoTask.Yield(); return 41; });
            return await h + 1;
        });
        Assert.Equal(42, v);
    }
}
