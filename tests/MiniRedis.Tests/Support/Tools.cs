using System.Diagnostics;

namespace MiniRedis.Tests.Support;

/// <summary>Runs redis-cli and redis-benchmark (installed by .ci/run).</summary>
public static class Tools
{
    public static (int ExitCode, string Output, string Error) Run(string program, string arguments, string? stdin = null, int timeoutMs = 120_000)
    {
        var info = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {arguments} did not finish in {timeoutMs} ms");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    public static string Cli(int port, params string[] args)
    {
        string arguments = $"-p {port} --no-raw " + string.Join(' ', args.Select(Quote));
        (int code, string output, string error) = Run("redis-cli", arguments);
        Assert.True(code == 0, $"redis-cli {arguments} exited {code}: {error}");
        return output;
    }

    private static string Quote(string arg) => arg.Length > 0 && !arg.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\') ? arg : "\"" + arg.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
