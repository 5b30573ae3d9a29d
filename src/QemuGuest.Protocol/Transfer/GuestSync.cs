using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>How a sync decides that a file on both sides is the same.</summary>
public enum GuestSyncCompare
{
    /// <summary>
    /// Equal size and modification time (to 100 ns, or to the second when one side keeps whole
    /// seconds only) are the same file; equal size with another
    /// time is decided by SHA-256 of both sides (and the target then gets the source's time);
    /// another size is a changed file.
    /// </summary>
    SizeAndTime,

    /// <summary>Every file of equal size is decided by SHA-256 of both sides, whatever its time.</summary>
    Checksum,
}

/// <summary>One sync between a local folder and a guest folder: its direction, both roots and options.</summary>
public sealed class GuestSyncRequest
{
    /// <summary>True: make the guest folder match the local one; false: the other way round.</summary>
    public bool ToGuest { get; set; }

    /// <summary>The local folder, a full path.</summary>
    public string LocalRoot { get; set; } = string.Empty;

    /// <summary>The guest folder, an absolute guest path.</summary>
    public string GuestRoot { get; set; } = string.Empty;

    /// <summary>Remove what the target has and the source has not (never a link, never a name that is not one component).</summary>
    public bool Delete { get; set; }

    public GuestSyncCompare Compare { get; set; }

    /// <summary>Per file (chunk size, -Verify); each copy overwrites and carries its source's modification time.</summary>
    public TransferOptions Options { get; set; } = new();
}

/// <summary>What a sync did: the files it copied and deleted (paths relative to the roots, '/'-separated), and counts.</summary>
public sealed class GuestSyncSummary
{
    public List<string> Copied { get; } = new();

    public List<string> Deleted { get; } = new();

    /// <summary>Files found the same on both sides.</summary>
    public int Skipped { get; internal set; }

    /// <summary>Files whose SHA-256 was compared (both sides hashed).</summary>
    public int Hashed { get; internal set; }

    public long BytesMoved { get; internal set; }

    /// <summary>Items that failed (each reported through <see cref="IGuestCopyCallbacks.ItemFailed"/>).</summary>
    public int Failed { get; internal set; }
}

/// <summary>
/// Makes a guest folder match a local one, or the reverse, moving only the files whose size,
/// time or SHA-256 differ (<see cref="GuestSyncCompare"/>). Folder by folder: both sides are
/// listed (the guest's through <see cref="GuestTransferEngine.OpenListingAsync"/>, its names
/// checked by <see cref="GuestFolderPlan"/> exactly as a recursive copy checks them), extra
/// target items are removed first with Delete, then files are compared and copied through the
/// engine (temporary name, then rename; the source's time set before the rename), then the
/// sub-folders. Links on either side are never followed, hashed, replaced or deleted: they are
/// skipped with a warning. Guest hashes are computed in the guest (our hash extension, else
/// sha256sum through guest-exec), only on a file that is not a link. Consent, failures,
/// progress and copied files go to the caller's <see cref="IGuestCopyCallbacks"/>.
/// </summary>
public sealed class GuestSync
{
    private readonly GuestTransferEngine _engine;
    private readonly GuestSyncRequest _request;
    private readonly IGuestCopyCallbacks _callbacks;
    private readonly CancellationToken _ct;
    private readonly GuestSyncSummary _summary = new();
    private readonly GuestListingBudget _budget = new();
    private readonly string _root;
    private GuestFolderLister? _lister;

    private GuestSync(GuestTransferEngine engine, GuestSyncRequest request, IGuestCopyCallbacks callbacks, CancellationToken cancellationToken)
    {
        _engine = engine;
        _request = request;
        _callbacks = callbacks;
        _ct = cancellationToken;
        _root = Path.GetFullPath(request.LocalRoot);
    }

    /// <summary>
    /// Runs the sync. Per-item failures go to <see cref="IGuestCopyCallbacks.ItemFailed"/> and are
    /// counted; what ends the whole sync (the link gone, a listing that cannot be trusted, a
    /// root that is missing or not a folder) is thrown.
    /// </summary>
    public static async Task<GuestSyncSummary> RunAsync(GuestTransferEngine engine, GuestSyncRequest request, IGuestCopyCallbacks callbacks, CancellationToken cancellationToken)
    {
        var sync = new GuestSync(engine, request, callbacks, cancellationToken);
        try
        {
            await (request.ToGuest ? sync.ToGuestAsync() : sync.ToLocalAsync()).ConfigureAwait(false);
        }
        catch (TransferException ex) when (ex.IsListingFailure)
        {
            throw new TransferException(ex.Kind,
                $"{engine.TargetName}: {ex.Message} The sync of '{request.GuestRoot}' stopped there.", sync.GuestTarget(request.GuestRoot), ex);
        }
        return sync._summary;
    }

