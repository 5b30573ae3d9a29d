using System;

namespace QemuGuest.Agent.Core;

/// <summary>
/// A command failed in the guest: becomes {"error": {"class": "GenericError", "desc": Message}}.
/// Handlers throw this with the stock agent's text wherever that text is observable.
/// </summary>
public sealed class AgentCommandException : Exception
{
    public AgentCommandException(string message)
        : base(message)
    {
    }

    public AgentCommandException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Error class (GenericError unless a handler says otherwise).</summary>
    public string ErrorClass { get; init; } = "GenericError";

    /// <summary>The stock "this feature or command is not currently supported" error.</summary>
    public static AgentCommandException Unsupported() => new("this feature or command is not currently supported");

    /// <summary>QERR_QGA_COMMAND_FAILED: "Guest agent command failed, error was '%s'".</summary>
    public static AgentCommandException CommandFailed(string detail) => new("Guest agent command failed, error was '" + detail + "'");
}
