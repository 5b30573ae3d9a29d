using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// One copy of files and folders between this host and a guest, no PowerShell: where each
/// source lands (a destination folder receives sources by name), creating folders, walking
/// folders on both sides (out of the guest each listed name checked by <see cref="GuestFolderPlan"/>),
/// and which failures end one item and which the whole copy. Each file moves through
/// <see cref="GuestTransferEngine"/>; consent, failed items, progress and finished files go to
/// the caller's <see cref="IGuestCopyCallbacks"/>.
/// </summary>
public sealed class GuestCopy
{
    private readonly GuestTransferEngine _engine;
    private readonly GuestCopyRequest _request;
    private readonly IGuestCopyCallbacks _callbacks;
    private readonly CancellationToken _ct;

    private GuestCopy(GuestTransferEngine engine, GuestCopyRequest request, IGuestCopyCallbacks callbacks, CancellationToken cancellationToken)
    {
        _engine = engine;
        _request = request;
        _callbacks = callbacks;
        _ct = cancellationToken;
    }

    /// <summary>
    /// Runs the copy. Per-item failures go to <see cref="IGuestCopyCallbacks.ItemFailed"/>; what
    /// ends the whole copy (the link gone, the local side failing, an untrusted top-level
    /// destination) is thrown.
    /// </summary>
    public static Task RunAsync(GuestTransferEngine engine, GuestCopyRequest request, IGuestCopyCallbacks callbacks, CancellationToken cancellationToken)
    {
        var copy = new GuestCopy(engine, request, callbacks, cancellationToken);
        return request.ToGuest ? copy.UploadAllAsync() : copy.DownloadAllAsync();
    }

    private bool Force => _request.Options.Force;

    private static bool EndsWithSeparator(string path) => path.EndsWith("/", StringComparison.Ordinal) || path.EndsWith("\\", StringComparison.Ordinal);

    /// <summary>How -WhatIf/-Confirm name a guest path: "VM:path", so many targets stay distinguishable.</summary>
    private string GuestTarget(string guestPath) => _engine.TargetName + ":" + guestPath;

    // ------------------------------------------------------------------ local -> guest

    private async Task UploadAllAsync()
    {
        if (!_engine.CanRename)
        {
            _callbacks.Warning("This agent can neither rename files nor run programs (guest-exec): files are written in place, so a failed copy leaves a truncated destination.");
        }
        GuestEntry? dest = await _engine.StatAsync(_request.Destination, _ct).ConfigureAwait(false);
        bool container = _request.LocalSources.Count > 1 || EndsWithSeparator(_request.Destination) || dest?.Kind == GuestEntryKind.Directory;
        if (container && dest is null)
        {
            if (!Force)
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The guest folder '{_request.Destination}' does not exist: create it first or add -Force.", _request.Destination);
            }
            if (await _callbacks.ShouldProcessAsync(GuestTarget(_request.Destination), "Create guest folder").ConfigureAwait(false))
            {
                await _engine.CreateFolderAsync(_request.Destination.TrimEnd('/', '\\'), true, _ct).ConfigureAwait(false);
            }
        }

        int plannedFiles = 0;
        long plannedBytes = 0;
        foreach (GuestCopySource item in _request.LocalSources)
        {
            try
            {
                if (!item.IsDirectory)
                {
                    plannedFiles++;
                    plannedBytes += new FileInfo(item.Path).Length;
                    continue;
                }
                var dirs = new List<string>();
                var files = new List<string>();
                Walk(item.Path, string.Empty, dirs, files);
                foreach (string rel in files)
                {
                    plannedFiles++;
                    plannedBytes += new FileInfo(Path.Combine(item.Path, rel.Replace('/', Path.DirectorySeparatorChar))).Length;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Counted as far as it could be; the copy itself reports the item.
            }
        }
        _callbacks.Planned(plannedFiles, plannedBytes);

        foreach (GuestCopySource item in _request.LocalSources)
        {
            string target = container ? _engine.Join(_request.Destination, Path.GetFileName(item.Path.TrimEnd(Path.DirectorySeparatorChar))) : _request.Destination;
            if (item.IsDirectory)
            {
                await GuardAsync(target, () => UploadFolderAsync(item.Path, target)).ConfigureAwait(false);
            }
            else
            {
                // Not a container, so the destination stat above was this file's: a stock agent
                // answers a second one with four round trips, the first an open that makes
                // qemu-ga write its state file (an fsync: 12-36 ms at load 40).
                GuestEntry? known = container ? null : dest;
                await GuardAsync(target, () => UploadFileAsync(item.Path, target, !container, known)).ConfigureAwait(false);
            }
        }
    }

