using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Management.Automation;
using System.Security.Cryptography;
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
/// </summary>
[Cmdlet(VerbsCommon.Copy, "VMGuestFile", DefaultParameterSetName = SessionParameterSet,
    SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestFileCopyResult))]
public sealed class CopyVMGuestFileCommand : GuestCmdlet
{
    private const int Depth = 4;

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

    /// <summary>The read limit for a guest file whose reported size is 0, without -MaxBytes.</summary>
    internal const long UnknownSizeLimit = 64L * 1024 * 1024;

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
        public bool Verify;
        public int Chunk;
        public long MaxBytes;
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
            Verify = Verify.IsPresent,
            Chunk = ChunkSize,
            MaxBytes = MaxBytes,
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

    private static string TempSuffix() => ".qgtmp-" + Guid.NewGuid().ToString("N").Substring(0, 8);

    // ------------------------------------------------------------------ local -> guest

    private static async Task UploadAllAsync(GuestOperationContext context, Plan plan)
    {
        CancellationToken ct = context.CancellationToken;
        var profile = await AgentProfile.GetAsync(context.Channel, context.CallOptions, ct).ConfigureAwait(false);
        var fs = new GuestFs(context.Channel, profile, context.CallOptions);
        var progress = new TransferProgress(context, $"Copy-VMGuestFile to {context.Session.TargetName}");
        if (!fs.CanRename)
        {
            context.WriteWarning("This agent can neither rename files nor run programs (guest-exec): files are written in place, so a failed copy leaves a truncated destination.");
        }
        try
        {
            GuestEntry? dest = await fs.StatAsync(plan.Destination, ct).ConfigureAwait(false);
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
                    await fs.MkdirAsync(plan.Destination.TrimEnd('/', '\\'), true, ct).ConfigureAwait(false);
                }
            }

