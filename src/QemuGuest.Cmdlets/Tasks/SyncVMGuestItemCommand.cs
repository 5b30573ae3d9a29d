using System;
using System.Diagnostics;
using System.IO;
using System.Management.Automation;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Makes a guest folder match a local folder, or the reverse, moving only the files that changed.</para>
/// <para type="description">With -LocalToGuest the folder -GuestPath in the guest is made to match the
/// local folder -LocalPath; with -GuestToLocal the other way round. Only files whose size, time or
/// content differ are copied: equal size and modification time (to 100 ns) mean the same file;
/// equal size with another time is decided by SHA-256 of both sides (computed in the guest by
/// QemuGuest's agent, or by sha256sum through guest-exec with a stock qemu-ga), and a file found
/// the same is given the source's time so the next sync needs no hash; -Checksum compares SHA-256
/// of every file of equal size whatever its time. Each copied file gets its source's modification
/// time and appears the way Copy-VMGuestFile writes files: a temporary name, then a rename, with the
/// same checks of every name the guest lists (one path component, nothing outside the target).
/// -Delete also removes what the target has and the source has not. Links on either side are
/// never followed, hashed, replaced or deleted: each is skipped with a warning. -WhatIf lists every
/// folder, copy and deletion the sync would make, and makes none. The result is one summary per
/// guest: Copied and Deleted (relative paths), Skipped, Failed, Hashed and BytesMoved. A stock
/// qemu-ga needs guest-exec for listing (find) and hashing (sha256sum) on a Linux guest.</para>
/// <para type="link">Copy-VMGuestFile</para>
/// <para type="link">Get-VMGuestChildItem</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Keep a guest folder in step with a local one">
/// <code>PS C:\&gt; Sync-VMGuestItem -VMName web01, web02 -LocalPath ./site -GuestPath /srv/www/site -LocalToGuest
/// PS C:\&gt; Sync-VMGuestItem -VMName web01, web02 -LocalPath ./site -GuestPath /srv/www/site -LocalToGuest</code>
/// <para>The first run copies what /srv/www/site lacks or holds in another version, in both guests; the
/// second finds every file the same and moves nothing (BytesMoved 0).</para>
/// </example>
/// <example title="Fetch a guest folder, removing local files the guest no longer has">
/// <code>PS C:\&gt; Sync-VMGuestItem -VMName web02 -LocalPath ./site-backup -GuestPath /srv/www/site -GuestToLocal -Delete</code>
/// <para>Makes the local folder site-backup (created when missing) match the guest's /srv/www/site,
/// and deletes the local files and folders that are not in the guest.</para>
/// </example>
/// <example title="See what a sync would do">
/// <code>PS C:\&gt; Set-Content ./site/new.html '&lt;p&gt;new&lt;/p&gt;'
/// PS C:\&gt; Sync-VMGuestItem -VMName web01 -LocalPath ./site -GuestPath /srv/www/site -LocalToGuest -Delete -WhatIf</code>
/// <para>Lists every copy and deletion the sync would make (here new.html would be copied), and makes none.</para>
/// </example>
/// <example title="Compare every file by content">
/// <code>PS C:\&gt; Sync-VMGuestItem -VMName web01 -LocalPath ./site -GuestPath /srv/www/site -LocalToGuest -Checksum | Format-List Copied, Skipped, Hashed, BytesMoved</code>
/// <para>Hashes every file of equal size on both sides instead of trusting equal size and time, and
/// copies the ones whose SHA-256 differs.</para>
/// </example>
[Cmdlet(VerbsData.Sync, "VMGuestItem", DefaultParameterSetName = SessionParameterSet,
    SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestSyncResult))]
public sealed class SyncVMGuestItemCommand : GuestCmdlet
{
    /// <summary>The local folder: the source with -LocalToGuest, the target with -GuestToLocal (created when missing).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string LocalPath { get; set; } = string.Empty;

    /// <summary>The guest folder, an absolute guest path: the target with -LocalToGuest (created when missing), the source with -GuestToLocal.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(GuestPathCompleter))]
    public string GuestPath { get; set; } = string.Empty;

