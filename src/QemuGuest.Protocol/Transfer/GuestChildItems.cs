using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>One listed guest item: the guest's raw values, and where it is.</summary>
public sealed class GuestListedItem
{
    internal GuestListedItem(GuestListEntry entry, string folder, string? fullName)
    {
        Entry = entry;
        Folder = folder;
        FullName = fullName;
    }

    public GuestListEntry Entry { get; }

    /// <summary>The guest folder that listed it.</summary>
    public string Folder { get; }

    /// <summary>
    /// The item's guest path; null when the listed name is not one component of a guest path
    /// ("..", "a/b", empty): joined, it would name some other item, which a pipeline into
    /// Remove-VMGuestItem must never reach.
    /// </summary>
    public string? FullName { get; }
}

/// <summary>
/// Lists guest items the way Get-ChildItem lists local ones: a folder's entries (all of its
/// tree with recursion), a file itself, or the entries of a folder whose names match a pattern,
/// through whichever listing strategy the agent allows (<see cref="GuestFs.OpenListingAsync"/>),
/// with that strategy's bounds (<see cref="GuestListingBudget"/>).
/// </summary>
public static class GuestChildItems
{
    /// <param name="engine">the session's transfer engine</param>
    /// <param name="path">an absolute guest path</param>
    /// <param name="leafPattern">when not null, the path's last component is a pattern: the items of its folder whose names it matches</param>
    /// <param name="nameFilter">when not null, only items whose names it matches are written (at every level)</param>
    /// <param name="recurse">descend into folders (never through links, never into a name that is not one component)</param>
    /// <param name="write">called for each item, in name order per folder, a folder's items before those of its subfolders</param>
    /// <param name="cancellationToken">stops the listing</param>
    /// <param name="maxLevels">with <paramref name="recurse"/>, how many levels of items at most (1: the folder's own)</param>
    /// <param name="subfolderDenied">
    /// with <paramref name="recurse"/>, told of each subfolder the guest may not read, and the
    /// listing goes on (as Get-ChildItem -Recurse does locally); null: such a folder ends the listing
    /// </param>
    public static async Task ListAsync(GuestTransferEngine engine, string path, Func<string, bool>? leafPattern, Func<string, bool>? nameFilter, bool recurse,
        Action<GuestListedItem> write, CancellationToken cancellationToken, int maxLevels = int.MaxValue, Action<TransferException>? subfolderDenied = null)
    {
        var walk = new Walk(engine, nameFilter, recurse, write, cancellationToken, maxLevels) { SubfolderDenied = subfolderDenied };
        if (leafPattern is null)
        {
            GuestEntry? entry = await engine.StatAsync(path, cancellationToken).ConfigureAwait(false);
            if (entry is null)
            {
                throw new TransferException(TransferFailureKind.SourceNotFound, "Cannot find the guest path '" + PathComponent.Printable(path) + "'.", path);
            }
            if (entry.Value.Kind == GuestEntryKind.Directory)
            {
                var lister = await engine.OpenListingAsync(path, walk.Budget, cancellationToken, recurse).ConfigureAwait(false);
                await walk.FolderAsync(lister, path, string.Empty, 1).ConfigureAwait(false);
                return;
            }
            // A file lists as itself: its folder's listing has its mode and time.
            string name = GuestTransferEngine.LeafName(path);
            leafPattern = n => string.Equals(n, name, StringComparison.Ordinal);
            recurse = false;
        }

        string folder = GuestTransferEngine.Parent(path) ?? path;
        var parentLister = await engine.OpenListingAsync(folder, walk.Budget, cancellationToken, recurse).ConfigureAwait(false);
        await walk.FolderAsync(parentLister, folder, string.Empty, 1, leafPattern).ConfigureAwait(false);
    }

