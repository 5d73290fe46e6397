using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MiniRedis.Client.Tests;

/// <summary>
/// A real redis-server on a free loopback port, for one test class: started in the constructor (after which PING
/// answers), killed on dispose. Fails, never skips, when redis-server is not installed.
/// </summary>
public sealed class RedisServerFixture : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private Process? _process;

    public RedisServerFixture()
    {
        Port = FreePort();
        Start();
    }

    public int Port { get; }

    public RedisClientOptions Options(Action<RedisClientOptions>? configure = null)
    {
        var options = new RedisClientOptions { Host = "127.0.0.1", Port = Port };
        configure?.Invoke(options);
        return options;
    }

    public static string ServerPath()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            string candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "redis-server was not found on PATH: the MiniRedis.Client tests run against a real Redis. " +
            "Install it with `apt-get install -y redis-server redis-tools` (.ci/run does this).");
    }

    public void Start()
    {
        var info = new ProcessStartInfo(ServerPath())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning" })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!Ping())
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} on port {Port}.");
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"redis-server on port {Port} did not answer PING within {StartTimeout}.");
            }

            Thread.Sleep(20); // polling the process start-up, not fixing a race
        }
    }

    /// <summary>Kills the server (SIGKILL: connections see a reset or EOF) and waits until it has exited.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            Assert.True(p.WaitForExit(10_000), "redis-server did not exit");
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Kills the server and starts a fresh one (empty data) on the same port.</summary>
    public void Restart()
    {
        Kill();
        Start();
    }

    /// <summary>Sends PING over a plain socket, outside any runtime.</summary>
    public bool Ping()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            client.ReceiveTimeout = 2000;
            NetworkStream stream = client.GetStream();
            stream.Write("*1\r\n$4\r\nPING\r\n"u8);
            var buffer = new byte[64];
            int n = stream.Read(buffer);
            return Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose() => Kill();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
