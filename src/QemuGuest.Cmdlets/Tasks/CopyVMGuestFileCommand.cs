using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Copies files and folders into a guest or out of it, through its guest agent.</para>
/// <para type="description">With -LocalToGuest, -Source names local files (wildcards allowed;
/// -LiteralPath for exact names) and -Destination a guest path; with -GuestToLocal the other way
/// round. Data streams in blocks (60 KiB by default), four requests in flight, so memory stays
/// constant for any file size. The destination appears only complete: data goes to a temporary
/// name next to it (NAME.qgtmp-XXXXXXXX) that is renamed into place at the end, in the guest by
/// QemuGuest's agent (rename extension) or, with a stock qemu-ga, by running mv (Linux) or
/// cmd /c move (Windows) through guest-exec. A stock agent with guest-exec disabled cannot rename:
/// the file is then written in place, and a failed copy leaves it truncated to zero bytes (or,
/// when the agent is gone, partly written) — the result's Atomic property is false and a warning
/// says so. -Verify compares SHA-256 of both sides.</para>
/// <para type="link">Get-VMGuestChildItem</para>
/// <para type="link">New-VMGuestSession</para>
/// <para type="link">Invoke-VMGuestCommand</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Copy a file into the guest">
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web01 -LocalToGuest ./nginx.conf /srv/www/ -Force</code>
/// <para>Copies nginx.conf into the folder /srv/www of VM web01's guest. -Force creates the folder
/// when it is missing and replaces a file of that name; without it, an existing file is the error
/// DestinationExists.</para>
/// </example>
/// <example title="Fetch a file from the guest and check it arrived intact">
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web02 -GuestToLocal /etc/os-release ./web02-os-release -Verify -PassThru</code>
/// <para>Copies the guest's /etc/os-release to a local file, compares the SHA-256 of both sides and
/// returns the result (bytes, time, Verified, Atomic).</para>
/// </example>
/// <example title="Copy a folder into several guests at once">
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web01, web02 -LocalToGuest ./site /srv/www/site -Recurse -Force
/// PS C:\&gt; Copy-VMGuestFile -VMName web01 -GuestToLocal /srv/www/site ./site-back -Recurse</code>
/// <para>Copies the folder site with everything in it into both guests (up to -ThrottleLimit at a
/// time), then copies web01's copy back.</para>
/// </example>
/// <example title="See what would be copied">
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web01 -LocalToGuest ./site /srv/www/site -Recurse -WhatIf</code>
/// <para>Lists each file the copy would write, and writes none.</para>
/// </example>
[Cmdlet(VerbsCommon.Copy, "VMGuestFile", DefaultParameterSetName = SessionParameterSet,
    SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestFileCopyResult))]
public sealed class CopyVMGuestFileCommand : GuestCmdlet
{
    /// <summary>What to copy: local paths with wildcards (-LocalToGuest) or guest paths (-GuestToLocal).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[]? Source { get; set; }

    /// <summary>What to copy, taken literally (no wildcards). Wins over -Source when both are bound from the pipeline.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>
    /// Where to copy to: a folder (existing, or ending with a separator) receives the sources by
    /// name; otherwise the path is the new file's (or folder's) name.
    /// </summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = string.Empty;

    /// <summary>Copy from the local machine into the guest.</summary>
    [Parameter]
    public SwitchParameter LocalToGuest { get; set; }

    /// <summary>Copy from the guest to the local machine.</summary>
    [Parameter]
    public SwitchParameter GuestToLocal { get; set; }

    /// <summary>Copy folders with everything in them.</summary>
    [Parameter]
    public SwitchParameter Recurse { get; set; }

    /// <summary>Create missing destination folders and overwrite existing files.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Return a GuestFileCopyResult per copied file.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Compare SHA-256 of source and destination after each file.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    /// <summary>
    /// Bytes per guest-file-read/-write: default 60 KiB (keeps memory flat; the stock agent is
    /// no faster with bigger blocks). Capped at the agent's limits (stock: 48 MiB read, 45 MiB
    /// write to fit its 64 MiB message cap); keep it at or below 7 MiB through libvirt.
    /// </summary>
    [Parameter]
    [ValidateRange(4096, GuestFileIO.StockMaxReadCount)]
    public int ChunkSize { get; set; } = AgentProfile.DefaultChunkSize;