    private async Task UploadFolderAsync(string localRoot, string guestRoot)
    {
        GuestEntry? root = await _engine.StatAsync(guestRoot, _ct).ConfigureAwait(false);
        if (root?.Kind == GuestEntryKind.File)
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"Cannot copy the folder '{localRoot}' to '{guestRoot}': a file of that name exists in the guest.", guestRoot);
        }
        if (root is null)
        {
            if (await _callbacks.ShouldProcessAsync(GuestTarget(guestRoot), "Create guest folder").ConfigureAwait(false))
            {
                await CreateGuestRootAsync(guestRoot).ConfigureAwait(false);
            }
            else if (!_callbacks.WhatIf)
            {
                return;
            }
        }

        var dirs = new List<string>();
        var files = new List<string>();
        Walk(localRoot, string.Empty, dirs, files);
        foreach (string rel in dirs)
        {
            string guestDir = _engine.Join(guestRoot, rel);
            await GuardAsync(guestDir, async () =>
            {
                if (await _callbacks.ShouldProcessAsync(GuestTarget(guestDir), "Create guest folder").ConfigureAwait(false))
                {
                    await _engine.CreateFolderAsync(guestDir, true, _ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }
        foreach (string rel in files)
        {
            string local = Path.Combine(localRoot, rel.Replace('/', Path.DirectorySeparatorChar));
            string guest = _engine.Join(guestRoot, rel);
            await GuardAsync(guest, () => UploadFileAsync(local, guest)).ConfigureAwait(false);
        }
    }

    private async Task CreateGuestRootAsync(string guestRoot)
    {
        try
        {
            await _engine.CreateFolderAsync(guestRoot, Force, _ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (GuestErrorText.IsMissing(ex) || ex is TransferException { Kind: TransferFailureKind.DestinationFolderNotFound })
        {
            throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                $"The guest folder '{GuestTransferEngine.Parent(guestRoot)}' does not exist: create it first or add -Force.", guestRoot, ex);
        }
    }

    private static void Walk(string root, string prefix, List<string> dirs, List<string> files)
    {
        string here = prefix.Length == 0 ? root : Path.Combine(root, prefix.Replace('/', Path.DirectorySeparatorChar));
        var entries = new List<string>(Directory.EnumerateFileSystemEntries(here));
        entries.Sort(StringComparer.Ordinal);
        foreach (string e in entries)
        {
            string rel = prefix.Length == 0 ? Path.GetFileName(e) : prefix + "/" + Path.GetFileName(e);
            if (Directory.Exists(e))
            {
                dirs.Add(rel);
                Walk(root, rel, dirs, files);
            }
            else
            {
                files.Add(rel);
            }
        }
    }

    private async Task UploadFileAsync(string localPath, string guestPath, bool stated = false, GuestEntry? existing = null)
    {
        if (stated)
        {
            GuestTransferEngine.CheckUploadTarget(guestPath, existing, Force);
        }
        else
        {
            await _engine.CheckUploadTargetAsync(guestPath, Force, _ct).ConfigureAwait(false);
        }
        if (!await _callbacks.ShouldProcessAsync(GuestTarget(guestPath), $"Copy '{localPath}' into the guest").ConfigureAwait(false))
        {
            return;
        }
        string name = Path.GetFileName(localPath);
        TransferResult result = await _engine.UploadAsync(localPath, guestPath, _request.Options, _callbacks.ProgressFor(name), _ct).ConfigureAwait(false);
        _callbacks.Completed(new GuestCopiedFile(true, localPath, guestPath, name, result));
    }

    /// <summary>
    /// Runs one item; its failure is reported and the copy goes on, unless the channel or the
    /// local side itself is gone. Inside a recursive copy out of the guest (<paramref name="insideWalk"/>)
    /// a listing that cannot be trusted ends the whole walk, not the one folder: it passes up to
    /// the copied folder, which reports it once.
    /// </summary>
    private Task GuardAsync(string target, Func<Task> body, bool insideWalk = false) => GuardAsync(_callbacks.ItemFailed, _ct, target, body, insideWalk);

    /// <summary>The one rule for which failures end an item and which the whole transfer (copies and syncs).</summary>
    internal static async Task GuardAsync(Action<Exception, string> itemFailed, CancellationToken ct, string target, Func<Task> body, bool insideWalk)
    {
        try
        {
            await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (TransferException ex) when (!ex.StopsTransfer && !(insideWalk && ex.IsListingFailure))
        {
            itemFailed(ex, target);
        }
        catch (QgaCommandException ex)
        {
            itemFailed(ex, target);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            itemFailed(GuestTransferEngine.MapLocal(ex, target), target);
        }
    }

    // ------------------------------------------------------------------ guest -> local

    private async Task DownloadAllAsync()
    {
        bool destIsDir = Directory.Exists(_request.Destination);
        bool container = _request.GuestSources.Count > 1 || EndsWithSeparator(_request.Destination) || destIsDir;
        if (container && !destIsDir)
        {
            if (!Force)
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The local folder '{_request.Destination}' does not exist: create it first or add -Force.", _request.Destination);
            }
            if (await _callbacks.ShouldProcessAsync(_request.Destination, "Create local folder").ConfigureAwait(false))
            {
                Directory.CreateDirectory(_request.Destination);
            }
        }

        foreach (string source in _request.GuestSources)
        {
            string target = container ? Path.Combine(_request.Destination, GuestTransferEngine.LeafName(source)) : _request.Destination;
            await GuardAsync(source, async () =>
            {
                GuestEntry? entry = await _engine.StatAsync(source, _ct).ConfigureAwait(false);
                if (entry is null)
                {
                    throw new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the guest file '{source}'.", source);
                }
                if (entry.Value.Kind != GuestEntryKind.Directory)
                {
                    await DownloadFileAsync(source, target, entry.Value.Size).ConfigureAwait(false);
                    return;
                }
                if (!_request.Recurse)
                {
                    throw new TransferException(TransferFailureKind.SourceIsDirectory,
                        $"'{source}' is a folder in the guest: add -Recurse to copy it with its content.", source);
                }
                await DownloadFolderAsync(source, target).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
    }

    private async Task DownloadFolderAsync(string guestRoot, string localRoot)
    {
        if (File.Exists(localRoot))
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"Cannot copy the guest folder '{guestRoot}' to '{localRoot}': a local file of that name exists.", localRoot);
        }
        if (!Directory.Exists(localRoot))
        {
            string? parent = Path.GetDirectoryName(localRoot.TrimEnd(Path.DirectorySeparatorChar));
            if (!Force && parent is not null && !Directory.Exists(parent))
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The local folder '{parent}' does not exist: create it first or add -Force.", localRoot);
            }
            if (await _callbacks.ShouldProcessAsync(localRoot, "Create local folder").ConfigureAwait(false))
            {
                Directory.CreateDirectory(localRoot);
            }
            else if (!_callbacks.WhatIf)
            {
                return;
            }
        }
        var walk = new DownloadWalk(Path.GetFullPath(localRoot));
        try
        {
            walk.Lister = await _engine.OpenListingAsync(guestRoot, walk.Budget, _ct).ConfigureAwait(false);
            await DownloadFolderContentAsync(walk, guestRoot, walk.Root, string.Empty, 1).ConfigureAwait(false);
        }
        catch (TransferException ex) when (ex.IsListingFailure)
        {
            throw new TransferException(ex.Kind,
                $"{_engine.TargetName}: {ex.Message} Nothing more was copied from '{guestRoot}'.", GuestTarget(guestRoot), ex);
        }
    }

    /// <summary>One recursive copy out of the guest: where it may write, and how much listing it may take.</summary>
    private sealed class DownloadWalk
    {
        public DownloadWalk(string root) => Root = root;

        /// <summary>The local folder (full path) nothing may be written outside of.</summary>
        public string Root { get; }

        public GuestListingBudget Budget { get; } = new();

        public GuestFolderLister Lister { get; set; } = null!;
    }

    /// <summary>
    /// Copies one guest folder's files, then its folders, each checked first: the name must be
    /// one path component, unique on this host's file system, and join to a path under the
    /// root that is not a link. A name that fails is a per-item error naming the VM; the rest
    /// of the copy goes on. Folders are listed only when reached, so memory holds the folders
    /// on the current path, not the tree.
    /// </summary>
    private async Task DownloadFolderContentAsync(DownloadWalk walk, string guestFolder, string localFolder, string relative, int depth)
    {
        GuestFolderPlan folder = await _engine.PlanFolderAsync(walk.Lister, guestFolder, localFolder, relative, depth, walk.Root, _ct).ConfigureAwait(false);
        foreach (TransferException rejected in folder.Rejected)
        {
            _callbacks.ItemFailed(rejected, rejected.Target ?? guestFolder);
        }
        foreach (var (e, local) in folder.Files)
        {
            string guest = _engine.Join(guestFolder, e.Name);
            await GuardAsync(guest, () =>
            {
                folder.Claim(e.Name, local);
                return DownloadFileAsync(guest, local, e.Size, guestNamed: true);
            }, insideWalk: true).ConfigureAwait(false);
        }
        foreach (var (e, local) in folder.Folders)
        {
            string guest = _engine.Join(guestFolder, e.Name);
            await GuardAsync(guest, async () =>
            {
                folder.Claim(e.Name, local);
                if (await EnsureLocalFolderAsync(local).ConfigureAwait(false))
                {
                    await DownloadFolderContentAsync(walk, guest, local, relative.Length == 0 ? e.Name : relative + "/" + e.Name, depth + 1).ConfigureAwait(false);
                }
            }, insideWalk: true).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A folder the guest named, inside the walk: an existing real folder is merged into; a link
    /// is never followed (DestinationIsLink); a new one is created only when ShouldProcess
    /// agrees. False when it was declined at -Confirm: its content is skipped; under -WhatIf
    /// the walk goes on, so every item is shown.
    /// </summary>
    private async Task<bool> EnsureLocalFolderAsync(string local)
    {
        if (GuestFolderPlan.LocalFolderExists(local))
        {
            return true;
        }
        if (!await _callbacks.ShouldProcessAsync(local, "Create local folder").ConfigureAwait(false))
        {
            return _callbacks.WhatIf;
        }
        Directory.CreateDirectory(local);
        return true;
    }

    private async Task DownloadFileAsync(string guestPath, string localPath, long size, bool guestNamed = false)
    {
        // Under -WhatIf the folders of a walk were shown, not made: their absence is no error.
        GuestTransferEngine.CheckDownloadTarget(localPath, Force, guestNamed, folderNotMadeForWhatIf: _callbacks.WhatIf && guestNamed);
        // Asked before anything is created: under -WhatIf not even the folder appears.
        if (!await _callbacks.ShouldProcessAsync(localPath, $"Copy guest file '{GuestTarget(guestPath)}' here").ConfigureAwait(false))
        {
            return;
        }
        string name = GuestTransferEngine.LeafName(guestPath);
        TransferResult result = await _engine.DownloadAsync(guestPath, localPath, size, _request.Options, _callbacks.ProgressFor(name), _ct).ConfigureAwait(false);
        _callbacks.Completed(new GuestCopiedFile(false, guestPath, localPath, name, result));
    }
}
