using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>One entry of a guest folder as the guest listed it: every value is raw, unchecked.</summary>
public readonly struct GuestListEntry
{
    public GuestListEntry(string name, GuestEntryKind kind, long size, bool isLink = false, int mode = -1, long? lastWriteNanoseconds = null)
    {
        Name = name;
        Kind = kind;
        Size = size;
        IsLink = isLink;
        Mode = mode;
        LastWriteNanoseconds = lastWriteNanoseconds;
    }

    public string Name { get; }

    /// <summary>File or Directory; Other for links, devices, FIFOs and sockets (a copy leaves those out).</summary>
    public GuestEntryKind Kind { get; }

    public long Size { get; }

    /// <summary>A symbolic link (then <see cref="Kind"/> is Other: links are never followed).</summary>
    public bool IsLink { get; }

    /// <summary>The POSIX permission bits (with set-id and sticky bits) as the guest gave them; -1 when it did not.</summary>
    public int Mode { get; }

    /// <summary>The last modification time in nanoseconds since 1970 UTC; null when the guest gave none (or none that fits).</summary>
    public long? LastWriteNanoseconds { get; }
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

    protected static TransferException Denied(string guestFolder, string why, Exception? inner = null) =>
        new(TransferFailureKind.PermissionDenied, "Permission denied in the guest listing the folder '" + PathComponent.Printable(guestFolder) + "': " + GuestText.Printable(why, multiline: false), guestFolder, inner);

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
            GuestDirListing page;
            try
            {
                page = await _fs.Commands.GuestFileListAsync(guestFolder, after, PageSize, _fs.CallOptions, cancellationToken).ConfigureAwait(false);
            }
            catch (QgaCommandException ex) when (GuestErrorText.IsPermission(ex))
            {
                throw Denied(guestFolder, ex.Description, ex);
            }
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
                entries.Add(new GuestListEntry(name, Kind(e.Type), e.Size, e.Type == GuestFileType.Symlink, (int)(e.Mode & 0xFFF), e.Mtime));
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
/// GNU find's NUL-separated records "TYPE SIZE MODE MTIME PATH" (find's %y %s %m %T@ %P: a
/// type letter, bytes, octal permission bits, seconds since 1970 with a fraction, the path
/// relative and '/'-separated), from one run over the whole tree, handed out per folder. A
/// record whose folder was not listed before it (or whose folder's name is not one component)
/// is handed out as an entry of the listed folder under its whole raw path, so the caller's
/// name check reports it instead of it vanishing silently.
/// </summary>
internal sealed class FindLister : GuestFolderLister
{
    /// <summary>find's arguments after the root: the record format <see cref="Parse"/> reads.</summary>
    public static readonly string[] PrintfArguments = { "-printf", "%y %s %m %T@ %P\\0" };

    private readonly Dictionary<string, List<GuestListEntry>> _folders;
    private readonly HashSet<string> _denied;

    private FindLister(Dictionary<string, List<GuestListEntry>> folders)
    {
        _folders = folders;
        _denied = new HashSet<string>(StringComparer.Ordinal);
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

            // Four space-separated fields, then the path (which may hold spaces itself).
            string[] fields = record.Split(new[] { ' ' }, 5);
            if (fields.Length != 5 || fields[0].Length != 1 || fields[4].Length == 0)
            {
                throw Invalid(record, "a record that is not 'TYPE SIZE MODE MTIME PATH'");
            }
            if (!long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size))
            {
                throw Invalid(record, "a size that is not a number of bytes");
            }
            if (!TryParseOctal(fields[2], out int mode))
            {
                throw Invalid(record, "permission bits that are not octal");
            }
            if (!TryParseSeconds(fields[3], out long? mtime))
            {
                throw Invalid(record, "a modification time that is not seconds since 1970");
            }
            char type = fields[0][0];
            var kind = type switch
            {
                'f' => GuestEntryKind.File,
                'd' => GuestEntryKind.Directory,
                _ => GuestEntryKind.Other,
            };
            string path = fields[4];

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
                siblings.Add(new GuestListEntry(slash < 0 ? path : path.Substring(slash + 1), kind, size, type == 'l', mode, mtime));
                if (kind == GuestEntryKind.Directory && !folders.ContainsKey(path))
                {
                    folders[path] = new List<GuestListEntry>();
                }
            }
            else
            {
                folders[string.Empty].Add(new GuestListEntry(path, kind, size, type == 'l', mode, mtime));
            }
        }
        return new FindLister(folders);
    }

    /// <summary>
    /// Marks the folders find could not read (<see cref="DeniedFolders"/>), so the walk is refused
    /// each one instead of seeing it empty. False, and nothing marked, when one of them is not a
    /// folder find listed with no entries (or the root): then find's complaint was not understood,
    /// and no folder may pass for an empty one.
    /// </summary>
    public bool Deny(HashSet<string> denied)
    {
        foreach (string folder in denied)
        {
            if (!_folders.TryGetValue(folder, out var entries) || entries.Count != 0)
            {
                return false;
            }
        }
        _denied.UnionWith(denied);
        return true;
    }

    /// <summary>
    /// From find's standard error when it exits 1: the folders it could not read, relative to
    /// <paramref name="root"/>, when every line is GNU find's "find: 'PATH': Permission denied"
    /// (quoted '...' in the C locale, ‘...’ in UTF-8 ones) for the root or a path below it;
    /// null when any line is something else (then the listing fails as a whole).
    /// </summary>
    public static HashSet<string>? DeniedFolders(string standardError, string root)
    {
        const string Prefix = "find: ", Suffix = ": Permission denied";
        string below = root.EndsWith("/", StringComparison.Ordinal) ? root : root + "/";
        var denied = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in standardError.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }
            if (!line.StartsWith(Prefix, StringComparison.Ordinal) || !line.EndsWith(Suffix, StringComparison.Ordinal) || line.Length < Prefix.Length + Suffix.Length + 2)
            {
                return null;
            }
            string quoted = line.Substring(Prefix.Length, line.Length - Prefix.Length - Suffix.Length);
            char first = quoted[0], last = quoted[quoted.Length - 1];
            if (!((first == '\'' && last == '\'') || (first == '\u2018' && last == '\u2019')))
            {
                return null;
            }
            string path = quoted.Substring(1, quoted.Length - 2);
            if (path == root)
            {
                denied.Add(string.Empty);
            }
            else if (path.Length > below.Length && path.StartsWith(below, StringComparison.Ordinal))
            {
                denied.Add(path.Substring(below.Length));
            }
            else
            {
                return null;
            }
        }
        return denied.Count == 0 ? null : denied;
    }

    private static bool TryParseOctal(string text, out int mode)
    {
        mode = 0;
        if (text.Length == 0 || text.Length > 6)
        {
            return false;
        }
        foreach (char c in text)
        {
            if (c < '0' || c > '7')
            {
                return false;
            }
            mode = (mode * 8) + (c - '0');
        }
        return true;
    }

    /// <summary>"SECONDS[.FRACTION]" as nanoseconds; a well-formed time that does not fit 64 bits is null (kept as "unknown"), not an error.</summary>
    private static bool TryParseSeconds(string text, out long? nanoseconds)
    {
        nanoseconds = null;
        int dot = text.IndexOf('.');
        string whole = dot < 0 ? text : text.Substring(0, dot);
        string fraction = dot < 0 ? string.Empty : text.Substring(dot + 1);
        bool negative = whole.StartsWith("-", StringComparison.Ordinal);
        if (negative)
        {
            whole = whole.Substring(1);
        }
        if (whole.Length == 0 || !IsDigits(whole) || !IsDigits(fraction))
        {
            return false;
        }
        // 64-bit nanoseconds reach 9,223,372,036 seconds (year 2262): beyond that, unknown.
        if (whole.Length > 10 || !long.TryParse(whole, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) || seconds > long.MaxValue / 1_000_000_000L - 1)
        {
            return true;
        }
        string nine = (fraction.Length > 9 ? fraction.Substring(0, 9) : fraction).PadRight(9, '0');
        long ns = (seconds * 1_000_000_000L) + long.Parse(nine, NumberStyles.None, CultureInfo.InvariantCulture);
        nanoseconds = negative ? -ns : ns;
        return true;
    }

    private static bool IsDigits(string text)
    {
        foreach (char c in text)
        {
            if (c < '0' || c > '9')
            {
                return false;
            }
        }
        return true;
    }

    public override Task<List<GuestListEntry>> ListAsync(string guestFolder, string relativeFolder, int depth, CancellationToken cancellationToken)
    {
        if (_denied.Contains(relativeFolder))
        {
            throw Denied(guestFolder, "find could not read it");
        }
        if (_folders.TryGetValue(relativeFolder, out var entries))
        {
            // Each folder is visited once: let its entries go.
            _folders.Remove(relativeFolder);
            return Task.FromResult(entries);
        }
        return Task.FromResult(new List<GuestListEntry>());
    }
}