    /// <summary>
    /// With -GuestToLocal, the most bytes read from one guest file. Default: the size the guest
    /// reported for it, or 64 MiB when it reported 0 (devices, /proc files). A file that sends
    /// more fails with SourceSizeExceeded and nothing of it is kept, so an endless or growing
    /// file cannot fill the local disk.
    /// </summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long MaxBytes { get; set; }

    private sealed class LocalItem
    {
        public LocalItem(string path, bool isDirectory)
        {
            Path = path;
            IsDirectory = isDirectory;
        }

        public string Path { get; }

        public bool IsDirectory { get; }
    }

    private sealed class Plan
    {
        public bool ToGuest;
        public List<LocalItem> LocalItems = new();
        public List<string> GuestSources = new();
        public string Destination = string.Empty;
        public bool Recurse;
        public bool Force;
        public bool PassThru;
        public TransferOptions Options = new();
    }

    protected override GuestOperation? CreateOperation()
    {
        if (LocalToGuest.IsPresent == GuestToLocal.IsPresent)
        {
            ThrowTerminatingError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                "Give exactly one of -LocalToGuest or -GuestToLocal.", null));
        }
        bool literal = LiteralPath is { Length: > 0 };
        string[]? sources = literal ? LiteralPath : Source;
        if (sources is not { Length: > 0 })
        {
            ThrowTerminatingError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                "Give the files to copy with -Source or -LiteralPath.", null));
        }

        var plan = new Plan
        {
            ToGuest = LocalToGuest.IsPresent,
            Recurse = Recurse.IsPresent,
            Force = Force.IsPresent,
            PassThru = PassThru.IsPresent,
            Options = new TransferOptions { ChunkSize = ChunkSize, Force = Force.IsPresent, Verify = Verify.IsPresent, MaxBytes = MaxBytes },
        };

        if (plan.ToGuest)
        {
            foreach (string s in sources!)
            {
                ResolveLocalSource(s, literal, plan.LocalItems);
            }
            if (plan.LocalItems.Count == 0)
            {
                return null;
            }
            plan.Destination = Destination;
        }
        else
        {
            plan.GuestSources.AddRange(sources!);
            string local = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination);
            if (EndsWithSeparator(Destination) && !EndsWithSeparator(local))
            {
                local += Path.DirectorySeparatorChar;
            }
            plan.Destination = local;
        }

        return context => plan.ToGuest ? UploadAllAsync(context, plan) : DownloadAllAsync(context, plan);
    }

    private void ResolveLocalSource(string source, bool literal, List<LocalItem> items)
    {
        var paths = new List<string>();
        try
        {
            if (!literal && WildcardPattern.ContainsWildcardCharacters(source))
            {
                paths.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(source, out _));
            }
            else
            {
                paths.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(source));
            }
        }
        catch (Exception ex) when (ex is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException)
        {
            WriteError(new ErrorRecord(ex, ErrorTable.SourceNotFound, ErrorCategory.ObjectNotFound, source));
            return;
        }

        foreach (string p in paths)
        {
            if (File.Exists(p))
            {
                items.Add(new LocalItem(p, false));
            }
            else if (Directory.Exists(p))
            {
                if (!Recurse.IsPresent)
                {
                    WriteError(ErrorTable.Create(ErrorTable.SourceIsDirectory, ErrorCategory.InvalidArgument,
                        $"'{p}' is a folder: add -Recurse to copy it with its content.", p));
                    continue;
                }
                items.Add(new LocalItem(p, true));
            }
            else
            {
                WriteError(ErrorTable.Create(ErrorTable.SourceNotFound, ErrorCategory.ObjectNotFound,
                    $"Cannot find the local file '{p}'.", p));
            }
        }
    }

    private static bool EndsWithSeparator(string path) => path.EndsWith("/", StringComparison.Ordinal) || path.EndsWith("\\", StringComparison.Ordinal);

    /// <summary>How -WhatIf/-Confirm name a guest path: "VM:path", so many targets stay distinguishable.</summary>
    private static string GuestTarget(GuestOperationContext context, string guestPath) => context.Session.TargetName + ":" + guestPath;

    // ------------------------------------------------------------------ local -> guest

    private static async Task UploadAllAsync(GuestOperationContext context, Plan plan)
    {
        CancellationToken ct = context.CancellationToken;
        var engine = await GuestTransferEngine.OpenAsync(context.Channel, context.Session.Facts, context.CallOptions, context.Session.TargetName, ct).ConfigureAwait(false);
        var progress = new TransferProgress(context, $"Copy-VMGuestFile to {context.Session.TargetName}");
        if (!engine.CanRename)
        {
            context.WriteWarning("This agent can neither rename files nor run programs (guest-exec): files are written in place, so a failed copy leaves a truncated destination.");
        }
        try
        {
            GuestEntry? dest = await engine.StatAsync(plan.Destination, ct).ConfigureAwait(false);
            bool container = plan.LocalItems.Count > 1 || EndsWithSeparator(plan.Destination) || dest?.Kind == GuestEntryKind.Directory;
            if (container && dest is null)
            {
                if (!plan.Force)
                {
                    throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                        $"The guest folder '{plan.Destination}' does not exist: create it first or add -Force.", plan.Destination);
                }
                if (await context.ShouldProcessAsync(GuestTarget(context, plan.Destination), "Create guest folder").ConfigureAwait(false))
                {
                    await engine.CreateFolderAsync(plan.Destination.TrimEnd('/', '\\'), true, ct).ConfigureAwait(false);
                }
            }

            foreach (var item in plan.LocalItems)
            {
                string target = container ? engine.Join(plan.Destination, Path.GetFileName(item.Path.TrimEnd(Path.DirectorySeparatorChar))) : plan.Destination;
                if (!item.IsDirectory)
                {
                    await GuardAsync(context, target, () => UploadFileAsync(context, engine, plan, item.Path, target, progress)).ConfigureAwait(false);
                    continue;
                }

                await GuardAsync(context, target, () => UploadFolderAsync(context, engine, plan, item.Path, target, progress)).ConfigureAwait(false);
            }
        }
        finally
        {
            progress.Complete();
        }
    }

    private static async Task UploadFolderAsync(GuestOperationContext context, GuestTransferEngine engine, Plan plan, string localRoot, string guestRoot, TransferProgress progress)
    {
        CancellationToken ct = context.CancellationToken;
        GuestEntry? root = await engine.StatAsync(guestRoot, ct).ConfigureAwait(false);
        if (root?.Kind == GuestEntryKind.File)
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"Cannot copy the folder '{localRoot}' to '{guestRoot}': a file of that name exists in the guest.", guestRoot);
        }
        if (root is null)
        {
            if (!await context.ShouldProcessAsync(GuestTarget(context, guestRoot), "Create guest folder").ConfigureAwait(false))
            {
                return;
            }
            try
            {
                await engine.CreateFolderAsync(guestRoot, plan.Force, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (GuestErrorText.IsMissing(ex) || ex is TransferException { Kind: TransferFailureKind.DestinationFolderNotFound })
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The guest folder '{GuestTransferEngine.Parent(guestRoot)}' does not exist: create it first or add -Force.", guestRoot, ex);
            }
        }

        var dirs = new List<string>();
        var files = new List<string>();
        Walk(localRoot, string.Empty, dirs, files);
        foreach (string rel in dirs)
        {
            string guestDir = engine.Join(guestRoot, rel);
            await GuardAsync(context, guestDir, async () =>
            {
                if (await context.ShouldProcessAsync(GuestTarget(context, guestDir), "Create guest folder").ConfigureAwait(false))
                {
                    await engine.CreateFolderAsync(guestDir, true, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }
        foreach (string rel in files)
        {
            string local = Path.Combine(localRoot, rel.Replace('/', Path.DirectorySeparatorChar));
            string guest = engine.Join(guestRoot, rel);
            await GuardAsync(context, guest, () => UploadFileAsync(context, engine, plan, local, guest, progress)).ConfigureAwait(false);
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

    /// <summary>
    /// Runs one item; its failure becomes a non-terminating error unless the channel itself is
    /// gone. Inside a recursive copy out of the guest (<paramref name="insideWalk"/>) a listing
    /// that cannot be trusted ends the whole walk, not the one folder: it passes up to the copied
    /// folder, which reports it once.
    /// </summary>
    private static async Task GuardAsync(GuestOperationContext context, string target, Func<Task> body, bool insideWalk = false)
    {
        try
        {
            await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TransferException ex) when (!ex.StopsTransfer && !(insideWalk && ex.IsListingFailure))
        {
            context.WriteError(ErrorTable.ToErrorRecord(ex, target));
        }
        catch (QgaCommandException ex)
        {
            context.WriteError(ErrorTable.ToErrorRecord(ex, target));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            context.WriteError(ErrorTable.ToErrorRecord(GuestTransferEngine.MapLocal(ex, target), target));
        }
    }

    private static async Task UploadFileAsync(GuestOperationContext context, GuestTransferEngine engine, Plan plan, string localPath, string guestPath, TransferProgress progress)
    {
        await engine.CheckUploadTargetAsync(guestPath, plan.Force, context.CancellationToken).ConfigureAwait(false);
        if (!await context.ShouldProcessAsync(GuestTarget(context, guestPath), $"Copy '{localPath}' into the guest").ConfigureAwait(false))
        {
            return;
        }
        string name = Path.GetFileName(localPath);
        TransferResult result = await engine.UploadAsync(localPath, guestPath, plan.Options, progress.For(name), context.CancellationToken).ConfigureAwait(false);
        Completed(context, plan, progress, "LocalToGuest", localPath, guestPath, name, result);
    }

    /// <summary>
    /// Both directions end here once the destination is in place: the last progress update and,
    /// with -PassThru, the result object.
    /// </summary>
    private static void Completed(GuestOperationContext context, Plan plan, TransferProgress progress, string direction, string source, string destination,
        string progressName, TransferResult result)
    {
        progress.Report(progressName, result.Bytes, result.Expected, result.Duration, force: true);
        if (plan.PassThru)
        {
            context.WriteObject(new GuestFileCopyResult
            {
                VMName = context.Session.TargetName,
                Direction = direction,
                Source = source,
                Destination = destination,
                Bytes = result.Bytes,
                Duration = result.Duration,
                Hash = result.Hash,
                Verified = result.Hash is not null,
                Atomic = result.Atomic,
            });
        }
    }

    // ------------------------------------------------------------------ guest -> local

    private static async Task DownloadAllAsync(GuestOperationContext context, Plan plan)
    {
        CancellationToken ct = context.CancellationToken;
        var engine = await GuestTransferEngine.OpenAsync(context.Channel, context.Session.Facts, context.CallOptions, context.Session.TargetName, ct).ConfigureAwait(false);
        var progress = new TransferProgress(context, $"Copy-VMGuestFile from {context.Session.TargetName}");
        try
        {
            bool destIsDir = Directory.Exists(plan.Destination);
            bool container = plan.GuestSources.Count > 1 || EndsWithSeparator(plan.Destination) || destIsDir;
            if (container && !destIsDir)
            {
                if (!plan.Force)
                {
                    throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                        $"The local folder '{plan.Destination}' does not exist: create it first or add -Force.", plan.Destination);
                }
                if (await context.ShouldProcessAsync(plan.Destination, "Create local folder").ConfigureAwait(false))
                {
                    Directory.CreateDirectory(plan.Destination);
                }
            }

            foreach (string source in plan.GuestSources)
            {
                string target = container ? Path.Combine(plan.Destination, GuestTransferEngine.LeafName(source)) : plan.Destination;
                await GuardAsync(context, source, async () =>
                {
                    GuestEntry? entry = await engine.StatAsync(source, ct).ConfigureAwait(false);
                    if (entry is null)
                    {
                        throw new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the guest file '{source}'.", source);
                    }
                    if (entry.Value.Kind != GuestEntryKind.Directory)
                    {
                        await DownloadFileAsync(context, engine, plan, source, target, entry.Value.Size, progress).ConfigureAwait(false);
                        return;
                    }
                    if (!plan.Recurse)
                    {
                        throw new TransferException(TransferFailureKind.SourceIsDirectory,
                            $"'{source}' is a folder in the guest: add -Recurse to copy it with its content.", source);
                    }
                    await DownloadFolderAsync(context, engine, plan, source, target, progress).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
        }
        finally
        {
            progress.Complete();
        }
    }

    private static async Task DownloadFolderAsync(GuestOperationContext context, GuestTransferEngine engine, Plan plan, string guestRoot, string localRoot, TransferProgress progress)
    {
        CancellationToken ct = context.CancellationToken;
        if (File.Exists(localRoot))
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"Cannot copy the guest folder '{guestRoot}' to '{localRoot}': a local file of that name exists.", localRoot);
        }
        if (!Directory.Exists(localRoot))
        {
            string? parent = Path.GetDirectoryName(localRoot.TrimEnd(Path.DirectorySeparatorChar));
            if (!plan.Force && parent is not null && !Directory.Exists(parent))
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The local folder '{parent}' does not exist: create it first or add -Force.", localRoot);
            }
            if (!await context.ShouldProcessAsync(localRoot, "Create local folder").ConfigureAwait(false))
            {
                return;
            }
            Directory.CreateDirectory(localRoot);
        }
        var walk = new DownloadWalk(context, engine, plan, progress, Path.GetFullPath(localRoot));
        try
        {
            walk.Lister = await engine.OpenListingAsync(guestRoot, walk.Budget, ct).ConfigureAwait(false);
            await DownloadFolderContentAsync(walk, guestRoot, walk.Root, string.Empty, 1).ConfigureAwait(false);
        }
        catch (TransferException ex) when (ex.IsListingFailure)
        {
            throw new TransferException(ex.Kind,
                $"{context.Session.TargetName}: {ex.Message} Nothing more was copied from '{guestRoot}'.", GuestTarget(context, guestRoot), ex);
        }
    }

    /// <summary>One recursive copy out of the guest: where it may write, and how much listing it may take.</summary>
    private sealed class DownloadWalk
    {
        public DownloadWalk(GuestOperationContext context, GuestTransferEngine engine, Plan plan, TransferProgress progress, string root)
        {
            Context = context;
            Engine = engine;
            Plan = plan;
            Progress = progress;
            Root = root;
        }

        public GuestOperationContext Context { get; }

        public GuestTransferEngine Engine { get; }

        public Plan Plan { get; }

        public TransferProgress Progress { get; }

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
    private static async Task DownloadFolderContentAsync(DownloadWalk walk, string guestFolder, string localFolder, string relative, int depth)
    {
        var context = walk.Context;
        var engine = walk.Engine;
        GuestFolderPlan folder = await engine.PlanFolderAsync(walk.Lister, guestFolder, localFolder, relative, depth, walk.Root, context.CancellationToken).ConfigureAwait(false);
        foreach (var rejected in folder.Rejected)
        {
            context.WriteError(ErrorTable.ToErrorRecord(rejected, rejected.Target));
        }
        foreach (var (e, local) in folder.Files)
        {
            string guest = engine.Join(guestFolder, e.Name);
            await GuardAsync(context, guest, () =>
            {
                folder.Claim(e.Name, local);
                return DownloadFileAsync(context, engine, walk.Plan, guest, local, e.Size, walk.Progress, guestNamed: true);
            }, insideWalk: true).ConfigureAwait(false);
        }
        foreach (var (e, local) in folder.Folders)
        {
            string guest = engine.Join(guestFolder, e.Name);
            await GuardAsync(context, guest, async () =>
            {
                folder.Claim(e.Name, local);
                if (await EnsureLocalFolderAsync(context, local).ConfigureAwait(false))
                {
                    await DownloadFolderContentAsync(walk, guest, local, relative.Length == 0 ? e.Name : relative + "/" + e.Name, depth + 1).ConfigureAwait(false);
                }
            }, insideWalk: true).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A folder the guest named, inside the walk: an existing real folder is merged into; a link
    /// is never followed (DestinationIsLink); a new one is created only when ShouldProcess
    /// agrees. False when it was not created (-WhatIf, or No at -Confirm): its content is skipped.
    /// </summary>
    private static async Task<bool> EnsureLocalFolderAsync(GuestOperationContext context, string local)
    {
        if (GuestFolderPlan.LocalFolderExists(local))
        {
            return true;
        }
        if (!await context.ShouldProcessAsync(local, "Create local folder").ConfigureAwait(false))
        {
            return false;
        }
        Directory.CreateDirectory(local);
        return true;
    }

    private static async Task DownloadFileAsync(GuestOperationContext context, GuestTransferEngine engine, Plan plan, string guestPath, string localPath, long size, TransferProgress progress, bool guestNamed = false)
    {
        GuestTransferEngine.CheckDownloadTarget(localPath, plan.Force, guestNamed);
        // Asked before anything is created: under -WhatIf not even the folder appears.
        if (!await context.ShouldProcessAsync(localPath, $"Copy guest file '{GuestTarget(context, guestPath)}' here").ConfigureAwait(false))
        {
            return;
        }
        string name = GuestTransferEngine.LeafName(guestPath);
        TransferResult result = await engine.DownloadAsync(guestPath, localPath, size, plan.Options, progress.For(name), context.CancellationToken).ConfigureAwait(false);
        Completed(context, plan, progress, "GuestToLocal", guestPath, localPath, name, result);
    }
}