    private string GuestTarget(string guestPath) => _engine.TargetName + ":" + guestPath;

    private void Failed(Exception ex, string target)
    {
        _summary.Failed++;
        _callbacks.ItemFailed(ex, target);
    }

    private Task GuardAsync(string target, Func<Task> body) => GuestCopy.GuardAsync(Failed, _ct, target, body, insideWalk: true);

    private static string Relative(string folder, string name) => folder.Length == 0 ? name : folder + "/" + name;

    // ------------------------------------------------------------------ both sides of one folder

    /// <summary>One local item, read without following a link.</summary>
    private readonly struct LocalItem
    {
        public LocalItem(string path, HostEntryKind kind, long size, long lastWrite)
        {
            Path = path;
            Kind = kind;
            Size = size;
            LastWrite = lastWrite;
        }

        public string Path { get; }

        public HostEntryKind Kind { get; }

        public long Size { get; }

        /// <summary>Nanoseconds since 1970 UTC.</summary>
        public long LastWrite { get; }
    }

    private static SortedDictionary<string, LocalItem> ListLocal(string folder)
    {
        var items = new SortedDictionary<string, LocalItem>(StringComparer.Ordinal);
        if (!Directory.Exists(folder))
        {
            return items;
        }
        foreach (FileSystemInfo info in new DirectoryInfo(folder).EnumerateFileSystemInfos())
        {
            HostEntryKind kind = (info.Attributes & FileAttributes.ReparsePoint) != 0 ? HostEntryKind.Link
                : (info.Attributes & FileAttributes.Directory) != 0 ? HostEntryKind.Directory
                : HostEntryKind.File;
            long size = info is FileInfo f && kind == HostEntryKind.File ? f.Length : 0;
            items[info.Name] = new LocalItem(info.FullName, kind, size, GuestTransferEngine.ToUnixNanoseconds(info.LastWriteTimeUtc));
        }
        return items;
    }

    /// <summary>
    /// The guest folder's entries, names checked: the ones that may be used by name, and every
    /// raw name listed (a local item of a name the guest listed in any form is never deleted).
    /// Links and other special entries are skipped with a warning; names that are not one
    /// component are per-item failures.
    /// </summary>
    private async Task<(GuestFolderPlan Plan, HashSet<string> Listed)> ListGuestAsync(string guestFolder, string localFolder, string relative, int depth, bool exists)
    {
        var raw = exists ? await _lister!.ListAsync(guestFolder, relative, depth, _ct).ConfigureAwait(false) : new List<GuestListEntry>();
        GuestFolderPlan plan = GuestFolderPlan.Check(raw, _engine.TargetName, guestFolder, localFolder, _root, shown => GuestTarget(_engine.Join(guestFolder, shown)));
        var listed = new HashSet<string>(GuestNames.HostComparer);
        foreach (GuestListEntry e in raw)
        {
            listed.Add(e.Name);
            if (e.Kind == GuestEntryKind.Other)
            {
                _callbacks.Warning($"{GuestTarget(_engine.Join(guestFolder, PathComponent.Printable(e.Name)))} is {(e.IsLink ? "a link" : "not a file or folder")}: skipped (a sync never follows, hashes, replaces or deletes one).");
            }
        }
        foreach (TransferException rejected in plan.Rejected)
        {
            Failed(rejected, rejected.Target ?? guestFolder);
        }
        return (plan, listed);
    }

    private void WarnLocalLink(string path) =>
        _callbacks.Warning($"'{path}' is a link: skipped (a sync never follows, hashes, replaces or deletes one).");

