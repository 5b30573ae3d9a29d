using System.Globalization;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// Bounds on one recursive listing of a guest folder, whichever way it is obtained (our
/// list extension page by page, or find's output through guest-exec): a guest that lists
/// forever (a folder containing itself, paging that never ends) meets one of them and the
/// copy stops with a <see cref="TransferException"/> of kind
/// <see cref="TransferFailureKind.ListingLimitExceeded"/> instead of exhausting host memory.
/// Without them a recursing listing took pwsh to 4.6 GiB in 45 s.
/// </summary>
public sealed class GuestListingBudget
{
    /// <summary>Folders below the copied one (Linux's own path resolution gives up at 40 links; real trees rarely pass 30 levels).</summary>
    public const int DefaultMaxDepth = 64;

    public const long DefaultMaxEntries = 1_000_000;

    /// <summary>PATH_MAX on Linux; longer relative paths cannot even be opened in the guest.</summary>
    public const int DefaultMaxPathChars = 4096;

    /// <summary>All relative paths together: 64 Mi chars (128 MiB of strings at most).</summary>
    public const long DefaultMaxTotalChars = 64L * 1024 * 1024;

    public const int DefaultMaxPages = 20_000;

    private long _entries;
    private long _chars;
    private int _pages;

    public int MaxDepth { get; set; } = DefaultMaxDepth;

    public long MaxEntries { get; set; } = DefaultMaxEntries;

    public int MaxPathChars { get; set; } = DefaultMaxPathChars;

    public long MaxTotalChars { get; set; } = DefaultMaxTotalChars;

    public int MaxPages { get; set; } = DefaultMaxPages;

    public long Entries => _entries;

    public int Pages => _pages;

    /// <summary>Counts one more page (one listing call); throws when there were too many.</summary>
    public void AddPage(string folder)
    {
        if (++_pages > MaxPages)
        {
            throw Exceeded(folder, string.Format(CultureInfo.InvariantCulture, "more than {0} listing pages", MaxPages));
        }
    }

    /// <summary>Counts one entry at <paramref name="depth"/> (1 = directly in the copied folder) with its relative path's length.</summary>
    public void AddEntry(string relativePath, int depth)
    {
        if (depth > MaxDepth)
        {
            throw Exceeded(relativePath, string.Format(CultureInfo.InvariantCulture, "folders nested more than {0} deep", MaxDepth));
        }
        if (relativePath.Length > MaxPathChars)
        {
            throw Exceeded(relativePath, string.Format(CultureInfo.InvariantCulture, "a path longer than {0} characters", MaxPathChars));
        }
        if (++_entries > MaxEntries)
        {
            throw Exceeded(relativePath, string.Format(CultureInfo.InvariantCulture, "more than {0} entries", MaxEntries));
        }
        _chars += relativePath.Length;
        if (_chars > MaxTotalChars)
        {
            throw Exceeded(relativePath, string.Format(CultureInfo.InvariantCulture, "more than {0} characters of paths in all", MaxTotalChars));
        }
    }

    private static TransferException Exceeded(string where, string what) =>
        new(TransferFailureKind.ListingLimitExceeded, "The guest's listing has " + what + " (at '" + PathComponent.Printable(where) + "'): stopped.", where);
}
