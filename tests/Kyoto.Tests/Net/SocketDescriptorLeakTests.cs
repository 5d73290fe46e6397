using System.Net;
using Kyoto.Net;
using Kyoto.Tasks;
using Kyoto.Tests.Io;

namespace Kyoto.Tests.Net;

/// <summary>Opening and closing thousands of Kyoto.Net sockets (including ones aborted mid-read) leaves no descriptor open.</summary>
[Collection(nameof(DescriptorCountCollection))]
public sealed class SocketDescriptorLeakTests
{
    private static int CountOpenDescriptors() => Descriptors.CountOpen();

    private static Runtime NewRuntime(RuntimeFlavor flavor) =>
        flavor == RuntimeFlavor.MultiThread ? new RuntimeBuilder { WorkerThreads = 2 }.Build() : RuntimeBuilder.CurrentThread().Build();

    [Theory]
    [InlineData(RuntimeFlavor.MultiThread)]
    [InlineData(RuntimeFlavor.CurrentThread)]
    public void ThousandsOfUnixAndUdpSockets_OpenedAndClosed_LeakNone(RuntimeFlavor flavor)
    {
        using Runtime rt = NewRuntime(flavor);
        DirectoryInfo dir = Directory.CreateTempSubdirectory("kyoto-leak-");
        try
        {
            (int before, int after) = rt.BlockOnBounded(async () =>
            {
                int open = CountOpenDescriptors();
                for (int i = 0; i < 2_000; i++)
                {
                    var (a, b) = UnixStream.CreatePair();
                    var (c, d) = UnixDatagram.CreatePair();
                    using var udp = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    a.Dispose();
                    b.Dispose();
                    c.Dispose();
                    d.Dispose();
                    if (i % 250 == 0)
                    {
                        await KyotoTask.Yield();
                    }
                }

                string path = Path.Combine(dir.FullName, "leak.sock");
                using (var listener = UnixListener.Bind(path))
                {
                    for (int i = 0; i < 500; i++)
                    {
                        ValueTask<UnixStream> accept = listener.AcceptAsync();
                        using UnixStream client = await UnixStream.ConnectAsync(path);
                        using UnixStream server = await accept;
                    }
                }

                // Tasks aborted while blocked in a read close their sockets (their using blocks run).
                var readers = new List<JoinHandle>();
                for (int i = 0; i < 200; i++)
                {
                    var (x, y) = UnixStream.CreatePair();
                    var socket = UdpSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    readers.Add(KyotoTask.Spawn(async () =>
                    {
                        using (x)
                        using (y)
                        using (socket)
                        {
                            await x.ReadAsync(new byte[8]);
                            await socket.ReceiveFromAsync(new byte[8]);
                        }
                    }));
                }

                await KyotoTask.Yield();
                foreach (JoinHandle reader in readers)
                {
                    reader.Abort();
                }

                foreach (JoinHandle reader in readers)
                {
                    await Assert.ThrowsAsync<JoinException>(async () => await reader);
                }

                return (open, CountOpenDescriptors());
            });
            Descriptors.AssertNoLeak(before, after);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
