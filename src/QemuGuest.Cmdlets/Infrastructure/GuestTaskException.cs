using System;
using System.Management.Automation;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// A failure of a task cmdlet that already knows its stable ErrorId and category (created
/// through <see cref="ErrorTable.Fail"/>); the protocol exception that caused it, if any, is
/// the InnerException.
/// </summary>
public sealed class GuestTaskException : Exception
{
    internal GuestTaskException(string errorId, ErrorCategory category, string message, object? target, Exception? inner)
        : base(message, inner)
    {
        ErrorId = errorId;
        Category = category;
        Target = target;
    }

    public string ErrorId { get; }

    public ErrorCategory Category { get; }

    public object? Target { get; }
}
