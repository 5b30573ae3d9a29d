using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Copies files and folders into a guest or out of it, through its guest agent.</para>
/// <para type="description">With -LocalToGuest, -Source names local files (wildcards allowed;
/// -LiteralPath for exact names) and -Destination an absolute guest path; with -GuestToLocal the other way
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
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web01, web02 -LocalToGuest ./site /srv/www/ -Recurse -Force
/// PS C:\&gt; Copy-VMGuestFile -VMName web01 -GuestToLocal /srv/www/site ./site-back -Recurse</code>
/// <para>Copies the folder site with everything in it into /srv/www of both guests (up to
/// -ThrottleLimit at a time; -Force replaces the files of an earlier copy), then copies web01's
/// copy back.</para>
/// </example>
/// <example title="Copy in the background">
/// <code>PS C:\&gt; $job = Copy-VMGuestFile -VMName web01, web02 -LocalToGuest ./site /srv/www/ -Recurse -Force -PassThru -AsJob
/// PS C:\&gt; $job | Wait-Job -Timeout 300 | Receive-Job | Format-Table VMName, Destination, Bytes</code>
/// <para>Starts the copy as a job and returns at once; Wait-Job waits for it (here at most five
/// minutes) and Receive-Job gives one result per copied file.</para>
/// </example>
/// <example title="See what would be copied">
/// <code>PS C:\&gt; Copy-VMGuestFile -VMName web01 -LocalToGuest ./site /srv/www/ -Recurse -Force -WhatIf</code>
/// <para>Lists each file the copy would write (or replace), and writes none.</para>
/// </example>
[Cmdlet(VerbsCommon.Copy, "VMGuestFile", DefaultParameterSetName = SessionParameterSet,
    SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestFileCopyResult), typeof(GuestJob))]
public sealed class CopyVMGuestFileCommand : GuestCmdlet
{
    /// <summary>What to copy: local paths with wildcards (-LocalToGuest) or guest paths (-GuestToLocal).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(GuestPathCompleter))]
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
    [ArgumentCompleter(typeof(GuestPathCompleter))]
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
    /// write to fit its 64 MiB message cap); keep it at or below 7 MiB through libvirt. With
    /// QemuGuest's agent the bytes travel as binary frames of the agent's size instead (the bulk
    /// mode, in turns that share the VM's channel) and this does not apply, unless
    /// QEMUGUEST_BULK=0 is set in the session's environment.
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

    /// <summary>
    /// Runs the copy as a background job in this process and returns the job at once:
    /// Receive-Job gives its results and errors, Wait-Job waits for it, Stop-Job stops it like
    /// Ctrl+C. -WhatIf and -Confirm are answered for the job as a whole, before it starts.
    /// </summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    protected override bool AsJobRequested => AsJob.IsPresent;

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

        var request = new GuestCopyRequest
        {
            ToGuest = LocalToGuest.IsPresent,
            Recurse = Recurse.IsPresent,
            Options = new TransferOptions { ChunkSize = ChunkSize, Force = Force.IsPresent, Verify = Verify.IsPresent, MaxBytes = MaxBytes },
        };
        bool passThru = PassThru.IsPresent;

        if (request.ToGuest)
        {
            foreach (string s in sources!)
            {
                ResolveLocalSource(s, literal, request.LocalSources);
            }
            if (request.LocalSources.Count == 0)
            {
                return null;
            }
            if (!GuestTransferEngine.IsAbsolute(Destination))
            {
                WriteError(ErrorTable.RelativeGuestPathError(Destination));
                return null;
            }
            request.Destination = Destination;
        }
        else
        {
            foreach (string s in sources!)
            {
                if (GuestTransferEngine.IsAbsolute(s))
                {
                    request.GuestSources.Add(s);
                }
                else if (QemuGuestDrivePath(s) is { } onDrive)
                {
                    request.GuestSources.Add(onDrive);
                }
                else
                {
                    WriteError(ErrorTable.RelativeGuestPathError(s));
                }
            }
            if (request.GuestSources.Count == 0)
            {
                return null;
            }
            string local = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination);
            if (EndsWithSeparator(Destination) && !EndsWithSeparator(local))
            {
                local += Path.DirectorySeparatorChar;
            }
            request.Destination = local;
        }

        bool whatIf = WhatIfRequested;
        return context => CopyAsync(context, request, passThru, whatIf);
    }

    private void ResolveLocalSource(string source, bool literal, List<GuestCopySource> items)
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
                items.Add(new GuestCopySource(p, false));
            }
            else if (Directory.Exists(p))
            {
                if (!Recurse.IsPresent)
                {
                    WriteError(ErrorTable.Create(ErrorTable.SourceIsDirectory, ErrorCategory.InvalidArgument,
                        $"'{p}' is a folder: add -Recurse to copy it with its content.", p));
                    continue;
                }
                items.Add(new GuestCopySource(p, true));
            }
            else
            {
                WriteError(ErrorTable.Create(ErrorTable.SourceNotFound, ErrorCategory.ObjectNotFound,
                    $"Cannot find the local file '{p}'.", p));
            }
        }
    }

    /// <summary>
    /// The guest path behind a path on a QemuGuest drive (web1:/etc/hosts, or the PSPath of an
    /// item from Get-Item/Get-ChildItem on one, which binds to -LiteralPath); null for others.
    /// </summary>
    private string? QemuGuestDrivePath(string path)
    {
        if (path.IndexOf(':') < 0)
        {
            return null;
        }
        try
        {
            string guest = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo provider, out _);
            return provider.ImplementingType == typeof(Provider.QemuGuestProvider) && GuestTransferEngine.IsAbsolute(guest) ? guest : null;
        }
        catch (Exception ex) when (ex is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    private static bool EndsWithSeparator(string path) => path.EndsWith("/", StringComparison.Ordinal) || path.EndsWith("\\", StringComparison.Ordinal);

    private static async Task CopyAsync(GuestOperationContext context, GuestCopyRequest request, bool passThru, bool whatIf)
    {
        var engine = await GuestTransferEngine.OpenAsync(context.Channel, context.Session.Facts, context.CallOptions, context.Session.TargetName, context.CancellationToken).ConfigureAwait(false);
        var progress = new TransferProgress(context, $"Copy-VMGuestFile {(request.ToGuest ? "to" : "from")} {context.Session.TargetName}");
        try
        {
            await GuestCopy.RunAsync(engine, request, new TransferCallbacks(context, progress, passThru, whatIf), context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            progress.Complete();
        }
    }
}
