namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// Why a file transfer (or one item of it) failed. The engine decides the kind where it knows
/// what went wrong; the cmdlets turn each kind into a stable ErrorId and an ErrorCategory in one
/// table (QemuGuest.Cmdlets ErrorTable), so no caller has to guess the kind again from a message.
/// Several kinds may share an ErrorId when they differ only in category.
/// </summary>
public enum TransferFailureKind
{
    SourceNotFound,
    SourceIsDirectory,
    DestinationExists,
    DestinationFolderNotFound,
    DestinationIsDirectory,

    /// <summary>A host path inside a copy out of the guest is a link: never written through.</summary>
    DestinationIsLink,

    /// <summary>A guest name would join to a host path outside the destination root.</summary>
    DestinationOutsideRoot,

    PermissionDenied,
    DiskFull,

    /// <summary>A host path a guest name makes is longer than this host allows; that item only fails.</summary>
    LocalPathTooLong,

    VerifyFailed,

    /// <summary>The agent link broke or stopped answering mid-transfer: the whole copy stops.</summary>
    TransferInterrupted,

    /// <summary>Writing or reading the local side failed for a reason other than space or access: the whole copy stops.</summary>
    LocalIOFailed,

    /// <summary>The agent offers no way to do this step (no extension, no guest-exec).</summary>
    AgentFeatureUnavailable,

    /// <summary>A listing through guest-exec came back cut at the agent's output cap.</summary>
    ListingTooLargeForAgent,

    /// <summary>A tool run through guest-exec (mkdir, mv, sha256sum, ...) failed for another reason.</summary>
    GuestCommandFailed,

    /// <summary>A tool run through guest-exec did not finish in time (it was killed).</summary>
    GuestCommandTimeout,

    /// <summary>A listed name is not exactly one path component safe on this host.</summary>
    InvalidGuestName,

    /// <summary>A listed name appears twice (or twice after this host folds case).</summary>
    DuplicateGuestName,

    /// <summary>The listing is malformed: out of order, paging that does not advance, a record that does not parse.</summary>
    InvalidGuestListing,

    /// <summary>The listing hit a <see cref="GuestListingBudget"/> bound.</summary>
    ListingLimitExceeded,

    /// <summary>The guest sent more bytes of a file than the size limit for it.</summary>
    SourceSizeExceeded,
}
