using System;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// What a <see cref="GuestCopy"/> asks of its caller: consent per change (-WhatIf/-Confirm),
/// where a failed item and a warning go, progress per file, and each file once it is in place.
/// </summary>
public interface IGuestCopyCallbacks
{
    /// <summary>Whether to make this change; false skips the item (and, for a folder, its content).</summary>
    Task<bool> ShouldProcessAsync(string target, string action);

    /// <summary>One item failed; the copy goes on with the next. <paramref name="target"/> is the path it concerns.</summary>
    void ItemFailed(Exception exception, string target);

    void Warning(string text);

    IProgress<TransferProgressInfo> ProgressFor(string fileName);

    /// <summary>A file whose destination is in place.</summary>
    void Completed(GuestCopiedFile file);
}
