using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// Moves files into and out of one guest, with no PowerShell in sight: one pipelined writer and
/// one pipelined reader on <see cref="GuestFileIO"/>, one verify step, one temporary-then-rename
/// commit, and typed failures (<see cref="TransferException"/>). Callers (the cmdlets, tests)
/// keep what is theirs: which paths, whether to go ahead, how to show progress and results.
/// Every way it reaches the guest goes through here: <see cref="GuestFs"/> for the file system
/// ladder (extension, stock command, guest-exec), <see cref="GuestFileIO"/> for the bytes.
/// </summary>
public sealed class GuestTransferEngine
{
    /// <summary>The read limit for a guest file whose reported size is 0, without a MaxBytes.</summary>
    public const long UnknownSizeLimit = 64L * 1024 * 1024;

    private const int Depth = 4;

    private readonly IGuestAgentChannel _channel;
    private readonly QgaCallOptions _options;
    private readonly GuestFs _fs;

    private GuestTransferEngine(IGuestAgentChannel channel, AgentProfile profile, QgaCallOptions options, string targetName)
    {
        _channel = channel;
        _options = options;
        _fs = new GuestFs(channel, profile, options);
        TargetName = targetName;
    }

    /// <summary>
    /// An engine for <paramref name="channel"/>, once the agent's profile is known;
    /// <paramref name="targetName"/> is how messages name the guest (the VM or session name).
    /// </summary>
    public static Task<GuestTransferEngine> OpenAsync(IGuestAgentChannel channel, QgaCallOptions options, string targetName, CancellationToken cancellationToken) =>
        OpenAsync(channel, new GuestSessionFacts(), options, targetName, cancellationToken);

    /// <summary>An engine for a session's <paramref name="channel"/>, reusing the profile its <paramref name="facts"/> hold.</summary>
    public static async Task<GuestTransferEngine> OpenAsync(IGuestAgentChannel channel, GuestSessionFacts facts, QgaCallOptions options, string targetName,
        CancellationToken cancellationToken)
    {
        AgentProfile profile = await facts.GetProfileAsync(channel, options, cancellationToken).ConfigureAwait(false);
        return new GuestTransferEngine(channel, profile, options, targetName);
    }

    public AgentProfile Profile => _fs.Profile;

    public string TargetName { get; }

    /// <summary>True when a finished temporary file can be renamed into place (atomic copy into the guest).</summary>
    public bool CanRename => _fs.CanRename;

    /// <summary>A guest path below <paramref name="folder"/>, with the guest's separator.</summary>
    public string Join(string folder, string relative) => _fs.Join(folder, relative);

    /// <summary>What is at a guest path, or null when nothing is.</summary>
    public Task<GuestEntry?> StatAsync(string path, CancellationToken cancellationToken) => _fs.StatAsync(path, cancellationToken);

    public Task CreateFolderAsync(string path, bool parents, CancellationToken cancellationToken) => _fs.MkdirAsync(path, parents, cancellationToken);

    /// <summary>Removes a guest file on a best-effort basis with its own bound (cleanup, also after cancellation); false when it could not.</summary>
    public Task<bool> RemoveQuietlyAsync(string path) => _fs.RemoveQuietlyAsync(path);

    /// <summary>Removes a guest file, link or folder; the tree is walked in the guest, links are never followed (<see cref="GuestFs.RemoveAsync"/>).</summary>
    public Task RemoveAsync(string path, bool folder, bool recursive, CancellationToken cancellationToken) => _fs.RemoveAsync(path, folder, recursive, cancellationToken);

    /// <summary>True when the guest path is itself a link; null when this agent cannot tell.</summary>
    public Task<bool?> IsLinkAsync(string path, CancellationToken cancellationToken) => _fs.IsLinkAsync(path, cancellationToken);

