using System;
using System.Management.Automation;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Processes;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// The one place protocol failures become PowerShell errors: each exception type maps to a
/// stable ErrorId and an ErrorCategory. ErrorIds are part of the public contract (scripts
/// match on them): add new ones, never rename or reuse one.
/// </summary>
public static class ErrorTable
{
    // Stable ErrorIds. Documented in about_QemuGuest.
    public const string AgentGenericError = "AgentGenericError";
    public const string AgentCommandNotFound = "AgentCommandNotFound";
    public const string AgentError = "AgentError";
    public const string AgentTimeout = "AgentTimeout";
    public const string AgentDisconnected = "AgentDisconnected";
    public const string AgentProtocolViolation = "AgentProtocolViolation";
    public const string InvalidConnectionString = "InvalidConnectionString";
    public const string SessionNotFound = "SessionNotFound";
    public const string VMNotFound = "VMNotFound";
    public const string InvalidArgument = "InvalidArgument";
    public const string UnexpectedError = "UnexpectedError";

    /// <summary>The relay refused a bulk frame (from the guest or from us), ended the transfer and resynchronised the channel.</summary>
    public const string BulkFrameRejected = "BulkFrameRejected";

    /// <summary>A socket or folder the cmdlets would follow is a link, foreign-owned or writable by others.</summary>
    public const string UntrustedPath = "UntrustedPath";

    // Task cmdlets (Copy-VMGuestFile, guest processes).
    public const string SourceNotFound = "SourceNotFound";
    public const string SourceIsDirectory = "SourceIsDirectory";
    public const string DestinationExists = "DestinationExists";
    public const string DestinationFolderNotFound = "DestinationFolderNotFound";
    public const string DestinationIsDirectory = "DestinationIsDirectory";
    public const string PermissionDenied = "PermissionDenied";
    public const string DiskFull = "DiskFull";
    public const string VerifyFailed = "VerifyFailed";
    public const string TransferInterrupted = "TransferInterrupted";
    public const string AgentFeatureUnavailable = "AgentFeatureUnavailable";
    public const string GuestCommandTimeout = "GuestCommandTimeout";
    public const string GuestProcessNotFound = "GuestProcessNotFound";
    public const string GuestCommandFailed = "GuestCommandFailed";

    /// <summary>Standard input for a guest program larger than one request can carry.</summary>
    public const string InputTooLarge = "InputTooLarge";

    // Copy-VMGuestFile -GuestToLocal: what the guest lists or sends is checked before it
    // becomes a host path or host disk space (issue 15).
    public const string InvalidGuestName = "InvalidGuestName";
    public const string DuplicateGuestName = "DuplicateGuestName";
    public const string DestinationOutsideRoot = "DestinationOutsideRoot";
    public const string DestinationIsLink = "DestinationIsLink";
    public const string InvalidGuestListing = "InvalidGuestListing";
    public const string ListingLimitExceeded = "ListingLimitExceeded";
    public const string SourceSizeExceeded = "SourceSizeExceeded";

    /// <summary>A guest path that is not absolute: it would mean the agent's working folder.</summary>
    public const string RelativeGuestPath = "RelativeGuestPath";

    // PowerShell Direct (issue 20).
    /// <summary>The cmdlet needs a newer PowerShell on this side (New-VMGuestPSSession: 7.6+).</summary>
    public const string PowerShellVersionUnsupported = "PowerShellVersionUnsupported";

    /// <summary>PowerShell started in the guest but no session opened (it ended, or did not answer in time).</summary>
    public const string GuestPSSessionFailed = "GuestPSSessionFailed";

    /// <summary>The guest's PowerShell ended or its link broke while a script block ran (Invoke-VMGuestScriptBlock).</summary>
    public const string GuestPSSessionBroken = "GuestPSSessionBroken";

    /// <summary>A $using: variable of the script block has no value here (Invoke-Command's rule).</summary>
    public const string UsingVariableUndefined = "UsingVariableUndefined";

    /// <summary>ErrorId and category for an exception thrown while talking to a guest.</summary>
    public static (string ErrorId, ErrorCategory Category) Classify(Exception exception) => exception switch
    {
        TransferException transfer => Classify(transfer.Kind),
        GuestProcessException process => Classify(process.Kind),
        GuestTaskException task => (task.ErrorId, task.Category),
        QgaCommandException { Interruption: QgaInterruption.BadFrame } => (BulkFrameRejected, ErrorCategory.ProtocolError),
        QgaGenericErrorException generic => (AgentGenericError, AgentFailureCategory(generic.Description)),
        QgaCommandNotFoundException => (AgentCommandNotFound, ErrorCategory.NotImplemented),
        QgaCommandException => (AgentError, ErrorCategory.InvalidOperation),
        QgaTimeoutException => (AgentTimeout, ErrorCategory.OperationTimeout),
        QgaDisconnectedException { InnerException: System.IO.FileNotFoundException } => (AgentDisconnected, ErrorCategory.ObjectNotFound),
        QgaDisconnectedException => (AgentDisconnected, ErrorCategory.ConnectionError),
        QgaProtocolException => (AgentProtocolViolation, ErrorCategory.ProtocolError),
        QapiUnmarshalException => (AgentProtocolViolation, ErrorCategory.ProtocolError),
        FormatException => (InvalidConnectionString, ErrorCategory.InvalidArgument),
        ArgumentException => (InvalidArgument, ErrorCategory.InvalidArgument),
        OperationCanceledException => ("OperationStopped", ErrorCategory.OperationStopped),
        _ => (UnexpectedError, ErrorCategory.NotSpecified),
    };