            foreach (var item in plan.LocalItems)
            {
                string target = container ? fs.Join(plan.Destination, Path.GetFileName(item.Path.TrimEnd(Path.DirectorySeparatorChar))) : plan.Destination;
                if (!item.IsDirectory)
                {
                    await GuardAsync(context, target, () => UploadFileAsync(context, fs, plan, item.Path, target, progress)).ConfigureAwait(false);
                    continue;
                }

                await GuardAsync(context, target, () => UploadFolderAsync(context, fs, plan, item.Path, target, progress)).ConfigureAwait(false);
            }
        }
        finally
        {
            progress.Complete();
        }
    }

    private static async Task UploadFolderAsync(GuestOperationContext context, GuestFs fs, Plan plan, string localRoot, string guestRoot, TransferProgress progress)
    {
        CancellationToken ct = context.CancellationToken;
        GuestEntry? root = await fs.StatAsync(guestRoot, ct).ConfigureAwait(false);
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
                await fs.MkdirAsync(guestRoot, plan.Force, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (GuestErrorText.IsMissing(ex) || ex is TransferException { Kind: TransferFailureKind.DestinationFolderNotFound })
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The guest folder '{GuestFs.Parent(guestRoot)}' does not exist: create it first or add -Force.", guestRoot, ex);
            }
        }

        var dirs = new List<string>();
        var files = new List<string>();
        Walk(localRoot, string.Empty, dirs, files);
        foreach (string rel in dirs)
        {
            string guestDir = fs.Join(guestRoot, rel);
            await GuardAsync(context, guestDir, async () =>
            {
                if (await context.ShouldProcessAsync(GuestTarget(context, guestDir), "Create guest folder").ConfigureAwait(false))
                {
                    await fs.MkdirAsync(guestDir, true, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }
        foreach (string rel in files)
        {
            string local = Path.Combine(localRoot, rel.Replace('/', Path.DirectorySeparatorChar));
            string guest = fs.Join(guestRoot, rel);
            await GuardAsync(context, guest, () => UploadFileAsync(context, fs, plan, local, guest, progress)).ConfigureAwait(false);
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
        catch (GuestTaskException ex)
        {
            // guest-exec's own failures (no guest-exec, a tool that ran too long): this item only.
            context.WriteError(ErrorTable.ToErrorRecord(ex, target));
        }
        catch (QgaCommandException ex)
        {
            context.WriteError(ErrorTable.ToErrorRecord(ex, target));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            context.WriteError(ErrorTable.ToErrorRecord(MapLocal(ex, target), target));
        }
    }

    private static TransferException MapLocal(Exception ex, string target) => ex switch
    {
        UnauthorizedAccessException => new TransferException(TransferFailureKind.PermissionDenied, $"Local access denied: {ex.Message}", target, ex),
        DirectoryNotFoundException => new TransferException(TransferFailureKind.DestinationFolderNotFound, ex.Message, target, ex),
        FileNotFoundException => new TransferException(TransferFailureKind.SourceNotFound, ex.Message, target, ex),
        // A guest name longer than this host allows (NAME_MAX, MAX_PATH) fails that item only:
        // it is not an interruption of the transfer.
        PathTooLongException => new TransferException(TransferFailureKind.LocalPathTooLong, $"The local path is too long for this system: {ex.Message}", target, ex),
        IOException io when IsLocalDiskFull(io) => new TransferException(TransferFailureKind.DiskFull, $"The local disk is full: {ex.Message}", target, ex),
        // EROFS: as much "cannot write here" as EACCES, and nothing to do with the agent.
        IOException io when io.HResult == 30 || io.Message.IndexOf("Read-only file system", StringComparison.OrdinalIgnoreCase) >= 0
            => new TransferException(TransferFailureKind.PermissionDenied, $"Local destination not writable: {ex.Message}", target, ex),
        _ => new TransferException(TransferFailureKind.LocalIOFailed, ex.Message, target, ex),
    };

    private static bool IsLocalDiskFull(IOException ex) =>
        ex.HResult == 28 || ex.HResult == unchecked((int)0x80070070) || ex.HResult == unchecked((int)0x80070027)
        || ex.Message.IndexOf("No space left", StringComparison.OrdinalIgnoreCase) >= 0;

    /// <summary>Maps a failure while moving data to a stable ErrorId.</summary>
    private static Exception MapTransfer(Exception ex, string target, bool guestIsDestination, string? leftOver)
    {
        if (ex is TransferException or GuestTaskException or OperationCanceledException)
        {
            return ex;
        }
        if (ex is QgaDisconnectedException or QgaTimeoutException or QgaProtocolException || GuestErrorText.IsRelayInterruption(ex))
        {
            return new TransferException(TransferFailureKind.TransferInterrupted,
                $"The copy to '{target}' was interrupted: {ex.Message}" + (leftOver is null ? " The destination was not touched." : $" The destination was not touched; the temporary file '{leftOver}' may remain."),
                target, ex);
        }
        if (GuestErrorText.IsDiskFull(ex))
        {
            return new TransferException(TransferFailureKind.DiskFull, $"The guest is out of space writing '{target}': {ex.Message}", target, ex);
        }
        if (GuestErrorText.IsPermission(ex))
        {
            return new TransferException(TransferFailureKind.PermissionDenied, $"Permission denied in the guest for '{target}': {ex.Message}", target, ex);
        }
        if (GuestErrorText.IsDirectoryError(ex))
        {
            return guestIsDestination
                ? new TransferException(TransferFailureKind.DestinationIsDirectory, $"'{target}' is a folder in the guest.", target, ex)
                : new TransferException(TransferFailureKind.SourceIsDirectory, $"'{target}' is a folder in the guest: add -Recurse to copy it with its content.", target, ex);
        }
        if (GuestErrorText.IsMissing(ex))
        {
            return guestIsDestination
                ? new TransferException(TransferFailureKind.DestinationFolderNotFound, $"The guest folder of '{target}' does not exist: create it first or add -Force.", target, ex)
                : new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the guest file '{target}'.", target, ex);
        }
        if (ex is IOException or UnauthorizedAccessException)
        {
            return MapLocal(ex, target);
        }
        return ex;
    }

    private static async Task UploadFileAsync(GuestOperationContext context, GuestFs fs, Plan plan, string localPath, string guestPath, TransferProgress progress)
    {
        CancellationToken ct = context.CancellationToken;
        GuestEntry? existing = await fs.StatAsync(guestPath, ct).ConfigureAwait(false);
        if (existing?.Kind == GuestEntryKind.Directory)
        {
            throw new TransferException(TransferFailureKind.DestinationIsDirectory, $"'{guestPath}' is a folder in the guest.", guestPath);
        }
        if (existing is not null && !plan.Force)
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"The guest file '{guestPath}' exists: add -Force to overwrite it.", guestPath);
        }
        if (!await context.ShouldProcessAsync(GuestTarget(context, guestPath), $"Copy '{localPath}' into the guest").ConfigureAwait(false))
        {
            return;
        }

        bool atomic = fs.CanRename;
        string writePath = atomic ? guestPath + TempSuffix() : guestPath;
        var clock = Stopwatch.StartNew();
        using var local = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        long total = local.Length;
        // The source's permission bits, set on the temporary file before any data reaches it
        // (never 0666 like the stock agent's new files): a 0700 root script stays private.
        int? mode = atomic && fs.CanSetMode ? LocalMode(localPath) : null;
        long handle = await OpenForWriteAsync(context, fs, plan, writePath, guestPath, mode).ConfigureAwait(false);
        bool open = true;
        bool done = false;
        long sent = 0;
        using var hash = plan.Verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        try
        {
            int chunk = fs.Profile.WriteChunk(plan.Chunk);
            // The stock qemu-ga (7.2) on a real virtio-serial port loses replies to pipelined
            // guest-file-write requests (its log shows every reply sent; only the last reaches
            // the host: tests/e2e found it). Over a unix socket it does not, but a VM is where it
            // runs, so writes to it go one at a time, like any plain client's.
            int depth = fs.Profile.IsOurs ? Depth : 1;
            var free = new Stack<byte[]>();
            var pending = new Queue<(Task<long> Task, int Length, byte[] Buffer)>();
            try
            {
                for (int i = 0; i <= depth; i++)
                {
                    free.Push(ArrayPool<byte>.Shared.Rent(chunk));
                }
                while (true)
                {
                    if (pending.Count == depth)
                    {
                        await CompleteWriteAsync(pending.Dequeue(), free, guestPath).ConfigureAwait(false);
                    }
                    byte[] buffer = free.Pop();
                    int n = await ReadFullAsync(local, buffer, chunk, ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        free.Push(buffer);
                        break;
                    }
                    hash?.AppendData(buffer, 0, n);
                    pending.Enqueue((GuestFileIO.WriteAsync(context.Channel, handle, new ReadOnlyMemory<byte>(buffer, 0, n), context.CallOptions, ct), n, buffer));
                    sent += n;
                    progress.Report(Path.GetFileName(localPath), sent, total, clock.Elapsed);
                }
                while (pending.Count > 0)
                {
                    await CompleteWriteAsync(pending.Dequeue(), free, guestPath).ConfigureAwait(false);
                }
            }
            finally
            {
                // Buffers still referenced by unfinished writes are dropped to the GC, never reused.
                foreach (var b in free)
                {
                    ArrayPool<byte>.Shared.Return(b);
                }
                while (pending.Count > 0)
                {
                    var p = pending.Dequeue();
                    try
                    {
                        await p.Task.ConfigureAwait(false);
                    }
                    catch
                    {
                        // The first failure is the one reported.
                    }
                }
            }

            await fs.Commands.GuestFileFlushAsync(handle, context.CallOptions, ct).ConfigureAwait(false);
            // Only a close that completed releases the handle: if it is cancelled on the way
            // (Ctrl+C right here), the finally block's bounded close must still run.
            await fs.Commands.GuestFileCloseAsync(handle, context.CallOptions, ct).ConfigureAwait(false);
            open = false;

            string? digest = null;
            if (hash is not null)
            {
                digest = ToHex(hash.GetHashAndReset());
                string guestDigest = await fs.HashAsync(writePath, ct).ConfigureAwait(false)
                    ?? await HashByReadingAsync(context, fs, writePath, plan.Chunk, sent).ConfigureAwait(false);
                if (!string.Equals(digest, guestDigest, StringComparison.OrdinalIgnoreCase))
                {
                    throw new TransferException(TransferFailureKind.VerifyFailed,
                        $"Verification failed for '{guestPath}': SHA-256 {digest} here, {guestDigest} in the guest.", guestPath);
                }
            }
            if (atomic)
            {
                await fs.RenameAsync(writePath, guestPath, true, ct).ConfigureAwait(false);
            }
            done = true;
            Completed(context, plan, progress, "LocalToGuest", localPath, guestPath, Path.GetFileName(localPath), sent, total, clock, digest, atomic);
        }
        catch (Exception ex)
        {
            throw MapTransfer(ex, guestPath, true, atomic ? writePath : null);
        }
        finally
        {
            await FinishAsync(fs, handle, open, done, () => atomic ? fs.RemoveQuietlyAsync(writePath) : TruncateQuietlyAsync(fs, writePath)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Both directions end here once the destination is in place: the last progress update and,
    /// with -PassThru, the result object.
    /// </summary>
    private static void Completed(GuestOperationContext context, Plan plan, TransferProgress progress, string direction, string source, string destination,
        string progressName, long bytes, long size, Stopwatch clock, string? digest, bool atomic)
    {
        progress.Report(progressName, bytes, size, clock.Elapsed, force: true);
        if (plan.PassThru)
        {
            context.WriteObject(new GuestFileCopyResult
            {
                VMName = context.Session.TargetName,
                Direction = direction,
                Source = source,
                Destination = destination,
                Bytes = bytes,
                Duration = clock.Elapsed,
                Hash = digest,
                Verified = digest is not null,
                Atomic = atomic,
            });
        }
    }

    /// <summary>
    /// Both directions run this whatever happened (success, failure, Ctrl+C): a guest handle
    /// still open is closed (bounded, even after cancellation), and a destination that did not
    /// complete is discarded, so no partial file is ever presented as complete.
    /// </summary>
    private static async Task FinishAsync(GuestFs fs, long handle, bool open, bool done, Func<Task> discardDestination)
    {
        if (open)
        {
            await fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
        if (!done)
        {
            await discardDestination().ConfigureAwait(false);
        }
    }

    private static async Task CompleteWriteAsync((Task<long> Task, int Length, byte[] Buffer) write, Stack<byte[]> free, string guestPath)
    {
        long written = await write.Task.ConfigureAwait(false);
        if (written != write.Length)
        {
            throw new TransferException(TransferFailureKind.DiskFull,
                $"The guest wrote {written} of {write.Length} bytes to '{guestPath}' (disk full?).", guestPath);
        }
        free.Push(write.Buffer);
    }

    private static async Task<long> OpenForWriteAsync(GuestOperationContext context, GuestFs fs, Plan plan, string writePath, string guestPath, int? mode)
    {
        CancellationToken ct = context.CancellationToken;
        try
        {
            return await OpenOnceAsync(context, fs, writePath, mode).ConfigureAwait(false);
        }
        catch (Exception ex) when (GuestErrorText.IsMissing(ex) || ex is TransferException { Kind: TransferFailureKind.DestinationFolderNotFound })
        {
            string? parent = GuestFs.Parent(guestPath);
            if (!plan.Force || parent is null)
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The guest folder '{parent}' does not exist: create it first or add -Force.", guestPath, ex);
            }
            await fs.MkdirAsync(parent, true, ct).ConfigureAwait(false);
            try
            {
                return await OpenOnceAsync(context, fs, writePath, mode).ConfigureAwait(false);
            }
            catch (QgaCommandException again)
            {
                throw MapTransfer(again, guestPath, true, null);
            }
        }
        catch (QgaCommandException ex)
        {
            throw MapTransfer(ex, guestPath, true, null);
        }
    }

    /// <summary>
    /// Opens the file to write, with its final permission bits in place before the first byte:
    /// stock agent, created private by a shell first (guest-file-open then keeps its mode);
    /// our agent, set-attributes right after it created the file. A file this made is removed
    /// again when a later step fails.
    /// </summary>
    private static async Task<long> OpenOnceAsync(GuestOperationContext context, GuestFs fs, string writePath, int? mode)
    {
        CancellationToken ct = context.CancellationToken;
        bool made = false;
        try
        {
            if (mode is int m && fs.CreatesBeforeOpen)
            {
                await fs.CreatePrivateAsync(writePath, m, ct).ConfigureAwait(false);
                made = true;
            }
            long handle = await fs.Commands.GuestFileOpenAsync(writePath, "wb", context.CallOptions, ct).ConfigureAwait(false);
            made = true;
            if (mode is int bits && !fs.CreatesBeforeOpen)
            {
                try
                {
                    await fs.SetModeAsync(writePath, bits, ct).ConfigureAwait(false);
                }
                catch
                {
                    await fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
                    throw;
                }
            }
            return handle;
        }
        catch when (made)
        {
            await fs.RemoveQuietlyAsync(writePath).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The permission bits a copy into the guest gives its file: the local file's rwx bits
    /// (setuid, setgid and sticky are not carried over), or 0644 from Windows, which has none.
    /// </summary>
    internal static int LocalMode(string path)
    {
        const int Default = 0x1A4; // 0644
        if (GuestNames.HostIsWindows)
        {
            return Default;
        }
        // File.GetUnixFileMode exists from .NET 7 (PowerShell 7.3+); this assembly targets
        // netstandard2.0, so it is looked up rather than referenced.
        var getMode = typeof(File).GetMethod("GetUnixFileMode", new[] { typeof(string) });
        if (getMode is null)
        {
            return Default;
        }
        try
        {
            return Convert.ToInt32(getMode.Invoke(null, new object[] { path }), System.Globalization.CultureInfo.InvariantCulture) & 0x1FF;
        }
        catch (System.Reflection.TargetInvocationException)
        {
            return Default;
        }
    }

    private static async Task TruncateQuietlyAsync(GuestFs fs, string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            long h = await fs.Commands.GuestFileOpenAsync(path, "wb", new QgaCallOptions { Timeout = TimeSpan.FromSeconds(5) }, cts.Token).ConfigureAwait(false);
            await fs.CloseQuietlyAsync(h).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QgaException or OperationCanceledException)
        {
        }
    }

    private static async Task<int> ReadFullAsync(Stream stream, byte[] buffer, int count, CancellationToken ct)
    {
        int total = 0;
        while (total < count)
        {
            int n = await stream.ReadAsync(buffer, total, count - total, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private static string ToHex(byte[] bytes)
    {
        var c = new char[bytes.Length * 2];
        const string digits = "0123456789abcdef";
        for (int i = 0; i < bytes.Length; i++)
        {
            c[2 * i] = digits[bytes[i] >> 4];
            c[(2 * i) + 1] = digits[bytes[i] & 15];
        }
        return new string(c);
    }

    // ------------------------------------------------------------------ guest -> local

    /// <summary>
    /// Streams a guest file through <paramref name="sink"/> in order, with up to Depth reads in
    /// flight (each into its own buffer). Returns the byte count.
    /// </summary>
    private static async Task<long> ReadGuestAsync(GuestOperationContext context, long handle, int chunk, long limit, Func<long, Exception> tooMuch, Func<byte[], int, Task> sink)
    {
        CancellationToken ct = context.CancellationToken;
        var free = new Stack<byte[]>();
        var pending = new Queue<(Task<GuestReadResult> Task, byte[] Buffer)>();
        long total = 0;
        bool end = false;
        try
        {
            for (int i = 0; i < Depth; i++)
            {
                free.Push(ArrayPool<byte>.Shared.Rent(chunk));
            }
            while (true)
            {
                while (!end && free.Count > 0)
                {
                    byte[] b = free.Pop();
                    pending.Enqueue((GuestFileIO.ReadAsync(context.Channel, handle, new Memory<byte>(b, 0, chunk), context.CallOptions, ct), b));
                }
                if (pending.Count == 0)
                {
                    return total;
                }
                var (task, buffer) = pending.Dequeue();
                GuestReadResult r = await task.ConfigureAwait(false);
                if (r.Count > 0)
                {
                    // Checked before the bytes go anywhere: the sink never holds more than the limit.
                    if (total + r.Count > limit)
                    {
                        throw tooMuch(total + r.Count);
                    }
                    await sink(buffer, r.Count).ConfigureAwait(false);
                    total += r.Count;
                }
                if (r.Count == 0 || r.Eof)
                {
                    end = true;
                }
                free.Push(buffer);
            }
        }
        finally
        {
            foreach (var b in free)
            {
                ArrayPool<byte>.Shared.Return(b);
            }
            while (pending.Count > 0)
            {
                try
                {
                    await pending.Dequeue().Task.ConfigureAwait(false);
                }
                catch
                {
                }
            }
        }
    }

    private static async Task<string> HashByReadingAsync(GuestOperationContext context, GuestFs fs, string guestPath, int chunkWish, long expected)
    {
        long handle = await fs.Commands.GuestFileOpenAsync(guestPath, "rb", context.CallOptions, context.CancellationToken).ConfigureAwait(false);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            // Reading back what was just written: more bytes than that cannot hash equal.
            await ReadGuestAsync(context, handle, fs.Profile.ReadChunk(chunkWish), expected,
                got => new TransferException(TransferFailureKind.VerifyFailed, $"Verification failed for '{guestPath}': the guest file holds more than the {expected} bytes copied.", guestPath),
                (b, n) =>
            {
                hash.AppendData(b, 0, n);
                return Task.CompletedTask;
            }).ConfigureAwait(false);
            return ToHex(hash.GetHashAndReset());
        }
        finally
        {
            await fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    private static async Task DownloadAllAsync(GuestOperationContext context, Plan plan)
    {
        CancellationToken ct = context.CancellationToken;
        var profile = await AgentProfile.GetAsync(context.Channel, context.CallOptions, ct).ConfigureAwait(false);
        var fs = new GuestFs(context.Channel, profile, context.CallOptions);
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
                string target = container ? Path.Combine(plan.Destination, GuestFs.LeafName(source)) : plan.Destination;
                await GuardAsync(context, source, async () =>
                {
                    GuestEntry? entry = await fs.StatAsync(source, ct).ConfigureAwait(false);
                    if (entry is null)
                    {
                        throw new TransferException(TransferFailureKind.SourceNotFound, $"Cannot find the guest file '{source}'.", source);
                    }
                    if (entry.Value.Kind != GuestEntryKind.Directory)
                    {
                        await DownloadFileAsync(context, fs, plan, source, target, entry.Value.Size, progress).ConfigureAwait(false);
                        return;
                    }
                    if (!plan.Recurse)
                    {
                        throw new TransferException(TransferFailureKind.SourceIsDirectory,
                            $"'{source}' is a folder in the guest: add -Recurse to copy it with its content.", source);
                    }
                    await DownloadFolderAsync(context, fs, plan, source, target, progress).ConfigureAwait(false);
                }).ConfigureAwait(false);
            }
        }
        finally
        {
            progress.Complete();
        }
    }

    private static async Task DownloadFolderAsync(GuestOperationContext context, GuestFs fs, Plan plan, string guestRoot, string localRoot, TransferProgress progress)
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
        var walk = new DownloadWalk(context, fs, plan, progress, Path.GetFullPath(localRoot));
        try
        {
            walk.Lister = await fs.OpenListingAsync(guestRoot, walk.Budget, ct).ConfigureAwait(false);
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
        public DownloadWalk(GuestOperationContext context, GuestFs fs, Plan plan, TransferProgress progress, string root)
        {
            Context = context;
            Fs = fs;
            Plan = plan;
            Progress = progress;
            Root = root;
        }

        public GuestOperationContext Context { get; }

        public GuestFs Fs { get; }

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
        var fs = walk.Fs;
        List<GuestListEntry> entries = await walk.Lister.ListAsync(guestFolder, relative, depth, context.CancellationToken).ConfigureAwait(false);

        var seen = new Dictionary<string, int>(GuestNames.HostComparer);
        foreach (var e in entries)
        {
            if (e.Kind != GuestEntryKind.Other)
            {
                seen[e.Name] = seen.TryGetValue(e.Name, out int n) ? n + 1 : 1;
            }
        }

        var files = new List<(GuestListEntry Entry, string Local)>();
        var folders = new List<(GuestListEntry Entry, string Local)>();
        foreach (var e in entries)
        {
            // Links, devices, FIFOs and sockets are not copied (as before): only their names
            // would reach the host, and they do not.
            if (e.Kind == GuestEntryKind.Other)
            {
                continue;
            }
            string shown = PathComponent.Printable(e.Name);
            string target = GuestTarget(context, fs.Join(guestFolder, shown));
            string? problem = GuestNames.Problem(e.Name);
            if (problem is not null)
            {
                context.WriteError(ErrorTable.ToErrorRecord(new TransferException(TransferFailureKind.InvalidGuestName,
                    $"{context.Session.TargetName} listed '{shown}' in '{guestFolder}', which is not a single file name: the name {problem}. It was not copied.", target), target));
                continue;
            }
            if (seen[e.Name] > 1)
            {
                context.WriteError(ErrorTable.ToErrorRecord(new TransferException(TransferFailureKind.DuplicateGuestName,
                    $"{context.Session.TargetName} listed '{shown}' in '{guestFolder}' more than once"
                    + (GuestNames.HostFoldsCase ? " (names that differ only in case are one name on this host)" : string.Empty)
                    + ": none of them was copied.", target), target));
                continue;
            }
            string? local = GuestNames.JoinUnder(walk.Root, localFolder, e.Name);
            if (local is null)
            {
                context.WriteError(ErrorTable.ToErrorRecord(new TransferException(TransferFailureKind.DestinationOutsideRoot,
                    $"{context.Session.TargetName} listed '{shown}' in '{guestFolder}', which would be written outside '{walk.Root}'. It was not copied.", target), target));
                continue;
            }
            (e.Kind == GuestEntryKind.Directory ? folders : files).Add((e, local));
        }

        // A case-insensitive file system on a host that usually is not (e.g. ext4 casefold, a
        // CIFS mount) still folds 'A' and 'a' into one file: the second one finds the first.
        // What existed before this folder was copied (an earlier copy of the same tree) is
        // no such sign.
        var written = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var twins = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var (e, _) in files)
        {
            twins[e.Name] = twins.TryGetValue(e.Name, out int n) ? n + 1 : 1;
        }
        foreach (var (e, _) in folders)
        {
            twins[e.Name] = twins.TryGetValue(e.Name, out int n) ? n + 1 : 1;
        }
        var existed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (e, local) in files)
        {
            if (twins[e.Name] > 1 && HostPath.Inspect(local) != HostEntryKind.None)
            {
                existed.Add(e.Name);
            }
        }
        foreach (var (e, local) in folders)
        {
            if (twins[e.Name] > 1 && HostPath.Inspect(local) != HostEntryKind.None)
            {
                existed.Add(e.Name);
            }
        }
        foreach (var (e, local) in files)
        {
            string guest = fs.Join(guestFolder, e.Name);
            await GuardAsync(context, guest, () =>
            {
                CheckFoldedDuplicate(context, written, existed, e.Name, local, guestFolder);
                written.Add(e.Name);
                return DownloadFileAsync(context, fs, walk.Plan, guest, local, e.Size, walk.Progress, guestNamed: true);
            }, insideWalk: true).ConfigureAwait(false);
        }
        foreach (var (e, local) in folders)
        {
            string guest = fs.Join(guestFolder, e.Name);
            await GuardAsync(context, guest, async () =>
            {
                CheckFoldedDuplicate(context, written, existed, e.Name, local, guestFolder);
                written.Add(e.Name);
                if (await EnsureLocalFolderAsync(context, local).ConfigureAwait(false))
                {
                    await DownloadFolderContentAsync(walk, guest, local, relative.Length == 0 ? e.Name : relative + "/" + e.Name, depth + 1).ConfigureAwait(false);
                }
            }, insideWalk: true).ConfigureAwait(false);
        }
    }

    private static void CheckFoldedDuplicate(GuestOperationContext context, HashSet<string> written, HashSet<string> existed, string name, string local, string guestFolder)
    {
        if (written.Contains(name) && !existed.Contains(name) && HostPath.Inspect(local) != HostEntryKind.None)
        {
            throw new TransferException(TransferFailureKind.DuplicateGuestName,
                $"{context.Session.TargetName} listed '{PathComponent.Printable(name)}' in '{guestFolder}', and this host's file system takes it for a name already copied (it ignores case): it was not copied.", local);
        }
    }

    /// <summary>
    /// A folder the guest named, inside the walk: an existing real folder is merged into; a link
    /// is never followed (DestinationIsLink); a new one is created only when ShouldProcess
    /// agrees. False when it was not created (-WhatIf, or No at -Confirm): its content is skipped.
    /// </summary>
    private static async Task<bool> EnsureLocalFolderAsync(GuestOperationContext context, string local)
    {
        switch (HostPath.Inspect(local))
        {
            case HostEntryKind.Directory:
                return true;
            case HostEntryKind.Link:
                throw new TransferException(TransferFailureKind.DestinationIsLink,
                    $"'{local}' is a link: a copy out of the guest never writes through links inside its destination.", local);
            case HostEntryKind.File:
                throw new TransferException(TransferFailureKind.DestinationExists,
                    $"Cannot create the local folder '{local}': a file of that name exists.", local);
        }
        if (!await context.ShouldProcessAsync(local, "Create local folder").ConfigureAwait(false))
        {
            return false;
        }
        Directory.CreateDirectory(local);
        return true;
    }

    private static async Task DownloadFileAsync(GuestOperationContext context, GuestFs fs, Plan plan, string guestPath, string localPath, long size, TransferProgress progress, bool guestNamed = false)
    {
        CancellationToken ct = context.CancellationToken;
        if (guestNamed && HostPath.Inspect(localPath) == HostEntryKind.Link)
        {
            throw new TransferException(TransferFailureKind.DestinationIsLink,
                $"'{localPath}' is a link: a copy out of the guest never writes through links inside its destination.", localPath);
        }
        if (Directory.Exists(localPath))
        {
            throw new TransferException(TransferFailureKind.DestinationIsDirectory, $"'{localPath}' is a local folder.", localPath);
        }
        if (File.Exists(localPath) && !plan.Force)
        {
            throw new TransferException(TransferFailureKind.DestinationExists, $"The local file '{localPath}' exists: add -Force to overwrite it.", localPath);
        }
        string? parent = Path.GetDirectoryName(localPath);
        bool parentMissing = parent is { Length: > 0 } && !Directory.Exists(parent);
        if (parentMissing && !plan.Force)
        {
            throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                $"The local folder '{parent}' does not exist: create it first or add -Force.", localPath);
        }
        // Asked before anything is created: under -WhatIf not even the folder appears.
        if (!await context.ShouldProcessAsync(localPath, $"Copy guest file '{GuestTarget(context, guestPath)}' here").ConfigureAwait(false))
        {
            return;
        }
        if (parentMissing)
        {
            Directory.CreateDirectory(parent!);
        }

        var clock = Stopwatch.StartNew();
        string temp = localPath + TempSuffix();
        long handle;
        try
        {
            handle = await fs.Commands.GuestFileOpenAsync(guestPath, "rb", context.CallOptions, ct).ConfigureAwait(false);
        }
        catch (QgaCommandException ex)
        {
            throw MapTransfer(ex, guestPath, false, null);
        }
        bool open = true;
        bool done = false;
        using var hash = plan.Verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        try
        {
            long received;
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                long got = 0;
                string name = GuestFs.LeafName(guestPath);
                long limit = plan.MaxBytes > 0 ? plan.MaxBytes : size > 0 ? size : UnknownSizeLimit;
                string why = plan.MaxBytes > 0 ? "-MaxBytes" : size > 0 ? "the size it reported" : "the limit for a file of unknown size; give -MaxBytes to read more";
                received = await ReadGuestAsync(context, handle, fs.Profile.ReadChunk(plan.Chunk), limit,
                    got => new TransferException(TransferFailureKind.SourceSizeExceeded,
                        $"{context.Session.TargetName} sent more of '{guestPath}' than {limit} bytes ({why}): the copy was stopped and nothing of it was kept.", guestPath),
                    async (b, n) =>
                {
                    hash?.AppendData(b, 0, n);
                    await output.WriteAsync(b, 0, n, ct).ConfigureAwait(false);
                    got += n;
                    progress.Report(name, got, size, clock.Elapsed);
                }).ConfigureAwait(false);
                await output.FlushAsync(ct).ConfigureAwait(false);
            }
            // Only a close that completed releases the handle: if it is cancelled on the way
            // (Ctrl+C right here), the finally block's bounded close must still run.
            await fs.Commands.GuestFileCloseAsync(handle, context.CallOptions, ct).ConfigureAwait(false);
            open = false;

            string? digest = null;
            if (hash is not null)
            {
                digest = ToHex(hash.GetHashAndReset());
                string guestDigest = await fs.HashAsync(guestPath, ct).ConfigureAwait(false)
                    ?? await HashByReadingAsync(context, fs, guestPath, plan.Chunk, received).ConfigureAwait(false);
                string localDigest = LocalHash(temp);
                if (!string.Equals(digest, guestDigest, StringComparison.OrdinalIgnoreCase) || !string.Equals(digest, localDigest, StringComparison.Ordinal))
                {
                    throw new TransferException(TransferFailureKind.VerifyFailed,
                        $"Verification failed for '{localPath}': SHA-256 {guestDigest} in the guest, {localDigest} written here.", localPath);
                }
            }

            if (File.Exists(localPath))
            {
                File.Replace(temp, localPath, null); // rename(2) over the old file: atomic
            }
            else
            {
                File.Move(temp, localPath);
            }
            done = true;
            Completed(context, plan, progress, "GuestToLocal", guestPath, localPath, GuestFs.LeafName(guestPath), received, size, clock, digest, atomic: true);
        }
        catch (Exception ex)
        {
            throw MapTransfer(ex, guestPath, false, null);
        }
        finally
        {
            await FinishAsync(fs, handle, open, done, () => DeleteLocalQuietly(temp)).ConfigureAwait(false);
        }
    }

    private static Task DeleteLocalQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return Task.CompletedTask;
    }

    private static string LocalHash(string path)
    {
        using var sha = SHA256.Create();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return ToHex(sha.ComputeHash(stream));
    }
}
