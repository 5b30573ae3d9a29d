using System;
using Microsoft.Extensions.Logging;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// The one registry of the agent's log EventIds. Ids are stable: never renumber or reuse one;
/// retire an id by leaving a comment. Ranges: 1xx lifecycle, 2xx channel, 3xx requests,
/// 4xx state and policy, 5xx command internals.
/// </summary>
internal static class AgentEventIds
{
    public const int Starting = 100;
    public const int Stopping = 101;
    public const int StartFailed = 102;
    public const int PidFileFailed = 103;

    public const int ChannelOpened = 200;
    public const int ChannelClosed = 201;
    public const int ChannelUnavailable = 202;
    public const int ChannelRetrying = 203;
    public const int ClientConnected = 204;
    public const int ClientDisconnected = 205;
    public const int ChannelReadFailed = 206;
    public const int ChannelWriteFailed = 207;

    public const int RequestReceived = 300;
    public const int RequestFailed = 301;
    public const int RequestCrashed = 302;
    public const int StrayInput = 303;
    public const int RequestCancelled = 304;

    public const int StateLoadFailed = 400;
    public const int StateWriteFailed = 401;
    public const int CommandDisabled = 402;
    public const int Frozen = 403;
    public const int Thawed = 404;
    public const int PreviouslyFrozen = 405;
    public const int PolicyWarning = 406;

    public const int HookFailed = 500;
    public const int ExecFailed = 501;
}

internal static partial class AgentLog
{
    [LoggerMessage(EventId = AgentEventIds.Starting, Level = LogLevel.Information, Message = "QemuGuest agent {Version} starting: method {Method}, path {Path}, statedir {StateDir}")]
    public static partial void Starting(ILogger logger, string version, string method, string? path, string stateDir);

    [LoggerMessage(EventId = AgentEventIds.Stopping, Level = LogLevel.Information, Message = "agent stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = AgentEventIds.StartFailed, Level = LogLevel.Critical, Message = "error initializing guest agent: {Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = AgentEventIds.PidFileFailed, Level = LogLevel.Critical, Message = "cannot write pidfile {Path}: {Reason}")]
    public static partial void PidFileFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = AgentEventIds.ChannelOpened, Level = LogLevel.Information, Message = "channel {Method} open on {Path}")]
    public static partial void ChannelOpened(ILogger logger, string method, string path);

    [LoggerMessage(EventId = AgentEventIds.ChannelClosed, Level = LogLevel.Warning, Message = "channel closed: {Reason}")]
    public static partial void ChannelClosed(ILogger logger, string reason);

    [LoggerMessage(EventId = AgentEventIds.ChannelUnavailable, Level = LogLevel.Critical, Message = "failed to open channel {Path}: {Reason}")]
    public static partial void ChannelUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = AgentEventIds.ChannelRetrying, Level = LogLevel.Warning, Message = "waiting for channel path {Path} (attempt {Attempt}, next in {Delay})")]
    public static partial void ChannelRetrying(ILogger logger, string path, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = AgentEventIds.ClientConnected, Level = LogLevel.Debug, Message = "client connected")]
    public static partial void ClientConnected(ILogger logger);

    [LoggerMessage(EventId = AgentEventIds.ClientDisconnected, Level = LogLevel.Debug, Message = "client disconnected")]
    public static partial void ClientDisconnected(ILogger logger);

    [LoggerMessage(EventId = AgentEventIds.ChannelReadFailed, Level = LogLevel.Warning, Message = "error reading channel")]
    public static partial void ChannelReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = AgentEventIds.ChannelWriteFailed, Level = LogLevel.Warning, Message = "error sending response")]
    public static partial void ChannelWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = AgentEventIds.RequestReceived, Level = LogLevel.Debug, Message = "processing command {Command}")]
    public static partial void RequestReceived(ILogger logger, string command);

    [LoggerMessage(EventId = AgentEventIds.RequestFailed, Level = LogLevel.Debug, Message = "command {Command} failed: {Description}")]
    public static partial void RequestFailed(ILogger logger, string command, string description);

    [LoggerMessage(EventId = AgentEventIds.RequestCrashed, Level = LogLevel.Error, Message = "command {Command} threw unexpectedly")]
    public static partial void RequestCrashed(ILogger logger, string command, Exception exception);

    [LoggerMessage(EventId = AgentEventIds.StrayInput, Level = LogLevel.Debug, Message = "input error: {Description}")]
    public static partial void StrayInput(ILogger logger, string description);

    [LoggerMessage(EventId = AgentEventIds.RequestCancelled, Level = LogLevel.Warning, Message = "command {Command} cancelled")]
    public static partial void RequestCancelled(ILogger logger, string command);

    [LoggerMessage(EventId = AgentEventIds.StateLoadFailed, Level = LogLevel.Critical, Message = "failed to load persistent state {Path}: {Reason}")]
    public static partial void StateLoadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = AgentEventIds.StateWriteFailed, Level = LogLevel.Critical, Message = "failed to write persistent state to {Path}: {Reason}")]
    public static partial void StateWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = AgentEventIds.CommandDisabled, Level = LogLevel.Debug, Message = "disabling command: {Command}")]
    public static partial void CommandDisabled(ILogger logger, string command);

    [LoggerMessage(EventId = AgentEventIds.Frozen, Level = LogLevel.Warning, Message = "filesystems frozen: disabling non-freeze-safe commands")]
    public static partial void Frozen(ILogger logger);

    [LoggerMessage(EventId = AgentEventIds.Thawed, Level = LogLevel.Warning, Message = "filesystems thawed: commands re-enabled")]
    public static partial void Thawed(ILogger logger);

    [LoggerMessage(EventId = AgentEventIds.PreviouslyFrozen, Level = LogLevel.Warning, Message = "previous instance appears to have exited with frozen filesystems; non-fsfreeze-safe commands stay disabled until guest-fsfreeze-thaw, or until the filesystems are thawed by hand and {Path} is removed")]
    public static partial void PreviouslyFrozen(ILogger logger, string path);

    [LoggerMessage(EventId = AgentEventIds.PolicyWarning, Level = LogLevel.Warning, Message = "block-rpcs {Warning}")]
    public static partial void PolicyWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = AgentEventIds.HookFailed, Level = LogLevel.Warning, Message = "fsfreeze hook {Hook} {Argument} failed: {Reason}")]
    public static partial void HookFailed(ILogger logger, string hook, string argument, string reason);

    [LoggerMessage(EventId = AgentEventIds.ExecFailed, Level = LogLevel.Debug, Message = "guest-exec of {Path} failed: {Reason}")]
    public static partial void ExecFailed(ILogger logger, string path, string reason);
}
