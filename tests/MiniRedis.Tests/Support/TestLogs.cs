using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MiniRedis.Tests.Support;

/// <summary>A logger provider that records every entry (event id and message) for assertions.</summary>
public sealed class TestLogs : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<(int EventId, LogLevel Level, string Message)> _entries = new();

    public IReadOnlyCollection<(int EventId, LogLevel Level, string Message)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    /// <summary>Polls (bounded) until an entry with <paramref name="eventId"/> matching <paramref name="predicate"/> appears.</summary>
    public async Task<string> WaitForAsync(int eventId, Func<string, bool>? predicate = null, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var e in _entries)
            {
                if (e.EventId == eventId && (predicate is null || predicate(e.Message)))
                {
                    return e.Message;
                }
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"no log entry with event id {eventId}; entries:\n" + string.Join("\n", _entries.Select(e => $"{e.EventId}: {e.Message}")));
    }

    private sealed class Logger(TestLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
    }
}