    /// <summary>
    /// True when the file at both sides is the same (<see cref="GuestSyncCompare"/>). When the
    /// hashes say so but the times differ, the target gets the source's time (not under
    /// -WhatIf), so the next sync decides by size and time alone. A guest file that cannot be
    /// hashed without following a link (or by this agent at all) counts as changed.
    /// </summary>
    private async Task<bool> SameAsync(string localPath, long localSize, long localTime, string guestPath, long guestSize, long? guestTime)
    {
        if (localSize != guestSize)
        {
            return false;
        }
        bool sameTime = guestTime is long g && SameTime(g, localTime);
        if (sameTime && _request.Compare == GuestSyncCompare.SizeAndTime)
        {
            return true;
        }
        string? there = await _engine.HashRegularFileAsync(guestPath, guestSize, _ct).ConfigureAwait(false);
        _summary.Hashed++;
        if (there is null || !string.Equals(there, GuestTransferEngine.LocalSha256(localPath), StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (!sameTime && !_callbacks.WhatIf)
        {
            if (_request.ToGuest)
            {
                await _engine.SetLastWriteAsync(guestPath, localTime, _ct).ConfigureAwait(false);
            }
            else if (guestTime is long t && GuestTransferEngine.FromUnixNanoseconds(t) is DateTime when)
            {
                File.SetLastWriteTimeUtc(localPath, when);
            }
        }
        return true;
    }

    /// <summary>
    /// Times equal to 100 ns (.NET's tick), or, when one side holds a whole second (a file
    /// system that keeps seconds only: ext4 with 128-byte inodes, FAT, a touch without
    /// fractions), equal to the second, as rsync compares them.
    /// </summary>
    internal static bool SameTime(long a, long b)
    {
        const long Second = 1_000_000_000L;
        if (a / 100 == b / 100)
        {
            return true;
        }
        return (a % Second == 0 || b % Second == 0) && FloorSeconds(a) == FloorSeconds(b);

        static long FloorSeconds(long ns) => ns >= 0 ? ns / Second : ((ns + 1) / Second) - 1;
    }

    private TransferOptions FileOptions(long? lastWrite) => new()
    {
        ChunkSize = _request.Options.ChunkSize,
        Verify = _request.Options.Verify,
        MaxBytes = _request.Options.MaxBytes,
        Force = true,
        LastWriteNanoseconds = lastWrite,
    };

    private void Moved(string relative, GuestCopiedFile file)
    {
        _summary.Copied.Add(relative);
        _summary.BytesMoved += file.Result.Bytes;
        _callbacks.Completed(file);
    }

    // ------------------------------------------------------------------ local -> guest

    private async Task ToGuestAsync()
    {
        if (!Directory.Exists(_root))
        {
            throw new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the local folder '{_root}'.", _root);
        }
        if (!_engine.CanRename)
        {
            _callbacks.Warning("This agent can neither rename files nor run programs (guest-exec): files are written in place, so a failed copy leaves a truncated destination.");
        }
        string guestRoot = _request.GuestRoot;
        GuestEntry? root = await _engine.StatAsync(guestRoot, _ct).ConfigureAwait(false);
        if (root is { Kind: not GuestEntryKind.Directory })
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"Cannot sync into '{guestRoot}': it is not a folder in the guest.", GuestTarget(guestRoot));
        }
        bool exists = root is not null;
        if (!exists)
        {
            if (await _callbacks.ShouldProcessAsync(GuestTarget(guestRoot), "Create guest folder").ConfigureAwait(false))
            {
                await _engine.CreateFolderAsync(guestRoot, true, _ct).ConfigureAwait(false);
            }
            else if (!_callbacks.WhatIf)
            {
                return;
            }
        }
        else
        {
            _lister = await _engine.OpenListingAsync(guestRoot, _budget, _ct).ConfigureAwait(false);
        }
        await ToGuestFolderAsync(_root, guestRoot, string.Empty, 1, exists).ConfigureAwait(false);
    }

