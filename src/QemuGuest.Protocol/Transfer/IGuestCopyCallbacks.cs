using System;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// What a <see cref="GuestCopy"/> asks of its caller: consent per change (-WhatIf/-Confirm),
/// where a failed item and a warning go, progress per file, and each file once it is in place.
/// </summary>
public interface IGuestCopyCallbacks
{
    /// <summary>Whether to make this change; false skips the item (and, for a folder, its content, unless <see cref="WhatIf"/>).</summary>
    Task<bool> ShouldProcessAsync(string target, string action);

    /// <summary>
    /// -WhatIf: nothing is made, but every item is still asked about, so each one is shown: the
    /// walk goes on into folders it did not create (a "no" at -Confirm still skips a folder's content).
    /// </summary>
    bool WhatIf { get; }

    /// <summary>One item failed; the copy goes on with the next. <paramref name="target"/> is the path it concerns.</summary>
    void ItemFailed(Exception exception, string target);

    void Warning(string text);

    IProgress<TransferProgressInfo> ProgressFor(string fileName);

    /// <summary>
    /// The whole copy's size, once known before the first byte moves: into the guest the local
    /// tree is counted first; out of the guest the tree is listed as it is walked, so this is
    /// not called and only what is done so far is known.
    /// </summary>
    void Planned(int files, long bytes);

    /// <summary>A file whose destination is in place.</summary>
    void Completed(GuestCopiedFile file);
}
