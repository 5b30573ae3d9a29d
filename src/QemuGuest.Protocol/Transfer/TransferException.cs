using System;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The one exception type of a failed transfer step: a <see cref="TransferFailureKind"/>, a
/// message ready for the user (guest text in it already made printable), the path it concerns,
/// and the protocol or I/O exception that caused it, if any, as InnerException.
/// </summary>
public sealed class TransferException : Exception
{
    public TransferException(TransferFailureKind kind, string message, string? target, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Target = target;
    }

    public TransferFailureKind Kind { get; }

    /// <summary>The (raw) path or guest target the failure concerns, for the error record's target object.</summary>
    public string? Target { get; }

    /// <summary>True for the kinds that end the whole copy rather than one item of it.</summary>
    public bool StopsTransfer => Kind is TransferFailureKind.TransferInterrupted or TransferFailureKind.LocalIOFailed;

    /// <summary>True when the guest's listing as a whole cannot be trusted: nothing more of that folder is copied.</summary>
    public bool IsListingFailure => Kind is TransferFailureKind.ListingLimitExceeded or TransferFailureKind.InvalidGuestListing;
}