    private async Task ToGuestFolderAsync(string localFolder, string guestFolder, string relative, int depth, bool exists)
    {
        SortedDictionary<string, LocalItem> local = ListLocal(localFolder);
        var (plan, listed) = await ListGuestAsync(guestFolder, localFolder, relative, depth, exists).ConfigureAwait(false);
        var guest = new Dictionary<string, GuestListEntry>(StringComparer.Ordinal);
        foreach (var (e, _) in plan.Files)
        {
            guest[e.Name] = e;
        }
        foreach (var (e, _) in plan.Folders)
        {
            guest[e.Name] = e;
        }

        // Extra target items first (and, with Delete, those of the other kind), so their
        // space and names are free for what is copied.
        var gone = new HashSet<string>(StringComparer.Ordinal);
        if (_request.Delete)
        {
            foreach (GuestListEntry e in guest.Values)
            {
                bool isFolder = e.Kind == GuestEntryKind.Directory;
                if (local.TryGetValue(e.Name, out LocalItem l) && (l.Kind == HostEntryKind.Link || (l.Kind == HostEntryKind.Directory) == isFolder))
                {
                    continue;
                }
                string path = _engine.Join(guestFolder, e.Name);
                string rel = Relative(relative, e.Name);
                await GuardAsync(GuestTarget(path), async () =>
                {
                    if (await _callbacks.ShouldProcessAsync(GuestTarget(path), isFolder ? "Delete guest folder and its content" : "Delete guest file").ConfigureAwait(false))
                    {
                        await _engine.RemoveAsync(path, isFolder, isFolder, _ct).ConfigureAwait(false);
                        _summary.Deleted.Add(rel);
                        gone.Add(e.Name);
                    }
                    else if (_callbacks.WhatIf)
                    {
                        gone.Add(e.Name);
                    }
                }).ConfigureAwait(false);
            }
        }

        var folders = new List<(string Name, LocalItem Item, bool Exists)>();
        foreach (var pair in local)
        {
            string name = pair.Key;
            LocalItem item = pair.Value;
            string path = _engine.Join(guestFolder, name);
            string rel = Relative(relative, name);
            if (item.Kind == HostEntryKind.Link)
            {
                WarnLocalLink(item.Path);
                continue;
            }
            GuestListEntry? there = guest.TryGetValue(name, out GuestListEntry t) && !gone.Contains(name) ? t : null;
            if (there is null && !gone.Contains(name) && listed.Contains(name))
            {
                // The guest has a link (or a name it listed wrongly) there: warned or failed
                // above, and never replaced.
                continue;
            }
            if (item.Kind == HostEntryKind.Directory)
            {
                if (there is { Kind: GuestEntryKind.File })
                {
                    Failed(new TransferException(TransferFailureKind.DestinationExists,
                        $"Cannot sync the folder '{item.Path}' to '{path}': a file of that name exists in the guest (add -Delete to replace it).", GuestTarget(path)), GuestTarget(path));
                    continue;
                }
                folders.Add((name, item, there is not null));
                continue;
            }
            if (there is { Kind: GuestEntryKind.Directory })
            {
                Failed(new TransferException(TransferFailureKind.DestinationIsDirectory,
                    $"Cannot sync the file '{item.Path}' to '{path}': a folder of that name exists in the guest (add -Delete to replace it).", GuestTarget(path)), GuestTarget(path));
                continue;
            }
            await GuardAsync(GuestTarget(path), async () =>
            {
                if (there is GuestListEntry file && await SameAsync(item.Path, item.Size, item.LastWrite, path, file.Size, file.LastWriteNanoseconds).ConfigureAwait(false))
                {
                    _summary.Skipped++;
                    return;
                }
                string action = there is null ? $"Copy '{item.Path}' into the guest" : $"Replace with '{item.Path}'";
                if (!await _callbacks.ShouldProcessAsync(GuestTarget(path), action).ConfigureAwait(false))
                {
                    return;
                }
                TransferResult result = await _engine.UploadAsync(item.Path, path, FileOptions(item.LastWrite), _callbacks.ProgressFor(name), _ct).ConfigureAwait(false);
                Moved(rel, new GuestCopiedFile(true, item.Path, path, name, result));
            }).ConfigureAwait(false);
        }

        foreach (var (name, item, there) in folders)
        {
            string path = _engine.Join(guestFolder, name);
            await GuardAsync(GuestTarget(path), async () =>
            {
                if (!there)
                {
                    if (await _callbacks.ShouldProcessAsync(GuestTarget(path), "Create guest folder").ConfigureAwait(false))
                    {
                        await _engine.CreateFolderAsync(path, false, _ct).ConfigureAwait(false);
                    }
                    else if (!_callbacks.WhatIf)
                    {
                        return;
                    }
                }
                await ToGuestFolderAsync(item.Path, path, Relative(relative, name), depth + 1, there).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------ guest -> local

    private async Task ToLocalAsync()
    {
        string guestRoot = _request.GuestRoot;
        GuestEntry? root = await _engine.StatAsync(guestRoot, _ct).ConfigureAwait(false);
        if (root is null)
        {
            throw new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the guest folder '{guestRoot}'.", GuestTarget(guestRoot));
        }
        if (root.Value.Kind != GuestEntryKind.Directory)
        {
            throw new TransferException(TransferFailureKind.SourceNotFound, $"'{guestRoot}' is not a folder in the guest.", GuestTarget(guestRoot));
        }
        bool exists = GuestFolderPlan.LocalFolderExists(_root);
        if (!exists)
        {
            if (await _callbacks.ShouldProcessAsync(_root, "Create local folder").ConfigureAwait(false))
            {
                Directory.CreateDirectory(_root);
            }
            else if (!_callbacks.WhatIf)
            {
                return;
            }
        }
        _lister = await _engine.OpenListingAsync(guestRoot, _budget, _ct).ConfigureAwait(false);
        await ToLocalFolderAsync(guestRoot, _root, string.Empty, 1).ConfigureAwait(false);
    }

    private async Task ToLocalFolderAsync(string guestFolder, string localFolder, string relative, int depth)
    {
        var (plan, listed) = await ListGuestAsync(guestFolder, localFolder, relative, depth, exists: true).ConfigureAwait(false);
        SortedDictionary<string, LocalItem> local = ListLocal(localFolder);
        var sourceKinds = new Dictionary<string, bool>(GuestNames.HostComparer);
        foreach (var (e, _) in plan.Files)
        {
            sourceKinds[e.Name] = false;
        }
        foreach (var (e, _) in plan.Folders)
        {
            sourceKinds[e.Name] = true;
        }

        var gone = new HashSet<string>(GuestNames.HostComparer);
        if (_request.Delete)
        {
            foreach (var pair in local)
            {
                LocalItem item = pair.Value;
                if (item.Kind == HostEntryKind.Link)
                {
                    if (!listed.Contains(pair.Key))
                    {
                        WarnLocalLink(item.Path);
                    }
                    continue;
                }
                bool isFolder = item.Kind == HostEntryKind.Directory;
                // A name the guest listed in any form (a link, a name refused) is kept: only what
                // the guest plainly does not have is removed.
                if (listed.Contains(pair.Key) && !(sourceKinds.TryGetValue(pair.Key, out bool wantFolder) && wantFolder != isFolder))
                {
                    continue;
                }
                string rel = Relative(relative, pair.Key);
                await GuardAsync(item.Path, async () =>
                {
                    if (await _callbacks.ShouldProcessAsync(item.Path, isFolder ? "Delete local folder and its content" : "Delete local file").ConfigureAwait(false))
                    {
                        if (isFolder)
                        {
                            Directory.Delete(item.Path, true);
                        }
                        else
                        {
                            File.Delete(item.Path);
                        }
                        _summary.Deleted.Add(rel);
                        gone.Add(pair.Key);
                    }
                    else if (_callbacks.WhatIf)
                    {
                        gone.Add(pair.Key);
                    }
                }).ConfigureAwait(false);
            }
        }

        foreach (var (e, target) in plan.Files)
        {
            string path = _engine.Join(guestFolder, e.Name);
            string rel = Relative(relative, e.Name);
            await GuardAsync(target, async () =>
            {
                bool present = local.TryGetValue(e.Name, out LocalItem item) && !gone.Contains(e.Name);
                if (present && item.Kind == HostEntryKind.File
                    && await SameAsync(item.Path, item.Size, item.LastWrite, path, e.Size, e.LastWriteNanoseconds).ConfigureAwait(false))
                {
                    _summary.Skipped++;
                    return;
                }
                // A link or a folder in the way is refused here (DestinationIsLink, DestinationIsDirectory).
                GuestTransferEngine.CheckDownloadTarget(target, true, true, folderNotMadeForWhatIf: _callbacks.WhatIf);
                if (!await _callbacks.ShouldProcessAsync(target, $"Copy guest file '{GuestTarget(path)}' here").ConfigureAwait(false))
                {
                    return;
                }
                plan.Claim(e.Name, target);
                TransferResult result = await _engine.DownloadAsync(path, target, e.Size, FileOptions(e.LastWriteNanoseconds), _callbacks.ProgressFor(e.Name), _ct).ConfigureAwait(false);
                Moved(rel, new GuestCopiedFile(false, path, target, e.Name, result));
            }).ConfigureAwait(false);
        }

        foreach (var (e, target) in plan.Folders)
        {
            string path = _engine.Join(guestFolder, e.Name);
            await GuardAsync(target, async () =>
            {
                plan.Claim(e.Name, target);
                bool made = !gone.Contains(e.Name) && GuestFolderPlan.LocalFolderExists(target);
                if (!made)
                {
                    if (await _callbacks.ShouldProcessAsync(target, "Create local folder").ConfigureAwait(false))
                    {
                        Directory.CreateDirectory(target);
                    }
                    else if (!_callbacks.WhatIf)
                    {
                        return;
                    }
                }
                await ToLocalFolderAsync(path, target, Relative(relative, e.Name), depth + 1).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
    }
}
