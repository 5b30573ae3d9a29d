using System;

namespace QemuGuest.Protocol.Processes;

/// <summary>
/// The one exception type of a failed guest-process step: a <see cref="GuestProcessFailureKind"/>,
/// a message ready for the user (guest and user text in it already made printable), what it
/// concerns, and the protocol exception that caused it, if any, as InnerException.
/// </summary>
public sealed class GuestProcessException : Exception
{
    public GuestProcessException(GuestProcessFailureKind kind, string message, object? target, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Target = target;
    }

    public GuestProcessFailureKind Kind { get; }

    /// <summary>
    /// The error record's target: the process id for a wait or look that failed, the variable
    /// name for a bad environment, else the VM (session) name.
    /// </summary>
    public object? Target { get; }
}
