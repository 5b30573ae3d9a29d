using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

public enum GuestEntryKind
{
    File,
    Directory,
    Other,
}

public readonly struct GuestEntry
{
    public GuestEntry(GuestEntryKind kind, long size)
    {
        Kind = kind;
        Size = size;
    }

    public GuestEntryKind Kind { get; }

    public long Size { get; }
}

/// <summary>
/// Guest filesystem operations for the task cmdlets, each with a ladder of strategies:
/// QemuGuest extension when guest-info lists it, else stock file commands, else standard tools
/// through guest-exec (POSIX: mkdir, mv, rm, sha256sum, find; Windows: cmd, certutil).
/// </summary>
internal sealed class GuestFs
{
    private readonly GuestAgentCommands _commands;
    private readonly QgaCallOptions _options;

    // Set once the guest's touch refused a fraction of a second (busybox's): later files go
    // straight to whole seconds instead of paying a refused guest-exec each.
    private volatile bool _touchTakesWholeSecondsOnly;

    public GuestFs(IGuestAgentChannel channel, AgentProfile profile, QgaCallOptions options)
    {
        _commands = new GuestAgentCommands(channel);
        Profile = profile;
        _options = options;
    }

    public AgentProfile Profile { get; }

    public GuestAgentCommands Commands => _commands;

    public QgaCallOptions CallOptions => _options;

    /// <summary>True when a finished temporary file can be renamed into place (atomic copy).</summary>
    public bool CanRename => Profile.Has(AgentProfile.Rename) || Profile.CanExec;

    public string Join(string folder, string relative)
    {
        char sep = Profile.Separator;
        relative = relative.Replace('/', sep).Replace('\\', sep);
        return folder.Length > 0 && (folder[folder.Length - 1] == '/' || folder[folder.Length - 1] == sep) ? folder + relative : folder + sep + relative;
    }

    public static string LeafName(string path)
    {
        string trimmed = path.TrimEnd('/', '\\');
        int i = trimmed.LastIndexOfAny(new[] { '/', '\\' });
        return i < 0 ? trimmed : trimmed.Substring(i + 1);
    }

    public static string? Parent(string path)
    {
        string trimmed = path.TrimEnd('/', '\\');
        int i = trimmed.LastIndexOfAny(new[] { '/', '\\' });
        return i <= 0 ? (i == 0 ? trimmed.Substring(0, 1) : null) : trimmed.Substring(0, i);
    }