    // What agents (qemu-ga, ours, POSIX and Windows) say when a command failed for a reason a
    // script may want to tell apart; the ErrorId stays AgentGenericError, the category says why.
    private static readonly string[] NotFoundTexts = { "No such file", "No such process", "does not exist", "cannot find", "not found" };
    private static readonly string[] PermissionTexts = { "Permission denied", "Access is denied", "Operation not permitted", "access denied" };
    private static readonly string[] TimeoutTexts = { "timed out", "timeout" };

    /// <summary>
    /// The category of a GenericError from its description: not found, permission, timeout, else
    /// InvalidOperation. Agents' own texts are plain printable lines; a description with control
    /// characters, terminal escapes or bidi overrides was made to deceive, and its words do not
    /// choose the category (InvalidOperation). The ErrorId comes from the reply's class member,
    /// never from the text, so a "class" written into the description changes nothing either.
    /// </summary>
    public static ErrorCategory AgentFailureCategory(string description)
    {
        if (GuestText.Printable(description, multiline: false) != description)
        {
            return ErrorCategory.InvalidOperation;
        }
        static bool Any(string text, string[] needles)
        {
            foreach (var n in needles)
            {
                if (text.IndexOf(n, StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    return true;
                }
            }
            return false;
        }
        return Any(description, PermissionTexts) ? ErrorCategory.PermissionDenied
            : Any(description, NotFoundTexts) ? ErrorCategory.ObjectNotFound
            : Any(description, TimeoutTexts) ? ErrorCategory.OperationTimeout
            : ErrorCategory.InvalidOperation;
    }

    /// <summary>What to do about an error, where there is something to say (null otherwise).</summary>
    public static string? RecommendedAction(string errorId, ErrorCategory category, Exception? exception) => (errorId, category) switch
    {
        (AgentCommandNotFound, _) => "The agent does not offer this command, or its policy disabled it: see the agent's guest-info (Invoke-VMGuestRpc guest-info).",
        (AgentTimeout, _) => "The agent did not answer in time: raise -TimeoutSec, or check that the agent runs in the guest (e.g. systemctl status qemu-guest-agent).",
        (AgentDisconnected, ErrorCategory.ObjectNotFound) => "Check the path: it must be the VM's agent chardev (-chardev socket,path=...,server=on) or the relay's endpoint, and the VM must be running.",
        (AgentDisconnected, _) => "Check that the VM runs and its guest agent is installed and started; New-VMGuestSession -ConnectTimeoutSec waits longer for an agent that is starting.",
        (AgentGenericError, ErrorCategory.PermissionDenied) => "The agent runs in the guest with its own rights: check the permissions of the path in the guest, or the agent's policy.",
        (AgentGenericError, ErrorCategory.ObjectNotFound) => "Check the name or path in the guest (e.g. Get-VMGuestItem).",
        (RelativeGuestPath, _) => "Start the guest path at the root: / on Linux, a drive (C:\\) on Windows.",
        (VMNotFound, _) => "Open a session with New-VMGuestSession -Name, or check that the relay runs and serves this VM (its runtime folder: QEMUGUEST_RELAY_DIR).",
        _ => null,
    };

    /// <summary>ErrorId and category of each kind of transfer failure the engine reports.</summary>
    public static (string ErrorId, ErrorCategory Category) Classify(TransferFailureKind kind) => kind switch
    {
        TransferFailureKind.SourceNotFound => (SourceNotFound, ErrorCategory.ObjectNotFound),
        TransferFailureKind.SourceIsDirectory => (SourceIsDirectory, ErrorCategory.InvalidArgument),
        TransferFailureKind.DestinationExists => (DestinationExists, ErrorCategory.ResourceExists),
        TransferFailureKind.DestinationFolderNotFound => (DestinationFolderNotFound, ErrorCategory.ObjectNotFound),
        TransferFailureKind.DestinationIsDirectory => (DestinationIsDirectory, ErrorCategory.InvalidArgument),
        TransferFailureKind.DestinationIsLink => (DestinationIsLink, ErrorCategory.SecurityError),
        TransferFailureKind.DestinationOutsideRoot => (DestinationOutsideRoot, ErrorCategory.SecurityError),
        TransferFailureKind.PermissionDenied => (PermissionDenied, ErrorCategory.PermissionDenied),
        TransferFailureKind.DiskFull => (DiskFull, ErrorCategory.WriteError),
        TransferFailureKind.LocalPathTooLong => (InvalidArgument, ErrorCategory.InvalidArgument),
        TransferFailureKind.VerifyFailed => (VerifyFailed, ErrorCategory.InvalidResult),
        TransferFailureKind.TransferInterrupted => (TransferInterrupted, ErrorCategory.ConnectionError),
        TransferFailureKind.LocalIOFailed => (TransferInterrupted, ErrorCategory.WriteError),
        TransferFailureKind.AgentFeatureUnavailable => (AgentFeatureUnavailable, ErrorCategory.NotImplemented),
        TransferFailureKind.ListingTooLargeForAgent => (AgentFeatureUnavailable, ErrorCategory.LimitsExceeded),
        TransferFailureKind.GuestCommandFailed => (GuestCommandFailed, ErrorCategory.InvalidResult),
        TransferFailureKind.GuestCommandTimeout => (GuestCommandTimeout, ErrorCategory.OperationTimeout),
        TransferFailureKind.InvalidGuestName => (InvalidGuestName, ErrorCategory.InvalidData),
        TransferFailureKind.DuplicateGuestName => (DuplicateGuestName, ErrorCategory.InvalidData),
        TransferFailureKind.InvalidGuestListing => (InvalidGuestListing, ErrorCategory.InvalidData),
        TransferFailureKind.ListingLimitExceeded => (ListingLimitExceeded, ErrorCategory.LimitsExceeded),
        TransferFailureKind.SourceSizeExceeded => (SourceSizeExceeded, ErrorCategory.LimitsExceeded),
        _ => (UnexpectedError, ErrorCategory.NotSpecified),
    };

    /// <summary>ErrorId and category of each kind of guest-process failure the engine reports.</summary>
    public static (string ErrorId, ErrorCategory Category) Classify(GuestProcessFailureKind kind) => kind switch
    {
        GuestProcessFailureKind.InvalidEnvironmentName => (InvalidArgument, ErrorCategory.InvalidArgument),
        GuestProcessFailureKind.AgentFeatureUnavailable => (AgentFeatureUnavailable, ErrorCategory.NotImplemented),
        GuestProcessFailureKind.Timeout => (GuestCommandTimeout, ErrorCategory.OperationTimeout),
        GuestProcessFailureKind.ProcessNotFound => (GuestProcessNotFound, ErrorCategory.ObjectNotFound),
        GuestProcessFailureKind.ScriptNotEncodable => (InvalidArgument, ErrorCategory.InvalidArgument),
        _ => (UnexpectedError, ErrorCategory.NotSpecified),
    };

    public static ErrorRecord ToErrorRecord(Exception exception, object? target)
    {
        var (id, category) = Classify(exception);
        object? own = exception switch
        {
            GuestFailureException engine => engine.Target,
            GuestTaskException task => task.Target,
            _ => null,
        };
        var record = new ErrorRecord(exception, id, category, own ?? target);
        string? action = RecommendedAction(id, category, exception);
        if (exception is QgaCommandException || action is not null)
        {
            record.ErrorDetails = new ErrorDetails(exception.Message) { RecommendedAction = action };
        }
        return record;
    }

    /// <summary>A task failure (copy, process) with its own ErrorId; <paramref name="inner"/> is the original exception.</summary>
    public static GuestTaskException Fail(string errorId, ErrorCategory category, string message, object? target, Exception? inner = null) =>
        new(errorId, category, message, target, inner);

    /// <summary>The error for a relative guest path, naming it (made printable).</summary>
    public static ErrorRecord RelativeGuestPathError(string path) => Create(RelativeGuestPath, ErrorCategory.InvalidArgument,
        "The guest path '" + QemuGuest.Protocol.Validation.PathComponent.Printable(path) + "' is relative: give an absolute path (/srv/x, C:\\x). A relative path would mean the agent's working folder.",
        path);

    /// <summary>
    /// Tags <paramref name="record"/> with the VM it concerns, as Invoke-Command's PSComputerName:
    /// a VMName note property ($Error | Where-Object VMName -eq web01), whatever its target object
    /// (often the guest path). PowerShell keeps an object's note properties with the object, so
    /// $Error, -ErrorVariable and Receive-Job see it.
    /// </summary>
    public static ErrorRecord ForVM(ErrorRecord record, string vmName)
    {
        var ps = PSObject.AsPSObject(record);
        if (ps.Properties["VMName"] is null)
        {
            ps.Properties.Add(new PSNoteProperty("VMName", vmName));
        }
        return record;
    }

    public static ErrorRecord Create(string errorId, ErrorCategory category, string message, object? target)
    {
        var record = new ErrorRecord(new InvalidOperationException(message), errorId, category, target);
        if (RecommendedAction(errorId, category, null) is { } action)
        {
            record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = action };
        }
        return record;
    }
}