    /// <summary>
    /// Renames or moves <paramref name="source"/> to <paramref name="destination"/> in the guest,
    /// never over an existing item (DestinationExists). Our agent refuses an existing
    /// destination itself; with a stock agent (mv through guest-exec) it is checked first, so an
    /// item created in between is replaced.
    /// </summary>
    public async Task RenameAsync(string source, string destination, CancellationToken cancellationToken)
    {
        if (!_fs.Profile.Has(AgentProfile.Rename) && await _fs.StatAsync(destination, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new TransferException(TransferFailureKind.DestinationExists, $"The guest path '{Validation.PathComponent.Printable(destination)}' exists.", destination);
        }
        try
        {
            await _fs.RenameAsync(source, destination, false, cancellationToken).ConfigureAwait(false);
        }
        catch (QgaCommandException ex) when (GuestErrorText.IsExists(ex.Description))
        {
            throw new TransferException(TransferFailureKind.DestinationExists, $"The guest path '{Validation.PathComponent.Printable(destination)}' exists.", destination, ex);
        }
    }

    /// <summary>SHA-256 (lower-case hex) of a guest file computed in the guest (our hash extension, else sha256sum/certutil through guest-exec); null when the agent offers no way.</summary>
    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => _fs.HashAsync(path, cancellationToken);

    /// <summary>
    /// SHA-256 (lower-case hex) of the first <paramref name="length"/> bytes of a guest file
    /// that is a regular file itself, never through a link (stat without following, then our
    /// hash extension; or test -h / test -f, head and sha256sum through guest-exec); null when it
    /// is not such a file or this agent cannot tell (a Windows guest's stock agent).
    /// </summary>
    public Task<string?> HashRegularFileAsync(string path, long length, CancellationToken cancellationToken) =>
        _fs.RegularFilePrefixHashAsync(path, length, cancellationToken);

    /// <summary>Sets a guest file's modification time (nanoseconds since 1970 UTC); false when this agent offers no way (<see cref="GuestFs.SetLastWriteAsync"/>).</summary>
    public Task<bool> SetLastWriteAsync(string path, long nanoseconds, CancellationToken cancellationToken) => _fs.SetLastWriteAsync(path, nanoseconds, cancellationToken);

    /// <summary>SHA-256 (lower-case hex) of a local file.</summary>
    public static string LocalSha256(string path) => LocalHash(path);

    /// <summary>Nanoseconds since 1970 UTC as a UTC DateTime (100 ns ticks, the finer part dropped); null outside DateTime's range (a guest's absurd time).</summary>
    public static DateTime? FromUnixNanoseconds(long nanoseconds)
    {
        long ticks = nanoseconds / 100;
        return ticks < DateTime.MinValue.Ticks - UnixEpochTicks || ticks > DateTime.MaxValue.Ticks - UnixEpochTicks
            ? null
            : new DateTime(UnixEpochTicks + ticks, DateTimeKind.Utc);
    }

    /// <summary>A UTC DateTime as nanoseconds since 1970.</summary>
    public static long ToUnixNanoseconds(DateTime utc) => (utc.Ticks - UnixEpochTicks) * 100;

    private const long UnixEpochTicks = 621355968000000000;

    /// <summary>Opens a guest file for reading in order, block by block (Get-Content; following a growing file).</summary>
    public async Task<GuestFileReader> OpenReaderAsync(string path, int chunkSize, CancellationToken cancellationToken)
    {
        long handle = await OpenForReadAsync(path, cancellationToken).ConfigureAwait(false);
        return new GuestFileReader(_fs, _channel, handle, _fs.Profile.ReadChunk(chunkSize), path);
    }

    /// <summary>A lister for the folders under a guest folder, every entry counted against <paramref name="budget"/>.</summary>
    public Task<GuestFolderLister> OpenListingAsync(string root, GuestListingBudget budget, CancellationToken cancellationToken, bool recursive = true) =>
        _fs.OpenListingAsync(root, budget, cancellationToken, recursive);

    /// <summary>The last component of a guest path (either separator).</summary>
    public static string LeafName(string path) => GuestFs.LeafName(path);

    /// <summary>The folder of a guest path (either separator), or null at the top.</summary>
    public static string? Parent(string path) => GuestFs.Parent(path);

    /// <summary>
    /// True for a guest path that does not depend on the agent's working folder: /x (POSIX),
    /// C:\x or C:/x, \\server\share or \x (Windows). A relative one would land wherever the
    /// agent happens to run (/ for a systemd service, System32 for a Windows one).
    /// </summary>
    public static bool IsAbsolute(string path) =>
        path.Length > 0 && (path[0] == '/' || path[0] == '\\'
            || (path.Length >= 3 && path[1] == ':' && (path[2] == '\\' || path[2] == '/') && ((path[0] | 0x20) >= 'a' && (path[0] | 0x20) <= 'z')));

    /// <summary>
    /// Lists one guest folder of a recursive copy out of the guest and checks its names
    /// (<see cref="GuestFolderPlan.Check"/>); <paramref name="root"/> is the full local path
    /// nothing may be written outside of.
    /// </summary>
    public async Task<GuestFolderPlan> PlanFolderAsync(GuestFolderLister lister, string guestFolder, string localFolder, string relative, int depth, string root,
        CancellationToken cancellationToken)
    {
        List<GuestListEntry> entries = await lister.ListAsync(guestFolder, relative, depth, cancellationToken).ConfigureAwait(false);
        return GuestFolderPlan.Check(entries, TargetName, guestFolder, localFolder, root, shown => TargetName + ":" + Join(guestFolder, shown));
    }

    private static string TempSuffix() => ".qgtmp-" + Guid.NewGuid().ToString("N").Substring(0, 8);

    // ------------------------------------------------------------------ local -> guest

    /// <summary>Throws unless a file may be written at <paramref name="guestPath"/>: not a folder, and absent or <paramref name="overwrite"/>.</summary>
    public async Task CheckUploadTargetAsync(string guestPath, bool overwrite, CancellationToken cancellationToken) =>
        CheckUploadTarget(guestPath, await _fs.StatAsync(guestPath, cancellationToken).ConfigureAwait(false), overwrite);

    /// <summary>The same check on what a stat of <paramref name="guestPath"/> just found (<paramref name="existing"/>: null when nothing is there).</summary>
    public static void CheckUploadTarget(string guestPath, GuestEntry? existing, bool overwrite)
    {
        if (existing?.Kind == GuestEntryKind.Directory)
        {
            throw new TransferException(TransferFailureKind.DestinationIsDirectory, $"'{guestPath}' is a folder in the guest.", guestPath);
        }
        if (existing is not null && !overwrite)
        {
            throw new TransferException(TransferFailureKind.DestinationExists,
                $"The guest file '{guestPath}' exists: add -Force to overwrite it.", guestPath);
        }
    }

    /// <summary>Copies a local file into the guest, carrying its permission bits (see <see cref="LocalMode"/>).</summary>
    public async Task<TransferResult> UploadAsync(string localPath, string guestPath, TransferOptions options, IProgress<TransferProgressInfo>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var local = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        // The source's permission bits, set on the temporary file before any data reaches it
        // (never 0666 like the stock agent's new files): a 0700 root script stays private.
        int? mode = _fs.CanRename && _fs.CanSetMode ? LocalMode(localPath) : null;
        return await UploadCoreAsync(local, local.Length, guestPath, mode, options, progress, clock, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies <paramref name="source"/> (read to its end) into a guest file.</summary>
    public Task<TransferResult> UploadAsync(Stream source, string guestPath, TransferOptions options, IProgress<TransferProgressInfo>? progress, CancellationToken cancellationToken)
    {
        long total = source.CanSeek ? source.Length - source.Position : 0;
        int? mode = _fs.CanRename && _fs.CanSetMode ? options.Mode : null;
        return UploadCoreAsync(source, total, guestPath, mode, options, progress, Stopwatch.StartNew(), cancellationToken);
    }

    private async Task<TransferResult> UploadCoreAsync(Stream local, long total, string guestPath, int? mode, TransferOptions options,
        IProgress<TransferProgressInfo>? progress, Stopwatch clock, CancellationToken ct)
    {
        bool atomic = _fs.CanRename;
        string writePath = atomic ? guestPath + TempSuffix() : guestPath;
        long handle = await OpenForWriteAsync(options.Force, writePath, guestPath, mode, ct).ConfigureAwait(false);
        bool open = true;
        bool done = false;
        // A resume rewrites from the last confirmed block, so it needs the source again from
        // there, and a temporary file of its own to rewrite (see ResumeUploadAsync).
        long origin = atomic && local.CanSeek ? local.Position : -1;
        var cursor = new WriteCursor();
        int resumes = 0;
        IncrementalHash? hash = options.Verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        try
        {
            int chunk = _fs.Profile.WriteChunk(options.ChunkSize);
            // The stock qemu-ga (7.2) on a real virtio-serial port loses replies to pipelined
            // guest-file-write requests (its log shows every reply sent; only the last reaches
            // the host: tests/e2e found it). Over a unix socket it does not, but a VM is where it
            // runs, so writes to it go one at a time, like any plain client's.
            int depth = _fs.Profile.IsOurs ? Depth : 1;
            while (true)
            {
                try
                {
                    await SendBlocksAsync(local, handle, chunk, depth, hash, cursor, guestPath, total, progress, clock, ct).ConfigureAwait(false);
                    await _fs.Commands.GuestFileFlushAsync(handle, _options, ct).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (origin >= 0 && resumes < TransferResume.MaxPerFile && TransferResume.IsResumable(ex))
                {
                    resumes++;
                    handle = await ResumeUploadAsync(handle, writePath, local, origin, cursor.Confirmed, ex, ct).ConfigureAwait(false);
                    local.Seek(origin + cursor.Confirmed, SeekOrigin.Begin);
                    cursor.Sent = cursor.Confirmed;
                    // Bytes after the confirmed point went into the running hash already: the
                    // digest is taken from the source again at the end instead.
                    hash?.Dispose();
                    hash = null;
                }
            }

            // Only a close that completed releases the handle: if it is cancelled on the way
            // (Ctrl+C right here), the finally block's bounded close must still run.
            try
            {
                await _fs.Commands.GuestFileCloseAsync(handle, _options, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (origin >= 0 && TransferResume.IsResumable(ex))
            {
                // Everything was written and flushed; whether this close arrived is unknown.
                // Closing again is harmless either way, and the hash below decides.
                resumes++;
                await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
            }
            open = false;
            long sent = cursor.Sent;

            string? digest = null;
            if (resumes > 0)
            {
                // After a resume the guest file is checked whether or not -Verify asked: that is
                // what makes rewriting from a position safe.
                digest = HashSource(local, origin, -1);
            }
            else if (hash is not null)
            {
                digest = ToHex(hash.GetHashAndReset());
            }
            if (digest is not null)
            {
                // Hashing only reads: asking again after an interruption is harmless.
                await TransferResume.WhenBackAsync(async () =>
                {
                    await VerifyAsync(writePath, sent, digest, options.ChunkSize, null, null, guestPath, ct).ConfigureAwait(false);
                    return true;
                }, ct).ConfigureAwait(false);
            }
            if (options.LastWriteNanoseconds is long mtime)
            {
                // On the temporary file, so the destination appears with its time already set.
                await _fs.SetLastWriteAsync(writePath, mtime, ct).ConfigureAwait(false);
            }
            if (atomic)
            {
                await RenameIntoPlaceAsync(writePath, guestPath, local, origin, ct).ConfigureAwait(false);
            }
            done = true;
            return new TransferResult(sent, total, clock.Elapsed, digest, atomic);
        }
        catch (Exception ex)
        {
            throw MapTransfer(ex, guestPath, true, atomic ? writePath : null);
        }
        finally
        {
            hash?.Dispose();
            await FinishAsync(handle, open, done, () => atomic ? _fs.RemoveQuietlyAsync(writePath) : TruncateQuietlyAsync(writePath)).ConfigureAwait(false);
        }
    }

    /// <summary>How far a copy into the guest got: blocks handed to the channel, and blocks the agent confirmed, in order.</summary>
    private sealed class WriteCursor
    {
        public long Sent;

        public long Confirmed;
    }

    /// <summary>
    /// The pipelined writer: up to <paramref name="depth"/> guest-file-write requests in flight,
    /// each from its own pooled buffer; <paramref name="cursor"/> advances as replies confirm
    /// blocks in order. Returns when the source is read to its end and every block confirmed.
    /// </summary>
    private async Task SendBlocksAsync(Stream local, long handle, int chunk, int depth, IncrementalHash? hash, WriteCursor cursor, string guestPath, long total,
        IProgress<TransferProgressInfo>? progress, Stopwatch clock, CancellationToken ct)
    {
        if (BulkChannel is { } bulk && local.CanSeek && total > 0)
        {
            if (await SendBulkAsync(bulk, local, handle, hash, cursor, guestPath, total, progress, clock, ct).ConfigureAwait(false))
            {
                return;
            }
        }

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
                // The next block is read (and hashed) while the oldest write is still out, into
                // the one buffer more than the depth: with the stock agent's depth of 1 the
                // channel otherwise idled for the local read after every reply.
                byte[] buffer = free.Pop();
                int n = await ReadFullAsync(local, buffer, chunk, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    free.Push(buffer);
                    break;
                }
                hash?.AppendData(buffer, 0, n);
                if (pending.Count == depth)
                {
                    await CompleteWriteAsync(pending.Dequeue(), free, guestPath, cursor).ConfigureAwait(false);
                }
                pending.Enqueue((GuestFileIO.WriteAsync(_channel, handle, new ReadOnlyMemory<byte>(buffer, 0, n), _options, ct), n, buffer));
                cursor.Sent += n;
                progress?.Report(new TransferProgressInfo(cursor.Sent, total, clock.Elapsed));
            }
            while (pending.Count > 0)
            {
                await CompleteWriteAsync(pending.Dequeue(), free, guestPath, cursor).ConfigureAwait(false);
            }
        }
        finally
        {
            // Buffers still referenced by unfinished writes are dropped to the GC, never reused.
            foreach (var b in free)
            {
                ArrayPool<byte>.Shared.Return(b);
            }
            // Every write in flight has its answer before anything else goes out (a resume's
            // seek must come after them on the channel, not between them).
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
    }

    /// <summary>
    /// The binary bulk mode (docs/copy.md): the source in turns (<see cref="BulkTurn"/>), each
    /// one bulk transfer whose completion confirms it (a resume rewrites from the last confirmed
    /// turn). Between two turns the channel is free for other clients of the VM. False when the
    /// channel refused the mode before any byte went out (an older relay or agent): the caller
    /// then sends guest-file-write requests, and the profile remembers not to ask again.
    /// </summary>
    private async Task<bool> SendBulkAsync(IGuestAgentBulkChannel bulk, Stream local, long handle, IncrementalHash? hash, WriteCursor cursor, string guestPath, long total,
        IProgress<TransferProgressInfo>? progress, Stopwatch clock, CancellationToken ct)
    {
        var turn = new BulkTurn();
        while (cursor.Sent < total)
        {
            long start = cursor.Sent;
            long count = BulkWholeFile ? Math.Min(BulkTurn.Max, total - start) : turn.Next(total - start);
            GuestBulkResult result;
            try
            {
                result = await bulk.WriteBulkAsync(handle, count, async (buffer, offset, want) =>
                {
                    turn.Started();
                    int n = await ReadFullAsync(local, buffer, offset, want, ct).ConfigureAwait(false);
                    hash?.AppendData(buffer, offset, n);
                    cursor.Sent += n;
                    progress?.Report(new TransferProgressInfo(cursor.Sent, total, clock.Elapsed));
                    return n;
                }, BulkIdleTimeout, ct).ConfigureAwait(false);
            }
            catch (QgaCommandException ex) when (IsBulkRefusal(ex) && cursor.Sent == start && start == 0)
            {
                _fs.Profile.BulkRefused = true;
                return false;
            }

            if (result.Count != count)
            {
                throw new TransferException(TransferFailureKind.DiskFull,
                    $"The guest wrote {result.Count} of {count} bytes to '{guestPath}' (disk full?).", guestPath);
            }

            cursor.Confirmed = start + result.Count;
            turn.Ended(result.Count);
        }

        return true;
    }

    /// <summary>
    /// Whether copies may use the binary bulk mode when the agent offers it: on unless
    /// QEMUGUEST_BULK is "0" (guest-file-read/write then, the path the stock agent always gets).
    /// It moved 1 GiB faster than the JSON path both ways in each of four rounds of issue 19
    /// stage 6 (1.1-4.3x; bench/RESULTS.md). Its first time as the default (95211e7) ended the
    /// same day: one transfer held the VM's channel for up to 64 MiB into the guest and for the
    /// rest of the file out of it, and a relay serves no other client of the VM while a transfer
    /// is open (in a TCG VM a client's pings waited 14.7 s behind two copies,
    /// tests/e2e/Migration.Tests.ps1). Transfers are turns of about 250 ms each way now
    /// (<see cref="BulkTurn"/>), and a waiting client's request goes between two of them
    /// (FairTurnTests).
    /// </summary>
    public bool BulkEnabled { get; set; } = Environment.GetEnvironmentVariable(BulkVariable) != "0";

    /// <summary>
    /// Stage 6's transfers instead of turns (64 MiB into the guest, the rest of the file out of
    /// it): QEMUGUEST_BULK=whole, kept only so bench/transfer can measure what turns cost in
    /// the same run. Never a default: it keeps other clients of the VM waiting.
    /// </summary>
    public bool BulkWholeFile { get; set; } = Environment.GetEnvironmentVariable(BulkVariable) == "whole";

    private const string BulkVariable = "QEMUGUEST_BULK";

    /// <summary>
    /// The channel to run the bulk mode on, or null: the agent must advertise it, the channel
    /// carry it, and <see cref="BulkEnabled"/> be set.
    /// </summary>
    private IGuestAgentBulkChannel? BulkChannel =>
        BulkEnabled && _channel is IGuestAgentBulkChannel bulk && _fs.Profile.CanBulk && !_fs.Profile.BulkRefused
            ? bulk
            : null;

    private TimeSpan BulkIdleTimeout => _options.Timeout ?? TimeSpan.FromSeconds(30);

    /// <summary>The agent or a relay in front of it refused to start the transfer (nothing moved): JSON will do.</summary>
    private static bool IsBulkRefusal(QgaCommandException ex) => ex.Data.Contains(GuestAgentBulk.RefusedKey);

    private static async Task CompleteWriteAsync((Task<long> Task, int Length, byte[] Buffer) write, Stack<byte[]> free, string guestPath, WriteCursor cursor)
    {
        long written = await write.Task.ConfigureAwait(false);
        if (written != write.Length)
        {
            throw new TransferException(TransferFailureKind.DiskFull,
                $"The guest wrote {written} of {write.Length} bytes to '{guestPath}' (disk full?).", guestPath);
        }
        cursor.Confirmed += written;
        free.Push(write.Buffer);
    }

    /// <summary>
    /// After an interruption at <paramref name="confirmed"/> bytes: a handle positioned there to
    /// rewrite from. Rewriting is idempotent because the file is this copy's own temporary file
    /// and the same bytes go to the same offsets; whatever the interrupted blocks did or did
    /// not write lies at or after that point and is written again. The agent's own handle when
    /// it still holds it (a lost reply, a migration: the guest's agent never stopped); else the
    /// temporary file reopened, only while it is still ours: a regular file, not a link, whose
    /// first <paramref name="confirmed"/> bytes hash to what was sent. Otherwise the copy ends
    /// as TransferInterrupted, as it did before resuming existed.
    /// </summary>
    private async Task<long> ResumeUploadAsync(long handle, string writePath, Stream local, long origin, long confirmed, Exception interruption, CancellationToken ct)
    {
        try
        {
            GuestFileSeek at = await TransferResume.WhenBackAsync(
                () => _fs.Commands.GuestFileSeekAsync(handle, confirmed, (GuestFileWhence)QGASeek.Set, _options, ct), ct).ConfigureAwait(false);
            if (at.Position != confirmed)
            {
                throw NotResumed(writePath, interruption, $"the agent put handle {handle} at {at.Position}, not {confirmed}");
            }
            return handle;
        }
        catch (QgaCommandException ex) when (GuestErrorText.IsHandleGone(ex))
        {
            // A new agent process: the handle went with the old one.
        }

        string? there = await _fs.RegularFilePrefixHashAsync(writePath, confirmed, ct).ConfigureAwait(false);
        string? ours = there is null ? null : HashSource(local, origin, confirmed);
        if (there is null || !string.Equals(there, ours, StringComparison.OrdinalIgnoreCase))
        {
            throw NotResumed(writePath, interruption, there is null
                ? "the temporary file is gone, is no longer a regular file, or cannot be checked by this agent"
                : "the temporary file no longer holds what was written to it");
        }
        long reopened = await _fs.Commands.GuestFileOpenAsync(writePath, "r+b", _options, ct).ConfigureAwait(false);
        try
        {
            GuestFileSeek at = await _fs.Commands.GuestFileSeekAsync(reopened, confirmed, (GuestFileWhence)QGASeek.Set, _options, ct).ConfigureAwait(false);
            if (at.Position != confirmed)
            {
                throw NotResumed(writePath, interruption, $"the agent put the reopened file at {at.Position}, not {confirmed}");
            }
        }
        catch
        {
            await _fs.CloseQuietlyAsync(reopened).ConfigureAwait(false);
            throw;
        }
        return reopened;
    }

    /// <summary>
    /// The commit of a copy into the guest. When the rename's answer is lost, whether it ran
    /// is found out rather than assumed: the temporary file still there means it did not (so
    /// rename again); gone means it did (nobody else knows its random name), and then the
    /// destination must hash like the source.
    /// </summary>
    private async Task RenameIntoPlaceAsync(string writePath, string guestPath, Stream local, long origin, CancellationToken ct)
    {
        try
        {
            await _fs.RenameAsync(writePath, guestPath, true, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (origin >= 0 && TransferResume.IsInterruption(ex))
        {
            GuestEntry? left = await TransferResume.WhenBackAsync(() => _fs.StatAsync(writePath, ct), ct).ConfigureAwait(false);
            if (left is not null)
            {
                await _fs.RenameAsync(writePath, guestPath, true, ct).ConfigureAwait(false);
                return;
            }
            string? there = await TransferResume.WhenBackAsync(() => _fs.HashAsync(guestPath, ct), ct).ConfigureAwait(false);
            if (there is null || !string.Equals(there, HashSource(local, origin, -1), StringComparison.OrdinalIgnoreCase))
            {
                throw NotResumed(guestPath, ex, there is null
                    ? "the rename's answer was lost and this agent cannot hash the destination to tell whether it ran"
                    : "the rename's answer was lost and the destination does not hold the source");
            }
        }
    }

    private static TransferException NotResumed(string path, Exception interruption, string why) =>
        new(TransferFailureKind.TransferInterrupted,
            $"The copy to '{path}' was interrupted ({interruption.Message}) and not resumed: {why}.", path, interruption);

    /// <summary>SHA-256 of the source from <paramref name="origin"/>, <paramref name="length"/> bytes (-1: to its end); leaves the stream at the end of what it read.</summary>
    private static string HashSource(Stream source, long origin, long length)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        source.Seek(origin, SeekOrigin.Begin);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long left = length < 0 ? long.MaxValue : length;
            while (left > 0)
            {
                int n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n == 0)
                {
                    break;
                }
                sha.AppendData(buffer, 0, n);
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return ToHex(sha.GetHashAndReset());
    }

    private async Task<long> OpenForWriteAsync(bool force, string writePath, string guestPath, int? mode, CancellationToken ct)
    {
        try
        {
            return await OpenOnceAsync(writePath, writePath != guestPath, mode, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (GuestErrorText.IsMissing(ex) || ex is TransferException { Kind: TransferFailureKind.DestinationFolderNotFound })
        {
            string? parent = GuestFs.Parent(guestPath);
            if (!force || parent is null)
            {
                throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                    $"The guest folder '{parent}' does not exist: create it first or add -Force.", guestPath, ex);
            }
            await _fs.MkdirAsync(parent, true, ct).ConfigureAwait(false);
            try
            {
                return await OpenOnceAsync(writePath, writePath != guestPath, mode, ct).ConfigureAwait(false);
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
    private async Task<long> OpenOnceAsync(string writePath, bool temporary, int? mode, CancellationToken ct)
    {
        // temporary: writePath is this copy's own temporary name. Then the file counts as made
        // as soon as a request that may create it is on its way: Ctrl+C or Stop-Job while the
        // reply is outstanding (the stock agent's shell create, or guest-file-open) left the file
        // in the guest with nobody to remove it (Jobs.Tests "Stop-Job stops a copy under way"
        // failed one run in three at load 7). A destination written in place is removed only
        // once we know we created it.
        bool made = false;
        try
        {
            if (mode is int m && _fs.CreatesBeforeOpen)
            {
                made = temporary;
                await _fs.CreatePrivateAsync(writePath, m, ct).ConfigureAwait(false);
                made = true;
            }
            made |= temporary;
            long handle = await _fs.Commands.GuestFileOpenAsync(writePath, "wb", _options, ct).ConfigureAwait(false);
            made = true;
            if (mode is int bits && !_fs.CreatesBeforeOpen)
            {
                try
                {
                    await _fs.SetModeAsync(writePath, bits, ct).ConfigureAwait(false);
                }
                catch
                {
                    await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
                    throw;
                }
            }
            return handle;
        }
        catch when (made)
        {
            await _fs.RemoveQuietlyAsync(writePath).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The permission bits a copy into the guest gives its file: the local file's rwx bits
    /// (setuid, setgid and sticky are not carried over), or 0644 from Windows, which has none.
    /// </summary>
    public static int LocalMode(string path)
    {
        const int Default = 0x1A4; // 0644
        if (GuestNames.HostIsWindows)
        {
            return Default;
        }
#if NET7_0_OR_GREATER
        if (OperatingSystem.IsWindows())
        {
            return Default;
        }
        try
        {
            return (int)File.GetUnixFileMode(path) & 0x1FF;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Default;
        }
#else
        // File.GetUnixFileMode exists from .NET 7 (PowerShell 7.3+); the netstandard2.0 build
        // that the module loads looks it up rather than references it.
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
#endif
    }

    private async Task TruncateQuietlyAsync(string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            long h = await _fs.Commands.GuestFileOpenAsync(path, "wb", new QgaCallOptions { Timeout = TimeSpan.FromSeconds(5) }, cts.Token).ConfigureAwait(false);
            await _fs.CloseQuietlyAsync(h).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QgaException or OperationCanceledException)
        {
        }
    }

    private static Task<int> ReadFullAsync(Stream stream, byte[] buffer, int count, CancellationToken ct) => ReadFullAsync(stream, buffer, 0, count, ct);

    private static async Task<int> ReadFullAsync(Stream stream, byte[] buffer, int offset, int count, CancellationToken ct)
    {
        int total = 0;
        while (total < count)
        {
            // A local file is read in place (see the FileStream case of ReceiveAsync's sink): its
            // ReadAsync would hand each block's read to a pool thread and back.
            int n = stream is FileStream
                ? stream.Read(buffer, offset + total, count - total)
                : await stream.ReadAsync(buffer, offset + total, count - total, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    // ------------------------------------------------------------------ guest -> local

    /// <summary>
    /// Throws unless a guest file may be written to <paramref name="localPath"/>: not a link
    /// when the guest named it (<paramref name="guestNamed"/>, inside a recursive copy), not a
    /// folder, absent or <paramref name="overwrite"/>, and its folder there or to be created.
    /// </summary>
    public static void CheckDownloadTarget(string localPath, bool overwrite, bool guestNamed, bool folderNotMadeForWhatIf = false)
    {
        if (guestNamed && HostPath.Inspect(localPath) == HostEntryKind.Link)
        {
            throw new TransferException(TransferFailureKind.DestinationIsLink,
                $"'{localPath}' is a link: a copy out of the guest never writes through links inside its destination.", localPath);
        }
        if (Directory.Exists(localPath))
        {
            throw new TransferException(TransferFailureKind.DestinationIsDirectory, $"'{localPath}' is a local folder.", localPath);
        }
        if (File.Exists(localPath) && !overwrite)
        {
            throw new TransferException(TransferFailureKind.DestinationExists, $"The local file '{localPath}' exists: add -Force to overwrite it.", localPath);
        }
        string? parent = Path.GetDirectoryName(localPath);
        if (parent is { Length: > 0 } && !Directory.Exists(parent) && !overwrite && !folderNotMadeForWhatIf)
        {
            throw new TransferException(TransferFailureKind.DestinationFolderNotFound,
                $"The local folder '{parent}' does not exist: create it first or add -Force.", localPath);
        }
    }

    /// <summary>
    /// Copies a guest file to <paramref name="localPath"/>: into a temporary file next to it,
    /// renamed over it only once complete (and verified), so no partial file is ever presented
    /// as complete. With Force a missing local folder is created. <paramref name="reportedSize"/>
    /// is the size the guest reported for it (0: unknown).
    /// </summary>
    public async Task<TransferResult> DownloadAsync(string guestPath, string localPath, long reportedSize, TransferOptions options,
        IProgress<TransferProgressInfo>? progress, CancellationToken cancellationToken)
    {
        string? parent = Path.GetDirectoryName(localPath);
        if (options.Force && parent is { Length: > 0 } && !Directory.Exists(parent))
        {
            Directory.CreateDirectory(parent);
        }

        var clock = Stopwatch.StartNew();
        string temp = localPath + TempSuffix();
        long handle = await OpenForReadAsync(guestPath, cancellationToken).ConfigureAwait(false);
        bool open = true;
        bool done = false;
        try
        {
            long received;
            string? digest;
            bool resumed;
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                (received, digest, handle, resumed) = await ReceiveAsync(handle, guestPath, output, reportedSize, options, progress, clock, true, cancellationToken).ConfigureAwait(false);
            }
            // Only a close that completed releases the handle: if it is cancelled on the way
            // (Ctrl+C right here), the finally block's bounded close must still run.
            try
            {
                await _fs.Commands.GuestFileCloseAsync(handle, _options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (TransferResume.IsResumable(ex))
            {
                // Everything was received; whether this close arrived is unknown. Closing again
                // is harmless either way.
                await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
            }
            open = false;

            // After a resume the bytes are checked against the guest file whether or not
            // -Verify asked: the source may have changed while the agent was away.
            digest ??= resumed ? LocalHash(temp) : null;
            if (digest is not null)
            {
                // Hashing only reads: asking again after an interruption is harmless.
                await TransferResume.WhenBackAsync(async () =>
                {
                    await VerifyAsync(guestPath, received, digest, options.ChunkSize, temp, localPath, localPath, cancellationToken).ConfigureAwait(false);
                    return true;
                }, cancellationToken).ConfigureAwait(false);
            }

            if (options.LastWriteNanoseconds is long mtime && FromUnixNanoseconds(mtime) is DateTime when)
            {
                File.SetLastWriteTimeUtc(temp, when);
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
            return new TransferResult(received, reportedSize, clock.Elapsed, digest, atomic: true);
        }
        catch (Exception ex)
        {
            throw MapTransfer(ex, guestPath, false, null);
        }
        finally
        {
            await FinishAsync(handle, open, done, () => DeleteLocalQuietly(temp)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Copies a guest file into <paramref name="destination"/>. The caller owns the stream, so
    /// what it holds after a failure is the caller's to discard; the read limit applies as for
    /// a file.
    /// </summary>
    public async Task<TransferResult> DownloadAsync(string guestPath, Stream destination, long reportedSize, TransferOptions options,
        IProgress<TransferProgressInfo>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        long handle = await OpenForReadAsync(guestPath, cancellationToken).ConfigureAwait(false);
        bool open = true;
        try
        {
            // No resume: the caller's stream may not be readable back for the final check.
            var (received, digest, _, _) = await ReceiveAsync(handle, guestPath, destination, reportedSize, options, progress, clock, false, cancellationToken).ConfigureAwait(false);
            await _fs.Commands.GuestFileCloseAsync(handle, _options, cancellationToken).ConfigureAwait(false);
            open = false;
            if (digest is not null)
            {
                await VerifyAsync(guestPath, received, digest, options.ChunkSize, null, guestPath, guestPath, cancellationToken).ConfigureAwait(false);
            }
            return new TransferResult(received, reportedSize, clock.Elapsed, digest, atomic: false);
        }
        catch (Exception ex)
        {
            throw MapTransfer(ex, guestPath, false, null);
        }
        finally
        {
            await FinishAsync(handle, open, true, () => Task.CompletedTask).ConfigureAwait(false);
        }
    }

    private async Task<long> OpenForReadAsync(string guestPath, CancellationToken ct)
    {
        try
        {
            return await _fs.Commands.GuestFileOpenAsync(guestPath, "rb", _options, ct).ConfigureAwait(false);
        }
        catch (QgaCommandException ex)
        {
            throw MapTransfer(ex, guestPath, false, null);
        }
    }

    /// <summary>
    /// Reads an open guest file to its end into <paramref name="output"/>, bounded; returns the
    /// count, with Verify its SHA-256, the handle it ended on and whether it resumed. With
    /// <paramref name="resumable"/>, an interruption resumes at the last byte received (see
    /// <see cref="ResumeDownloadAsync"/>): reads only move a position, so asking again from there
    /// is idempotent, and the running hash covers exactly the bytes kept.
    /// </summary>
    private async Task<(long Received, string? Digest, long Handle, bool Resumed)> ReceiveAsync(long handle, string guestPath, Stream output, long size,
        TransferOptions options, IProgress<TransferProgressInfo>? progress, Stopwatch clock, bool resumable, CancellationToken ct)
    {
        using var hash = options.Verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        long got = 0;
        int resumes = 0;
        long opened = handle;
        long limit = options.MaxBytes > 0 ? options.MaxBytes : size > 0 ? size : UnknownSizeLimit;
        string why = options.MaxBytes > 0 ? "-MaxBytes" : size > 0 ? "the size it reported" : "the limit for a file of unknown size; give -MaxBytes to read more";
        while (true)
        {
            try
            {
                if (BulkChannel is { } bulk && await ReceiveBulkAsync(bulk, handle, limit, got, guestPath, why, (b, o, n) =>
                    {
                        hash?.AppendData(b, o, n);
                        output.Write(b, o, n);
                        got += n;
                        progress?.Report(new TransferProgressInfo(got, size, clock.Elapsed));
                    }, ct).ConfigureAwait(false))
                {
                    break;
                }

                await ReadGuestAsync(handle, _fs.Profile.ReadChunk(options.ChunkSize), limit - got,
                    _ => new TransferException(TransferFailureKind.SourceSizeExceeded,
                        $"{TargetName} sent more of '{guestPath}' than {limit} bytes ({why}): the copy was stopped and nothing of it was kept.", guestPath),
                    async (b, n) =>
                    {
                        hash?.AppendData(b, 0, n);
                        if (output is FileStream)
                        {
                            // WriteAsync on a FileStream opened without FileOptions.Asynchronous
                            // runs the write on a pool thread: one more thread hand-off per block,
                            // each a wait for a CPU on a loaded host, for a write into the page cache.
                            output.Write(b, 0, n);
                        }
                        else
                        {
                            await output.WriteAsync(b, 0, n, ct).ConfigureAwait(false);
                        }
                        got += n;
                        progress?.Report(new TransferProgressInfo(got, size, clock.Elapsed));
                    },
                    ct).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (resumable && resumes < TransferResume.MaxPerFile && TransferResume.IsResumable(ex))
            {
                resumes++;
                handle = await ResumeDownloadAsync(handle, guestPath, got, ex, ct).ConfigureAwait(false);
            }
            catch when (handle != opened)
            {
                // The caller closes the handle it opened; a reopened one is this method's.
                await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
                throw;
            }
        }
        await output.FlushAsync(ct).ConfigureAwait(false);
        return (got, hash is null ? null : ToHex(hash.GetHashAndReset()), handle, resumes > 0);
    }

    /// <summary>
    /// After an interruption at <paramref name="received"/> bytes: a handle on the guest file
    /// positioned there. The agent's own handle when it still holds it, else the file opened
    /// again by its path (the final hash check then compares the whole guest file with what
    /// arrived, so a file changed or replaced meanwhile ends as VerifyFailed, never as a mix).
    /// </summary>
    private async Task<long> ResumeDownloadAsync(long handle, string guestPath, long received, Exception interruption, CancellationToken ct)
    {
        try
        {
            GuestFileSeek at = await TransferResume.WhenBackAsync(
                () => _fs.Commands.GuestFileSeekAsync(handle, received, (GuestFileWhence)QGASeek.Set, _options, ct), ct).ConfigureAwait(false);
            if (at.Position != received)
            {
                throw NotResumed(guestPath, interruption, $"the agent put handle {handle} at {at.Position}, not {received}");
            }
            return handle;
        }
        catch (QgaCommandException ex) when (GuestErrorText.IsHandleGone(ex))
        {
            // A new agent process: the handle went with the old one.
        }

        long reopened = await _fs.Commands.GuestFileOpenAsync(guestPath, "rb", _options, ct).ConfigureAwait(false);
        try
        {
            GuestFileSeek at = await _fs.Commands.GuestFileSeekAsync(reopened, received, (GuestFileWhence)QGASeek.Set, _options, ct).ConfigureAwait(false);
            if (at.Position != received)
            {
                throw NotResumed(guestPath, interruption, $"the agent put the reopened file at {at.Position}, not {received}");
            }
        }
        catch
        {
            await _fs.CloseQuietlyAsync(reopened).ConfigureAwait(false);
            throw;
        }
        return reopened;
    }

    /// <summary>
    /// The binary bulk mode out of the guest: a read of one turn (<see cref="BulkTurn"/>) at the
    /// handle's position after another until the agent reports the end of the file, each checked
    /// frame straight into <paramref name="sink"/> on the channel's receive path (a resume
    /// continues from the last frame kept). Between two turns the channel is free for other
    /// clients of the VM. One byte more than the limit is asked for in all, so a file larger
    /// than it is caught as with guest-file-read. False when the channel refused the mode
    /// before anything moved.
    /// </summary>
    private async Task<bool> ReceiveBulkAsync(IGuestAgentBulkChannel bulk, long handle, long limit, long got, string guestPath, string why, Action<byte[], int, int> sink, CancellationToken ct)
    {
        var turn = new BulkTurn();
        long received = got;
        while (true)
        {
            long left = limit - received + 1;
            long count = BulkWholeFile ? left : turn.Next(left);
            GuestBulkResult result;
            try
            {
                result = await bulk.ReadBulkAsync(handle, count, (b, o, n) =>
                {
                    turn.Started();
                    // Checked before the bytes go anywhere: the sink never holds more than the limit.
                    if (received + n > limit)
                    {
                        throw new TransferException(TransferFailureKind.SourceSizeExceeded,
                            $"{TargetName} sent more of '{guestPath}' than {limit} bytes ({why}): the copy was stopped and nothing of it was kept.", guestPath);
                    }

                    sink(b, o, n);
                    received += n;
                }, BulkIdleTimeout, ct).ConfigureAwait(false);
            }
            catch (QgaCommandException ex) when (IsBulkRefusal(ex) && received == got && got == 0)
            {
                _fs.Profile.BulkRefused = true;
                return false;
            }

            // The channel checked that the count is what came in frames; a read ends at the end
            // of the file, or when a turn brings nothing (a device with no more to give).
            if (result.Eof || result.Count == 0)
            {
                return true;
            }

            turn.Ended(result.Count);
        }
    }

    /// <summary>
    /// Streams a guest file through <paramref name="sink"/> in order, with up to Depth reads in
    /// flight (each into its own buffer). Returns the byte count.
    /// </summary>
    private async Task<long> ReadGuestAsync(long handle, int chunk, long limit, Func<long, Exception> tooMuch, Func<byte[], int, Task> sink, CancellationToken ct)
    {
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
                    pending.Enqueue((GuestFileIO.ReadAsync(_channel, handle, new Memory<byte>(b, 0, chunk), _options, ct), b));
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

    // ------------------------------------------------------------------ both directions

    /// <summary>
    /// The one verify step: <paramref name="digest"/> (what was sent or received) against the
    /// guest file's SHA-256, hashed in the guest or, failing that, by reading it back; out of the
    /// guest also against what landed in <paramref name="writtenFile"/>. <paramref name="localTarget"/>
    /// is null into the guest; out of it, the path the message names.
    /// </summary>
    private async Task VerifyAsync(string guestPath, long bytes, string digest, int chunkWish, string? writtenFile, string? localTarget, string target, CancellationToken ct)
    {
        string guestDigest = await _fs.HashAsync(guestPath, ct).ConfigureAwait(false)
            ?? await HashByReadingAsync(guestPath, chunkWish, bytes, ct).ConfigureAwait(false);
        if (localTarget is null)
        {
            if (!string.Equals(digest, guestDigest, StringComparison.OrdinalIgnoreCase))
            {
                throw new TransferException(TransferFailureKind.VerifyFailed,
                    $"Verification failed for '{target}': SHA-256 {digest} here, {guestDigest} in the guest.", target);
            }
            return;
        }
        string localDigest = writtenFile is null ? digest : LocalHash(writtenFile);
        if (!string.Equals(digest, guestDigest, StringComparison.OrdinalIgnoreCase) || !string.Equals(digest, localDigest, StringComparison.Ordinal))
        {
            throw new TransferException(TransferFailureKind.VerifyFailed,
                $"Verification failed for '{localTarget}': SHA-256 {guestDigest} in the guest, {localDigest} written here.", target);
        }
    }

    private async Task<string> HashByReadingAsync(string guestPath, int chunkWish, long expected, CancellationToken ct)
    {
        long handle = await _fs.Commands.GuestFileOpenAsync(guestPath, "rb", _options, ct).ConfigureAwait(false);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            // Reading back what was just written: more bytes than that cannot hash equal.
            await ReadGuestAsync(handle, _fs.Profile.ReadChunk(chunkWish), expected,
                _ => new TransferException(TransferFailureKind.VerifyFailed, $"Verification failed for '{guestPath}': the guest file holds more than the {expected} bytes copied.", guestPath),
                (b, n) =>
                {
                    hash.AppendData(b, 0, n);
                    return Task.CompletedTask;
                },
                ct).ConfigureAwait(false);
            return ToHex(hash.GetHashAndReset());
        }
        finally
        {
            await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Both directions run this whatever happened (success, failure, Ctrl+C): a guest handle
    /// still open is closed (bounded, even after cancellation), and a destination that did not
    /// complete is discarded, so no partial file is ever presented as complete.
    /// </summary>
    private async Task FinishAsync(long handle, bool open, bool done, Func<Task> discardDestination)
    {
        if (open)
        {
            await _fs.CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
        if (!done)
        {
            await discardDestination().ConfigureAwait(false);
        }
    }

    /// <summary>Maps a failure while moving data to its <see cref="TransferFailureKind"/>, once, where the direction is known.</summary>
    private static Exception MapTransfer(Exception ex, string target, bool guestIsDestination, string? leftOver)
    {
        if (ex is TransferException or OperationCanceledException)
        {
            return ex;
        }
        // A handle the agent no longer holds: a new agent process answered (restart, reboot).
        if (ex is QgaDisconnectedException or QgaTimeoutException or QgaProtocolException || GuestErrorText.IsRelayInterruption(ex) || GuestErrorText.IsHandleGone(ex))
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

    /// <summary>A failure of the local side (read the source, write the destination) as its <see cref="TransferFailureKind"/>.</summary>
    public static TransferException MapLocal(Exception ex, string target) => ex switch
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
}
