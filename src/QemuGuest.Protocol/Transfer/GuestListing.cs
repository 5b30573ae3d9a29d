using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>One entry of a guest folder as the guest listed it: the name is raw, unchecked.</summary>
public readonly struct GuestListEntry
{
    public GuestListEntry(string name, GuestEntryKind kind, long size)
    {
        Name = name;
        Kind = kind;
        Size = size;
    }

    public string Name { get; }

    public GuestEntryKind Kind { get; }

    public long Size { get; }
}

/// <summary>
/// Lists one guest folder at a time, so a recursive copy streams folder by folder (a folder's
/// files are copied before the next folder is listed) instead of building the whole tree
/// first. Every entry is counted against the shared <see cref="GuestListingBudget"/>.
/// </summary>
public abstract class GuestFolderLister
{
    /// <param name="guestFolder">the folder's guest path</param>
    /// <param name="relativeFolder">its path below the copied folder, names joined by '/' ("" for the copied folder)</param>
    /// <param name="depth">1 for the copied folder's own entries</param>
    /// <param name="cancellationToken">stops a listing call under way</param>
    public abstract Task<List<GuestListEntry>> ListAsync(string guestFolder, string relativeFolder, int depth, CancellationToken cancellationToken);

    protected static string Relative(string folder, string name) => folder.Length == 0 ? name : folder + "/" + name;

    protected static TransferException Invalid(string where, string what) =>
        new(TransferFailureKind.InvalidGuestListing, "The guest's listing is invalid at '" + PathComponent.Printable(where) + "': " + what + ".", where);
}

/// <summary>QemuGuest's list extension: pages in ordinal name order, each page's names after the last one's.</summary>
internal sealed class ExtensionLister : GuestFolderLister
{
    private const int PageSize = 1000;
    private readonly GuestFs _fs;
    private readonly GuestListingBudget _budget;

    public ExtensionLister(GuestFs fs, GuestListingBudget budget)
    {
        _fs = fs;
        _budget = budget;
    }

    public override async Task<List<GuestListEntry>> ListAsync(string guestFolder, string relativeFolder, int depth, CancellationToken cancellationToken)
    {
        var entries = new List<GuestListEntry>();
        string? after = null;
        while (true)
        {
            _budget.AddPage(relativeFolder.Length == 0 ? guestFolder : relativeFolder);
            var page = await _fs.Commands.GuestFileListAsync(guestFolder, after, PageSize, _fs.CallOptions, cancellationToken).ConfigureAwait(false);
            string? previous = after;
            foreach (var e in page.Entries)
            {
                string name = e.Name ?? string.Empty;
                string rel = Relative(relativeFolder, name);
                // The schema promises ordinal order: a name sorting before the previous one
                // means the guest is replaying pages. An equal one is a duplicate, which the
                // copy reports per name.
                if (previous is not null && string.CompareOrdinal(name, previous) < 0)
                {
                    throw Invalid(rel, "names out of order ('" + PathComponent.Printable(name) + "' after '" + PathComponent.Printable(previous) + "')");
                }
                _budget.AddEntry(rel, depth);
                entries.Add(new GuestListEntry(name, Kind(e.Type), e.Size));
                previous = name;
            }
            if (!page.Truncated)
            {
                return entries;
            }
            if (previous is null || (after is not null && string.CompareOrdinal(previous, after) <= 0))
            {
                throw Invalid(relativeFolder.Length == 0 ? guestFolder : relativeFolder, "more pages announced, but paging does not advance");
            }
            after = previous;
        }
    }

    private static GuestEntryKind Kind(GuestFileType type) => type switch
    {
        GuestFileType.File => GuestEntryKind.File,
        GuestFileType.Directory => GuestEntryKind.Directory,
        _ => GuestEntryKind.Other,
    };
}

/// <summary>
/// GNU find's NUL-separated records ("d PATH", "f SIZE PATH"; PATH relative, '/'-separated),
/// from one run over the whole tree, handed out per folder. A record whose folder was not
/// listed before it (or whose folder's name is not one component) is handed out as an entry
/// of the copied folder under its whole raw path, so the caller's name check reports it
/// instead of it vanishing silently.
/// </summary>
internal sealed class FindLister : GuestFolderLister
{
    private readonly Dictionary<string, List<GuestListEntry>> _folders;

    private FindLister(Dictionary<string, List<GuestListEntry>> folders)
    {
        _folders = folders;
    }

    public static FindLister Parse(string output, GuestListingBudget budget)
    {
        var folders = new Dictionary<string, List<GuestListEntry>>(StringComparer.Ordinal) { [string.Empty] = new List<GuestListEntry>() };
        int start = 0;
        while (start < output.Length)
        {
            int end = output.IndexOf('\0', start);
            if (end < 0)
            {
                end = output.Length;
            }
            string record = output.Substring(start, end - start);
            start = end + 1;
            if (record.Length == 0)
            {
                continue;
            }

            GuestEntryKind kind;
            long size = 0;
            string path;
            if (record.StartsWith("d ", StringComparison.Ordinal))
            {
                kind = GuestEntryKind.Directory;
                path = record.Substring(2);
            }
            else if (record.StartsWith("f ", StringComparison.Ordinal))
            {
                int space = record.IndexOf(' ', 2);
                if (space < 0 || !long.TryParse(record.Substring(2, space - 2), NumberStyles.None, CultureInfo.InvariantCulture, out size))
                {
                    throw Invalid(record, "a file record without a size");
                }
                kind = GuestEntryKind.File;
                path = record.Substring(space + 1);
            }
            else
            {
                throw Invalid(record, "a record that is neither 'd PATH' nor 'f SIZE PATH'");
            }

            int depth = 1;
            foreach (char c in path)
            {
                depth += c == '/' ? 1 : 0;
            }
            budget.AddEntry(path, depth);
            int slash = path.LastIndexOf('/');
            string parent = slash < 0 ? string.Empty : path.Substring(0, slash);
            if (folders.TryGetValue(parent, out var siblings))
            {
                siblings.Add(new GuestListEntry(slash < 0 ? path : path.Substring(slash + 1), kind, size));
                if (kind == GuestEntryKind.Directory && !folders.ContainsKey(path))
                {
                    folders[path] = new List<GuestListEntry>();
                }
            }
            else
            {
                folders[string.Empty].Add(new GuestListEntry(path, kind, size));
            }
        }
        return new FindLister(folders);
    }

    public override Task<List<GuestListEntry>> ListAsync(string guestFolder, string relativeFolder, int depth, CancellationToken cancellationToken)
    {
        if (_folders.TryGetValue(relativeFolder, out var entries))
        {
            // Each folder is visited once: let its entries go.
            _folders.Remove(relativeFolder);
            return Task.FromResult(entries);
        }
        return Task.FromResult(new List<GuestListEntry>());
    }
}
