using System;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The one exception type of a failed transfer step: a <see cref="TransferFailureKind"/> on top
/// of <see cref="GuestFailureException"/>'s message, target and cause. The target is the (raw)
/// path or guest target the failure concerns.
/// </summary>
public sealed class TransferException : GuestFailureException
{
    public TransferException(TransferFailureKind kind, string message, string? target, Exception? inner = null)
        : base(message, target, inner)
    {
        Kind = kind;
    }

    public TransferFailureKind Kind { get; }

    /// <summary>The (raw) path or guest target the failure concerns: always a string for a transfer.</summary>
    public new string? Target => (string?)base.Target;

    /// <summary>True for the kinds that end the whole copy rather than one item of it.</summary>
    public bool StopsTransfer => Kind is TransferFailureKind.TransferInterrupted or TransferFailureKind.LocalIOFailed;

    /// <summary>True when the guest's listing as a whole cannot be trusted: nothing more of that folder is copied.</summary>
    public bool IsListingFailure => Kind is TransferFailureKind.ListingLimitExceeded or TransferFailureKind.InvalidGuestListing;
}
