using System;

namespace QemuGuest.Protocol;

/// <summary>
/// Base of the engines' typed failures (<see cref="Transfer.TransferException"/>,
/// <see cref="Processes.GuestProcessException"/>): a message ready for the user (guest and
/// user text in it already made printable), what the failure concerns, and the exception that
/// caused it, if any, as InnerException. Each subclass adds its own kind; the cmdlets map kinds
/// to ErrorIds in their one error table.
/// </summary>
public abstract class GuestFailureException : Exception
{
    protected GuestFailureException(string message, object? target, Exception? inner)
        : base(message, inner)
    {
        Target = target;
    }

    /// <summary>The error record's target object: a path, a process id, a variable or VM name.</summary>
    public object? Target { get; }
}
