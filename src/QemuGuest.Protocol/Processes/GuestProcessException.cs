using System;

namespace QemuGuest.Protocol.Processes;

/// <summary>
/// The one exception type of a failed guest-process step: a <see cref="GuestProcessFailureKind"/>
/// on top of <see cref="GuestFailureException"/>'s message, target and cause. The target is the
/// process id for a wait or look that failed, the variable name for a bad environment, else the
/// VM (session) name.
/// </summary>
public sealed class GuestProcessException : GuestFailureException
{
    public GuestProcessException(GuestProcessFailureKind kind, string message, object? target, Exception? inner = null)
        : base(message, target, inner)
    {
        Kind = kind;
    }

    public GuestProcessFailureKind Kind { get; }
}
