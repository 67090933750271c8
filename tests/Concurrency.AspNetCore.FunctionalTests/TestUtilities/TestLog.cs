using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

/// <summary>Keeps what the app logs under one category, for tests that assert what developers find in the log.</summary>
public sealed class TestLog(string category) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _messages = new();

    public IReadOnlyCollection<string> Messages
        => _messages;

    public ILogger CreateLogger(string categoryName)
        => categoryName == category ? new Logger(_messages) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
            => null;

        public bool IsEnabled(LogLevel logLevel)
            => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => messages.Enqueue(formatter(state, exception));
    }
}
