using System;
using System.Globalization;
using System.IO;
using Microsoft.Extensions.Logging;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// Logs like qemu-ga: one line per event, "SECONDS.MICROSECONDS: level: message", to stderr or
/// to the -l log file (opened for append), plus the EventId so lines are machine-filterable.
/// While filesystems are frozen logging is suspended (the log file may live on a frozen fs).
/// The agent takes its loggers from here, not through a LoggerFactory: this provider already
/// filters by level and ignores categories, and the factory's rule selection reads the
/// provider's attributes by reflection, which kept the reflection runtime and its metadata in
/// every agent's resident pages (issue 19).
/// </summary>
public sealed class QgaLoggerProvider : ILoggerProvider
{
    private readonly TextWriter _writer;
    private readonly object _gate = new();
    private readonly LogLevel _minimum;

    public QgaLoggerProvider(TextWriter writer, LogLevel minimum)
    {
        _writer = writer;
        _minimum = minimum;
    }

    /// <summary>When set and true, nothing is written (frozen filesystems).</summary>
    public Func<bool>? Suspended { get; set; }

    public ILogger CreateLogger(string categoryName) => new Logger<QgaLoggerProvider>(this);

    /// <summary>A logger for <typeparamref name="T"/>'s events (the category is not written).</summary>
    public ILogger<T> CreateLogger<T>() => new Logger<T>(this);

    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Flush();
        }
    }

    private void Write(LogLevel level, EventId id, string message, Exception? exception)
    {
        if (Suspended?.Invoke() == true)
        {
            return;
        }

        long us = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        string levelText = level switch
        {
            LogLevel.Critical => "critical",
            LogLevel.Error => "error",
            LogLevel.Warning => "warning",
            LogLevel.Information => "info",
            _ => "debug",
        };
        string line = string.Create(CultureInfo.InvariantCulture, $"{us / 1000000}.{us % 1000000}: {levelText}: [{id.Id}] {message}");
        if (exception is not null)
        {
            line += ": " + exception.Message;
        }

        lock (_gate)
        {
            try
            {
                _writer.WriteLine(line);
                _writer.Flush();
            }
            catch (IOException)
            {
            }
        }
    }

    private sealed class Logger<T> : ILogger<T>
    {
        private readonly QgaLoggerProvider _provider;

        public Logger(QgaLoggerProvider provider) => _provider = provider;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= _provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _provider.Write(logLevel, eventId, formatter(state, exception), exception);
            }
        }
    }
}