    /// <summary>Make the guest folder match the local one.</summary>
    [Parameter]
    public SwitchParameter LocalToGuest { get; set; }

    /// <summary>Make the local folder match the guest's.</summary>
    [Parameter]
    public SwitchParameter GuestToLocal { get; set; }

    /// <summary>Also remove the files and folders the target has and the source has not (never a link).</summary>
    [Parameter]
    public SwitchParameter Delete { get; set; }

    /// <summary>Compare SHA-256 of every file of equal size on both sides, instead of taking equal size and modification time as the same file.</summary>
    [Parameter]
    public SwitchParameter Checksum { get; set; }

    /// <summary>Compare SHA-256 of source and destination after each copied file.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    /// <summary>Bytes per guest-file-read/-write, as for Copy-VMGuestFile (default 60 KiB).</summary>
    [Parameter]
    [ValidateRange(4096, GuestFileIO.StockMaxReadCount)]
    public int ChunkSize { get; set; } = AgentProfile.DefaultChunkSize;

    protected override GuestOperation? CreateOperation()
    {
        if (LocalToGuest.IsPresent == GuestToLocal.IsPresent)
        {
            ThrowTerminatingError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                "Give exactly one of -LocalToGuest or -GuestToLocal.", null));
        }
        if (!GuestTransferEngine.IsAbsolute(GuestPath))
        {
            WriteError(ErrorTable.RelativeGuestPathError(GuestPath));
            return null;
        }
        string local = SessionState.Path.GetUnresolvedProviderPathFromPSPath(LocalPath);
        var request = new GuestSyncRequest
        {
            ToGuest = LocalToGuest.IsPresent,
            LocalRoot = local.Length > 1 ? local.TrimEnd('/', '\\') : local,
            GuestRoot = GuestPath.Length > 1 && !GuestPath.EndsWith(":\\", StringComparison.Ordinal) ? GuestPath.TrimEnd('/', '\\') : GuestPath,
            Delete = Delete.IsPresent,
            Compare = Checksum.IsPresent ? GuestSyncCompare.Checksum : GuestSyncCompare.SizeAndTime,
            Options = new TransferOptions { ChunkSize = ChunkSize, Verify = Verify.IsPresent },
        };
        if (request.ToGuest && !Directory.Exists(request.LocalRoot))
        {
            WriteError(ErrorTable.Create(ErrorTable.SourceNotFound, ErrorCategory.ObjectNotFound,
                $"Cannot find the local folder '{request.LocalRoot}'.", request.LocalRoot));
            return null;
        }
        bool whatIf = WhatIfRequested;
        return context => SyncAsync(context, request, whatIf);
    }

    private static async Task SyncAsync(GuestOperationContext context, GuestSyncRequest request, bool whatIf)
    {
        var clock = Stopwatch.StartNew();
        var engine = await GuestTransferEngine.OpenAsync(context.Channel, context.Session.Facts, context.CallOptions, context.Session.TargetName, context.CancellationToken).ConfigureAwait(false);
        var progress = new TransferProgress(context, $"Sync-VMGuestItem {(request.ToGuest ? "to" : "from")} {context.Session.TargetName}");
        GuestSyncSummary summary;
        try
        {
            summary = await GuestSync.RunAsync(engine, request, new TransferCallbacks(context, progress, passThru: false, whatIf), context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            progress.Complete();
        }
        context.WriteObject(new GuestSyncResult
        {
            VMName = context.Session.TargetName,
            Direction = request.ToGuest ? "LocalToGuest" : "GuestToLocal",
            LocalPath = request.LocalRoot,
            GuestPath = request.GuestRoot,
            Copied = summary.Copied.ToArray(),
            Deleted = summary.Deleted.ToArray(),
            Skipped = summary.Skipped,
            Hashed = summary.Hashed,
            BytesMoved = summary.BytesMoved,
            Failed = summary.Failed,
            Duration = clock.Elapsed,
        });
    }
}
