using System;

namespace QemuGuest.Protocol;

// One exception type per way a call can fail; the PowerShell side maps each to an
// ErrorCategory in exactly one table (QemuGuest.Cmdlets ErrorTable).

/// <summary>Base of every failure talking to a guest agent.</summary>
public abstract class QgaException : Exception
{
    protected QgaException(string? command, string message, Exception? inner = null)
        : base(message, inner)
    {
        Command = command;
    }

    /// <summary>The command being run when it failed, if any.</summary>
    public string? Command { get; }
}

/// <summary>The agent answered with {"error": {"class": ..., "desc": ...}}.</summary>
public class QgaCommandException : QgaException
{
    // The guest writes the description: the message (what consoles and logs show) gets it
    // printable; Description keeps it raw for scripts.
    public QgaCommandException(string command, string errorClass, string description)
        : base(command, $"{command}: {GuestText.Printable(description)}")
    {
        ErrorClass = errorClass;
        Description = description;
    }

    public string ErrorClass { get; }

    public string Description { get; }

    /// <summary>
    /// Set when a relay made this error because the request was interrupted between it and the
    /// guest (the member <see cref="QgaInterruptions.Member"/> of the error object): the same
    /// interruption a direct session reports as <see cref="QgaDisconnectedException"/> or
    /// <see cref="QgaTimeoutException"/>. Null for every error an agent made.
    /// </summary>
    public QgaInterruption? Interruption { get; private set; }

    /// <summary>
    /// The exception for an error reply: <see cref="QgaGenericErrorException"/>,
    /// <see cref="QgaCommandNotFoundException"/>, or this base type for any other class
    /// (QMP knows a few more, e.g. DeviceNotFound; agents may invent their own).
    /// </summary>
    public static QgaCommandException Create(string command, string errorClass, string description, QgaInterruption? interruption = null)
    {
        QgaCommandException e = errorClass switch
        {
            "GenericError" => new QgaGenericErrorException(command, description),
            "CommandNotFound" => new QgaCommandNotFoundException(command, description),
            _ => new QgaCommandException(command, errorClass, description),
        };
        e.Interruption = interruption;
        return e;
    }
}

/// <summary>How a relay's request to the guest was interrupted (<see cref="QgaCommandException.Interruption"/>).</summary>
public enum QgaInterruption
{
    /// <summary>The connection to the guest agent was lost after the request was sent.</summary>
    ConnectionLost,

    /// <summary>No reply began, or the reply did not complete, in time.</summary>
    NoReply,

    /// <summary>The guest channel was not ready before the queue timeout; the request was not sent.</summary>
    NotReady,

    /// <summary>
    /// A bulk frame broke a rule (length, checksum, sequence, count, a byte where a frame
    /// belongs) and the relay ended the transfer and resynchronised the channel. Not an
    /// interruption to resume from: the same guest would lie again (a direct session reports
    /// it as <see cref="QgaProtocolException"/>).
    /// </summary>
    BadFrame,
}

/// <summary>
/// The structural mark of a relay interruption on the wire: an extra member of the error
/// object, <c>{"error": {"class": "GenericError", "desc": "qemuguest-relay: ...",
/// "x-qemuguest-interruption": "no-reply"}}</c>. A stock QMP client reads class and desc and
/// ignores the rest; ours tests the mark instead of the wording.
/// </summary>
public static class QgaInterruptions
{
    /// <summary>The member name ("x-" as QEMU marks what is not a stable interface).</summary>
    public const string Member = "x-qemuguest-interruption";

    public static string ToWire(QgaInterruption kind) => kind switch
    {
        QgaInterruption.ConnectionLost => "connection-lost",
        QgaInterruption.NoReply => "no-reply",
        QgaInterruption.BadFrame => "bad-frame",
        _ => "not-ready",
    };

    /// <summary>The kind a wire value names; null for anything else (a newer relay's kind is no interruption we know).</summary>
    public static QgaInterruption? FromWire(string? value) => value switch
    {
        "connection-lost" => QgaInterruption.ConnectionLost,
        "no-reply" => QgaInterruption.NoReply,
        "not-ready" => QgaInterruption.NotReady,
        "bad-frame" => QgaInterruption.BadFrame,
        _ => null,
    };
}

/// <summary>Error class GenericError: bad arguments or the command failed in the guest.</summary>
public sealed class QgaGenericErrorException : QgaCommandException
{
    public QgaGenericErrorException(string command, string description)
        : base(command, "GenericError", description)
    {
    }
}

/// <summary>Error class CommandNotFound: unknown, or disabled by the agent's policy.</summary>
public sealed class QgaCommandNotFoundException : QgaCommandException
{
    public QgaCommandNotFoundException(string command, string description)
        : base(command, "CommandNotFound", description)
    {
    }
}

/// <summary>No (complete) reply within the call's timeout.</summary>
public sealed class QgaTimeoutException : QgaException
{
    public QgaTimeoutException(string? command, TimeSpan timeout)
        : base(command, $"{command ?? "guest agent"}: no reply within {FormatSeconds(timeout)} s")
    {
        Timeout = timeout;
    }

    public QgaTimeoutException(string? command, TimeSpan timeout, string message)
        : base(command, message)
    {
        Timeout = timeout;
    }

    private static string FormatSeconds(TimeSpan timeout) =>
        timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    public TimeSpan Timeout { get; }
}

/// <summary>The channel closed or could not be opened.</summary>
public sealed class QgaDisconnectedException : QgaException
{
    public QgaDisconnectedException(string? command, string message, Exception? inner = null)
        : base(command, message, inner)
    {
    }
}

/// <summary>The peer broke the protocol: malformed, oversized or wrongly-shaped reply.</summary>
public sealed class QgaProtocolException : QgaException
{
    public QgaProtocolException(string? command, string message, Exception? inner = null)
        : base(command, message, inner)
    {
    }
}