    /// <summary>What is at <paramref name="path"/>, or null when nothing is.</summary>
    public async Task<GuestEntry?> StatAsync(string path, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Stat))
        {
            try
            {
                var info = await _commands.GuestFileStatAsync(path, true, _options, cancellationToken).ConfigureAwait(false);
                var kind = info.Type switch
                {
                    GuestFileType.File => GuestEntryKind.File,
                    GuestFileType.Directory => GuestEntryKind.Directory,
                    _ => GuestEntryKind.Other,
                };
                return new GuestEntry(kind, info.Size);
            }
            catch (QgaCommandException ex) when (GuestErrorText.IsMissing(ex))
            {
                return null;
            }
        }

        // Stock agent: open read-only (POSIX opens directories too), then tell a directory by
        // its read failing with EISDIR, and size a file by seeking to its end.
        long handle;
        try
        {
            handle = await _commands.GuestFileOpenAsync(path, "r", _options, cancellationToken).ConfigureAwait(false);
        }
        catch (QgaCommandException ex) when (GuestErrorText.IsMissing(ex))
        {
            return null;
        }
        catch (QgaCommandException ex) when (Profile.IsWindows && GuestErrorText.IsPermission(ex))
        {
            // Windows refuses to open a directory as a file: "access denied".
            return new GuestEntry(GuestEntryKind.Directory, 0);
        }
        catch (QgaCommandException ex) when (!Profile.IsWindows && Profile.CanExec && GuestErrorText.IsPermission(ex) && path.StartsWith("/", StringComparison.Ordinal))
        {
            // An item the agent may not open (a folder of mode 000) still exists: find states it
            // with only search permission on its folder.
            // A find that cannot state it either leaves the agent's own refusal standing.
            return await StatUnreadableAsync(path, cancellationToken).ConfigureAwait(false) ?? throw Rethrow(ex);
        }
        try
        {
            try
            {
                await _commands.GuestFileReadAsync(handle, 1, _options, cancellationToken).ConfigureAwait(false);
            }
            catch (QgaCommandException ex) when (GuestErrorText.IsDirectoryError(ex))
            {
                return new GuestEntry(GuestEntryKind.Directory, 0);
            }
            var end = await _commands.GuestFileSeekAsync(handle, 0, (GuestFileWhence)QGASeek.End, _options, cancellationToken).ConfigureAwait(false);
            return new GuestEntry(GuestEntryKind.File, end.Position);
        }
        finally
        {
            await CloseQuietlyAsync(handle).ConfigureAwait(false);
        }
    }

    private async Task<GuestEntry?> StatUnreadableAsync(string path, CancellationToken cancellationToken)
    {
        var outcome = await RunAsync("find", new[] { "-H", path, "-maxdepth", "0", "-printf", "%y %s" }, path, cancellationToken).ConfigureAwait(false);
        return outcome.ExitCode == 0 ? ParseFindStat(Encoding.UTF8.GetString(outcome.StdOut)) : null;
    }

    /// <summary>
    /// find's "%y %s" for one item, or null for anything else: the guest wrote it, so only one
    /// type letter, one space and a plain decimal size that fits 64 bits are believed.
    /// </summary>
    internal static GuestEntry? ParseFindStat(string text)
    {
        if (text.Length < 3 || text[1] != ' ' || "fdlbcps".IndexOf(text[0]) < 0 || !long.TryParse(text.Substring(2), NumberStyles.None, CultureInfo.InvariantCulture, out long size))
        {
            return null;
        }
        return text[0] switch
        {
            'f' => new GuestEntry(GuestEntryKind.File, size),
            'd' => new GuestEntry(GuestEntryKind.Directory, 0),
            _ => new GuestEntry(GuestEntryKind.Other, size),
        };
    }

    /// <summary>Rethrows a caught exception with its own stack (a plain <c>throw ex</c> would start a new one).</summary>
    private static Exception Rethrow(Exception ex)
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex).Throw();
        return ex;
    }

    /// <summary>Closes a guest handle on a best-effort basis, bounded, even after cancellation.</summary>
    public async Task CloseQuietlyAsync(long handle)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _commands.GuestFileCloseAsync(handle, new QgaCallOptions { Timeout = TimeSpan.FromSeconds(5) }, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QgaException or OperationCanceledException)
        {
        }
    }

    public async Task MkdirAsync(string path, bool parents, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Mkdir))
        {
            await _commands.GuestFileMkdirAsync(path, parents, null, _options, cancellationToken).ConfigureAwait(false);
            return;
        }
        ExecOutcome outcome = Profile.IsWindows
            ? await RunCmdAsync("mkdir", Array.Empty<string>(), new[] { path }, path, cancellationToken).ConfigureAwait(false)
            : await RunAsync("mkdir", parents ? new[] { "-p", "--", path } : new[] { "--", path }, path, cancellationToken).ConfigureAwait(false);
        ThrowIfFailed(outcome, "mkdir", path);
    }

    /// <summary>
    /// True when a file the cmdlets create can be given its mode before any data reaches it:
    /// our agent's set-attributes, or (stock agent, POSIX guest) a shell through guest-exec.
    /// </summary>
    public bool CanSetMode => Profile.Has(AgentProfile.SetAttributes) || CreatesBeforeOpen;

    /// <summary>
    /// True when <see cref="CreatePrivateAsync"/> must make the file before guest-file-open: the
    /// stock agent creates files 0666 whatever the umask, but leaves the mode of a file that
    /// already exists alone.
    /// </summary>
    public bool CreatesBeforeOpen => !Profile.Has(AgentProfile.SetAttributes) && Profile.CanExec && !Profile.IsWindows;

    /// <summary>
    /// Creates <paramref name="path"/> empty, exclusively (noclobber: O_EXCL, so a planted file
    /// or link fails it), readable by its owner only (umask 077), then gives it
    /// <paramref name="mode"/>: no other guest user can open it at any point.
    /// </summary>
    public async Task CreatePrivateAsync(string path, int mode, CancellationToken cancellationToken)
    {
        string octal = Convert.ToString(mode & 0x1FF, 8);
        ExecOutcome outcome = await RunAsync("sh", new[] { "-c", "umask 077 && set -C && : > \"$1\" && chmod -- \"$2\" \"$1\"", "sh", path, octal }, path, cancellationToken).ConfigureAwait(false);
        ThrowIfFailed(outcome, "sh (create " + octal + ")", path);
    }

    /// <summary>Gives <paramref name="path"/> the permission bits <paramref name="mode"/> (our agent's set-attributes).</summary>
    public Task SetModeAsync(string path, int mode, CancellationToken cancellationToken) =>
        _commands.GuestFileSetAttributesAsync(path, mode & 0x1FF, null, null, null, _options, cancellationToken);

    /// <summary>
    /// Gives <paramref name="path"/> the modification time <paramref name="nanoseconds"/> (since
    /// 1970 UTC): our agent's set-attributes, else touch through guest-exec on a POSIX guest
    /// (to the nanosecond with GNU touch, to the second with busybox's). False when the agent
    /// offers neither (a Windows guest's stock agent, or no guest-exec) or the guest's touch
    /// refused both forms.
    /// </summary>
    public async Task<bool> SetLastWriteAsync(string path, long nanoseconds, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.SetAttributes))
        {
            await _commands.GuestFileSetAttributesAsync(path, null, nanoseconds, null, null, _options, cancellationToken).ConfigureAwait(false);
            return true;
        }
        if (Profile.IsWindows || !Profile.CanExec || nanoseconds < 0)
        {
            return false;
        }
        string seconds = "@" + (nanoseconds / 1_000_000_000L).ToString(CultureInfo.InvariantCulture);
        long fraction = nanoseconds % 1_000_000_000L;
        if (fraction != 0 && !_touchTakesWholeSecondsOnly)
        {
            ExecOutcome precise = await RunAsync("touch", new[] { "-m", "-c", "-d", seconds + "." + fraction.ToString("D9", CultureInfo.InvariantCulture), "--", path }, path, cancellationToken).ConfigureAwait(false);
            if (precise.ExitCode == 0)
            {
                return true;
            }
        }
        // Busybox's touch refuses a fraction ("invalid date '@1700000000.5'") but takes whole
        // seconds: the file then holds the second, which GuestSync.SameTime takes as the same
        // time, so the next sync decides by size and time instead of hashing the file again.
        ExecOutcome whole = await RunAsync("touch", new[] { "-m", "-c", "-d", seconds, "--", path }, path, cancellationToken).ConfigureAwait(false);
        if (whole.ExitCode != 0)
        {
            return false;
        }

        // Only a touch that takes seconds but refused the fraction is remembered as busybox-like.
        _touchTakesWholeSecondsOnly |= fraction != 0;
        return true;
    }

    /// <summary>Renames <paramref name="source"/> to <paramref name="destination"/> in one step (replacing it when <paramref name="overwrite"/>).</summary>
    public async Task RenameAsync(string source, string destination, bool overwrite, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Rename))
        {
            await _commands.GuestFileRenameAsync(source, destination, overwrite, _options, cancellationToken).ConfigureAwait(false);
            return;
        }
        // rename(2) through mv: atomic within one filesystem (the temporary file sits next to
        // the destination). -T: never move into a directory of that name. -n when not overwriting.
        ExecOutcome outcome = Profile.IsWindows
            ? await RunCmdAsync("move", new[] { overwrite ? "/y" : "/-y" }, new[] { source, destination }, destination, cancellationToken).ConfigureAwait(false)
            : await RunAsync("mv", new[] { "-f", "-T", "--", source, destination }, destination, cancellationToken).ConfigureAwait(false);
        ThrowIfFailed(outcome, "mv", destination);
    }

    /// <summary>Removes a file on a best-effort basis (cleanup of temporary files); false when it could not.</summary>
    public async Task<bool> RemoveQuietlyAsync(string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var options = new QgaCallOptions { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            if (Profile.Has(AgentProfile.Remove))
            {
                await _commands.GuestFileRemoveAsync(path, false, true, options, cts.Token).ConfigureAwait(false);
                return true;
            }
            if (Profile.CanExec)
            {
                ExecOutcome outcome = Profile.IsWindows
                    ? await GuestExecRunner.RunToolAsync(_commands, Profile, "cmd.exe", CmdLine("del", new[] { "/f", "/q" }, 1), path, options, cts.Token, TimeSpan.FromSeconds(5), CmdPaths(new[] { path }, path)).ConfigureAwait(false)
                    : await GuestExecRunner.RunToolAsync(_commands, Profile, "rm", new[] { "-f", "--", path }, path, options, cts.Token, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                return outcome.ExitCode == 0;
            }
        }
        catch (Exception ex) when (ex is QgaException or OperationCanceledException or TransferException)
        {
        }
        return false;
    }

    /// <summary>
    /// Removes a file, link or folder (<paramref name="recursive"/>: with everything in it). The
    /// tree is walked in the guest (our remove extension, else rm -r / rmdir /s through
    /// guest-exec), never from a listing here, so no name the guest lists can steer it, and a
    /// link is removed itself, never followed.
    /// </summary>
    public async Task RemoveAsync(string path, bool folder, bool recursive, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Remove))
        {
            await _commands.GuestFileRemoveAsync(path, recursive, false, _options, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (!Profile.CanExec)
        {
            throw new TransferException(TransferFailureKind.AgentFeatureUnavailable,
                $"Removing '{PathComponent.Printable(path)}' needs QemuGuest's agent, or an agent that allows guest-exec.", path);
        }
        ExecOutcome outcome = Profile.IsWindows
            ? await RunAsync("cmd.exe", folder ? (recursive ? new[] { "/c", "rmdir", "/s", "/q", path } : new[] { "/c", "rmdir", path }) : new[] { "/c", "del", "/f", "/q", path },
                path, cancellationToken, TimeSpan.FromMinutes(10)).ConfigureAwait(false)
            : await RunAsync("rm", recursive ? new[] { "-r", "--one-file-system", "--", path } : folder ? new[] { "-d", "--", path } : new[] { "--", path },
                path, cancellationToken, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        ThrowIfFailed(outcome, Profile.IsWindows ? "cmd.exe" : "rm", path);
    }

    /// <summary>
    /// True when <paramref name="path"/> is itself a symbolic link (or junction); null when the
    /// agent offers no way to tell (stock agent without guest-exec, or on Windows).
    /// </summary>
    public async Task<bool?> IsLinkAsync(string path, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Stat))
        {
            try
            {
                var info = await _commands.GuestFileStatAsync(path, false, _options, cancellationToken).ConfigureAwait(false);
                return info.Type == GuestFileType.Symlink;
            }
            catch (QgaCommandException ex) when (GuestErrorText.IsMissing(ex))
            {
                return false;
            }
        }
        if (Profile.IsWindows || !Profile.CanExec)
        {
            return null;
        }
        ExecOutcome outcome = await RunAsync("test", new[] { "-L", path }, path, cancellationToken).ConfigureAwait(false);
        return outcome.ExitCode == 0;
    }

    /// <summary>SHA-256 (lower-case hex) of a guest file, or null when the agent offers no way to hash in the guest.</summary>
    public async Task<string?> HashAsync(string path, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Hash))
        {
            var longCall = new QgaCallOptions { Timeout = TimeSpan.FromHours(1) };
            var h = await _commands.GuestFileHashAsync(path, GuestFileHashAlgorithm.Sha256, null, null, longCall, cancellationToken).ConfigureAwait(false);
            return h.Hash.ToLowerInvariant();
        }
        if (!Profile.CanExec)
        {
            return null;
        }
        if (Profile.IsWindows)
        {
            var o = await RunAsync("certutil.exe", new[] { "-hashfile", path, "SHA256" }, path, cancellationToken, TimeSpan.FromHours(1)).ConfigureAwait(false);
            ThrowIfFailed(o, "certutil", path);
            foreach (var line in Encoding.UTF8.GetString(o.StdOut).Split('\n'))
            {
                string hex = line.Trim().Replace(" ", string.Empty);
                if (hex.Length == 64 && IsHex(hex))
                {
                    return hex.ToLowerInvariant();
                }
            }
            return null;
        }
        var outcome = await RunAsync("sha256sum", new[] { "-b", "--", path }, path, cancellationToken, TimeSpan.FromHours(1)).ConfigureAwait(false);
        if (outcome.ExitCode == 127)
        {
            return null;
        }
        ThrowIfFailed(outcome, "sha256sum", path);
        string text = Encoding.UTF8.GetString(outcome.StdOut).TrimStart('\\');
        return text.Length >= 64 && IsHex(text.Substring(0, 64)) ? text.Substring(0, 64).ToLowerInvariant() : null;
    }

    /// <summary>
    /// SHA-256 of the first <paramref name="length"/> bytes of <paramref name="path"/> when it is
    /// a regular file itself (not a link, not missing) of at least that length; null when it is
    /// not, or when the agent offers no way to tell (stock agent without guest-exec, Windows).
    /// How a resumed copy checks that a temporary file is still the one it wrote.
    /// </summary>
    public async Task<string?> RegularFilePrefixHashAsync(string path, long length, CancellationToken cancellationToken)
    {
        if (Profile.Has(AgentProfile.Stat) && Profile.Has(AgentProfile.Hash))
        {
            GuestFileInfo info;
            try
            {
                info = await _commands.GuestFileStatAsync(path, false, _options, cancellationToken).ConfigureAwait(false);
            }
            catch (QgaCommandException ex) when (GuestErrorText.IsMissing(ex))
            {
                return null;
            }
            if (info.Type != GuestFileType.File || info.Size < length)
            {
                return null;
            }
            var longCall = new QgaCallOptions { Timeout = TimeSpan.FromHours(1) };
            var h = await _commands.GuestFileHashAsync(path, GuestFileHashAlgorithm.Sha256, 0, length, longCall, cancellationToken).ConfigureAwait(false);
            return h.Hash.ToLowerInvariant();
        }
        if (!Profile.CanExec || Profile.IsWindows)
        {
            return null;
        }
        // test -h before test -f: -f follows a link. head -c reads at most length bytes; a
        // shorter file hashes differently, which is the answer wanted.
        var outcome = await RunAsync("sh", new[] { "-c", "test ! -h \"$1\" && test -f \"$1\" && head -c \"$2\" -- \"$1\" | sha256sum -b", "sh", path,
            length.ToString(CultureInfo.InvariantCulture) }, path, cancellationToken, TimeSpan.FromHours(1)).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            return null;
        }
        string text = Encoding.UTF8.GetString(outcome.StdOut).TrimStart('\\');
        return text.Length >= 64 && IsHex(text.Substring(0, 64)) ? text.Substring(0, 64).ToLowerInvariant() : null;
    }

    private static bool IsHex(string s)
    {
        foreach (char c in s)
        {
            if (!Uri.IsHexDigit(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// A lister for the folders under <paramref name="root"/>: our list extension (one folder,
    /// page by page, when asked), else GNU find through guest-exec (one run for the whole tree,
    /// or only the root's own entries when not <paramref name="recursive"/>, bounded by the
    /// agent's output cap, then served per folder). Both return raw guest values: checking them
    /// is the caller's, in one place, whichever strategy produced them.
    /// </summary>
    public async Task<GuestFolderLister> OpenListingAsync(string root, GuestListingBudget budget, CancellationToken cancellationToken, bool recursive = true)
    {
        if (Profile.Has(AgentProfile.List))
        {
            return new ExtensionLister(this, budget);
        }
        if (Profile.IsWindows || !Profile.CanExec)
        {
            throw new TransferException(TransferFailureKind.AgentFeatureUnavailable,
                $"Listing the guest folder '{root}' needs QemuGuest's agent, or a Linux guest whose agent allows guest-exec (for find).", root);
        }
        // -H: a root that is a link to a folder is listed, as the list extension does; links
        // below it are listed as links, never followed.
        var args = new List<string> { "-H", root, "-mindepth", "1" };
        if (!recursive)
        {
            args.AddRange(new[] { "-maxdepth", "1" });
        }
        args.AddRange(FindLister.PrintfArguments);
        var outcome = await RunAsync("find", args.ToArray(), root, cancellationToken, TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        // find exits 1 when it could not read some folders, having listed all the rest: those
        // folders are refused one by one as the walk reaches them (Get-ChildItem -Recurse goes on
        // past them; a copy or a sync stops there, as with the list extension).
        HashSet<string>? denied = outcome.ExitCode == 1 && !outcome.StdErrTruncated
            ? FindLister.DeniedFolders(Encoding.UTF8.GetString(outcome.StdErr), root)
            : null;
        if (denied is null)
        {
            ThrowIfFailed(outcome, "find", root);
        }
        if (outcome.StdOutTruncated)
        {
            throw new TransferException(TransferFailureKind.ListingTooLargeForAgent,
                $"The guest folder '{root}' has too many entries to list through guest-exec (output truncated at the agent's limit).", root);
        }
        var lister = FindLister.Parse(Encoding.UTF8.GetString(outcome.StdOut), budget);
        if (denied is not null && !lister.Deny(denied))
        {
            ThrowIfFailed(outcome, "find", root);
        }
        return lister;
    }

    private Task<ExecOutcome> RunAsync(string tool, string[] args, string target, CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        GuestExecRunner.RunToolAsync(_commands, Profile, tool, args, target, _options, cancellationToken, timeout ?? TimeSpan.FromMinutes(2));

    /// <summary>
    /// Runs the cmd.exe built-in <paramref name="builtin"/> on guest paths. cmd parses the command
    /// line the agent built once more: % expands variables even inside quotes, and &amp; | &lt; &gt; ^
    /// outside quotes start other commands (the agent quotes an argument only when it has a
    /// space), so a file named "a&amp;b.txt" or "100%PATH%.txt" was another command or another
    /// name (found under Wine: "p %PATH% x.txt" was never renamed). So no path is on the command
    /// line: each travels in an environment variable, quoted inside its value; cmd expands
    /// %QEMUGUEST_PATHn% once, does not expand what it got, and the quotes keep &amp; ^ ( ) literal.
    /// </summary>
    private Task<ExecOutcome> RunCmdAsync(string builtin, string[] switches, string[] paths, string target, CancellationToken cancellationToken) =>
        GuestExecRunner.RunToolAsync(_commands, Profile, "cmd.exe", CmdLine(builtin, switches, paths.Length), target, _options, cancellationToken,
            TimeSpan.FromMinutes(2), CmdPaths(paths, target));

    /// <summary>/d: no AutoRun commands from the registry; /v:off: no ! expansion whatever the guest's default.</summary>
    private static string[] CmdLine(string builtin, string[] switches, int pathCount)
    {
        var args = new List<string> { "/d", "/v:off", "/c", builtin };
        args.AddRange(switches);
        for (int i = 1; i <= pathCount; i++)
        {
            args.Add("%QEMUGUEST_PATH" + i.ToString(CultureInfo.InvariantCulture) + "%");
        }
        return args.ToArray();
    }

    /// <summary>
    /// The environment of <see cref="CmdLine"/>: QEMUGUEST_PATHn="path", with / made \ (cmd's
    /// built-ins read "z:/x/y" as switches: mkdir said "Path not found."). A double quote would
    /// end the quoting; Windows names cannot contain one, so such a path is refused here.
    /// </summary>
    private static string[] CmdPaths(string[] paths, string target)
    {
        var env = new string[paths.Length];
        for (int i = 0; i < paths.Length; i++)
        {
            if (paths[i].IndexOf('"') >= 0)
            {
                throw new TransferException(TransferFailureKind.InvalidGuestName,
                    $"A Windows guest path cannot contain a double quote: {GuestText.Printable(paths[i])}", target);
            }
            env[i] = "QEMUGUEST_PATH" + (i + 1).ToString(CultureInfo.InvariantCulture) + "=\"" + paths[i].Replace('/', '\\') + "\"";
        }
        return env;
    }

    private static void ThrowIfFailed(ExecOutcome outcome, string tool, string target)
    {
        if (outcome.ExitCode == 0)
        {
            return;
        }
        string err = Encoding.UTF8.GetString(outcome.StdErr).Trim();
        string message = $"{tool} failed in the guest (exit {outcome.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "signal " + outcome.Signal}): {err}";
        var inner = new QgaGenericErrorException("guest-exec", err);
        if (GuestErrorText.IsPermission(err))
        {
            throw new TransferException(TransferFailureKind.PermissionDenied, message, target, inner);
        }
        if (GuestErrorText.IsDiskFull(err))
        {
            throw new TransferException(TransferFailureKind.DiskFull, message, target, inner);
        }
        if (GuestErrorText.IsMissing(err))
        {
            throw new TransferException(TransferFailureKind.DestinationFolderNotFound, message, target, inner);
        }
        if (GuestErrorText.IsExists(err))
        {
            throw new TransferException(TransferFailureKind.DestinationExists, message, target, inner);
        }
        throw new TransferException(TransferFailureKind.GuestCommandFailed, message, target, inner);
    }
}