    /// <summary>
    /// The item at <paramref name="path"/> as its folder lists it (kind, size, mode, time), or
    /// null when that folder does not list it. A root (/, C:\), which no folder lists, comes
    /// from its stat. Names compare as the guest's file system does (Windows folds case).
    /// </summary>
    public static async Task<GuestListedItem?> GetItemAsync(GuestTransferEngine engine, string path, CancellationToken cancellationToken)
    {
        string? folder = ParentFolder(path, engine.Profile.IsWindows);
        string name = GuestTransferEngine.LeafName(path);
        if (folder is null || name.Length == 0)
        {
            GuestEntry? entry = await engine.StatAsync(path, cancellationToken).ConfigureAwait(false);
            return entry is { } e ? new GuestListedItem(new GuestListEntry(path, e.Kind, e.Size), path, path) : null;
        }
        var comparison = engine.Profile.IsWindows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        GuestListedItem? found = null;
        var walk = new Walk(engine, null, false, item => found ??= item, cancellationToken, 1);
        var lister = await engine.OpenListingAsync(folder, walk.Budget, cancellationToken, recursive: false).ConfigureAwait(false);
        await walk.FolderAsync(lister, folder, string.Empty, 1, n => string.Equals(n, name, comparison)).ConfigureAwait(false);
        return found;
    }

    /// <summary>The folder of a guest path, with a Windows drive's root as C:\ (C: alone would mean that drive's current folder); null at a root.</summary>
    public static string? ParentFolder(string path, bool windowsGuest)
    {
        string? parent = GuestTransferEngine.Parent(path);
        if (windowsGuest && parent is { Length: 2 } && parent[1] == ':')
        {
            return parent + "\\";
        }
        return parent;
    }

    /// <summary>Null when <paramref name="name"/> can be joined to a guest folder to name that item and no other.</summary>
    public static string? ComponentProblem(string name, bool windowsGuest)
    {
        if (name.Length == 0 || name == "." || name == "..")
        {
            return "is not a name";
        }
        if (name.IndexOf('/') >= 0 || name.IndexOf('\0') >= 0 || (windowsGuest && name.IndexOf('\\') >= 0))
        {
            return "holds a separator";
        }
        return null;
    }

    private sealed class Walk
    {
        private readonly GuestTransferEngine _engine;
        private readonly Func<string, bool>? _nameFilter;
        private readonly bool _recurse;
        private readonly Action<GuestListedItem> _write;
        private readonly CancellationToken _cancellationToken;
        private readonly int _maxLevels;

        public Walk(GuestTransferEngine engine, Func<string, bool>? nameFilter, bool recurse, Action<GuestListedItem> write, CancellationToken cancellationToken, int maxLevels)
        {
            _maxLevels = maxLevels;
            _engine = engine;
            _nameFilter = nameFilter;
            _recurse = recurse;
            _write = write;
            _cancellationToken = cancellationToken;
        }

        public GuestListingBudget Budget { get; } = new();

        public Action<TransferException>? SubfolderDenied { get; init; }

        public async Task FolderAsync(GuestFolderLister lister, string folder, string relative, int depth, Func<string, bool>? only = null)
        {
            List<GuestListEntry> entries = await lister.ListAsync(folder, relative, depth, _cancellationToken).ConfigureAwait(false);
            // find lists in directory order; the extension in ordinal order: show both alike.
            entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            var folders = new List<(string Path, string Relative)>();
            foreach (var e in entries)
            {
                _cancellationToken.ThrowIfCancellationRequested();
                if (only is not null && !only(e.Name))
                {
                    continue;
                }
                bool joinable = ComponentProblem(e.Name, _engine.Profile.IsWindows) is null;
                string? fullName = joinable ? _engine.Join(folder, e.Name) : null;
                if (_nameFilter is null || _nameFilter(e.Name))
                {
                    _write(new GuestListedItem(e, folder, fullName));
                }
                if (_recurse && depth < _maxLevels && joinable && e.Kind == GuestEntryKind.Directory && !e.IsLink)
                {
                    folders.Add((fullName!, relative.Length == 0 ? e.Name : relative + "/" + e.Name));
                }
            }
            foreach (var (path, rel) in folders)
            {
                // Only a refusal of this one folder is passed over: a listing that lies or
                // exceeds its budget, or a channel that fails, still ends the whole walk.
                try
                {
                    await FolderAsync(lister, path, rel, depth + 1).ConfigureAwait(false);
                }
                catch (TransferException ex) when (SubfolderDenied is not null && ex.Kind == TransferFailureKind.PermissionDenied && ex.Target == path)
                {
                    SubfolderDenied(ex);
                }
            }
        }
    }
}
