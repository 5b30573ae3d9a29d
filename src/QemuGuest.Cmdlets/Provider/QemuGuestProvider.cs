using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Provider;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Cmdlets.Tasks;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Cmdlets.Provider;

/// <summary>
/// A guest's file system as a PowerShell drive (about_QemuGuest_Provider):
/// New-PSDrive -PSProvider QemuGuest -Root / -VMName web1, then Get-ChildItem, Get-Item,
/// Test-Path, Set-Location, Get-Content, Set-Content, New-Item, Remove-Item, Rename-Item and
/// Move-Item on web1:/... Every operation goes through the same engine as Copy-VMGuestFile
/// (listing strategies and bounds, atomic writes, stock-agent fallbacks). Guest names are
/// hostile: a listed name that cannot be addressed as exactly that item through a PowerShell
/// path (not one component, a backslash on a POSIX guest, control characters) is reported as
/// InvalidGuestName and never handed to PowerShell, so globbing (Remove-Item web1:/x/*) cannot
/// turn it into a path outside the folder; every path is checked to lie within the drive's root.
/// </summary>
[CmdletProvider(ProviderName, ProviderCapabilities.Filter | ProviderCapabilities.ShouldProcess)]
[OutputType(typeof(GuestChildItem), ProviderCmdlet = ProviderCmdlet.GetChildItem)]
[OutputType(typeof(GuestChildItem), ProviderCmdlet = ProviderCmdlet.GetItem)]
[OutputType(typeof(string), ProviderCmdlet = ProviderCmdlet.GetContent)]
public sealed class QemuGuestProvider : NavigationCmdletProvider, IContentCmdletProvider
{
    public const string ProviderName = "QemuGuest";

    /// <summary>How long Ctrl+C waits for a cancelled call's cleanup (closing guest handles) before the prompt returns.</summary>
    private static readonly TimeSpan CleanupBound = TimeSpan.FromSeconds(16);

    // ------------------------------------------------------------------ drives

    protected override object NewDriveDynamicParameters() => new QemuGuestDriveParameters();

    protected override PSDriveInfo? NewDrive(PSDriveInfo drive)
    {
        if (drive is QemuGuestDriveInfo)
        {
            return drive;
        }
        var p = DynamicParameters as QemuGuestDriveParameters;
        if (p is null || (p.Session is null) == string.IsNullOrEmpty(p.VMName))
        {
            WriteError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                "Give exactly one of -VMName or -Session for a QemuGuest drive.", drive.Name));
            return null;
        }
        if (!GuestTransferEngine.IsAbsolute(drive.Root ?? string.Empty))
        {
            WriteError(ErrorTable.RelativeGuestPathError(drive.Root ?? string.Empty));
            return null;
        }
        GuestSession session;
        bool owns = false;
        if (p.Session is { } given)
        {
            if (given.IsDisposed)
            {
                WriteError(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ResourceUnavailable, $"The session '{given.Name}' (Id {given.Id}) is closed.", given));
                return null;
            }
            session = given;
        }
        else
        {
            string vm = p.VMName!;
            if (WildcardPattern.ContainsWildcardCharacters(vm))
            {
                WriteError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                    $"A drive is one guest's: give one VM name, not the pattern '{GuestTextOf(vm)}'.", vm));
                return null;
            }
            GuestSession? found = SessionRegistry.FindByName(vm);
            if (found is null)
            {
                try
                {
                    found = SessionFactory.OpenForVM(vm, temporary: true);
                    owns = true;
                }
                catch (Exception ex) when (ex is not PipelineStoppedException)
                {
                    var record = ex is GuestTaskException task ? ErrorTable.ToErrorRecord(task, vm)
                        : ErrorTable.Create(ErrorTable.VMNotFound, ErrorCategory.ObjectNotFound, $"No session named '{vm}' and no relay endpoint for VM '{vm}': {ex.Message}", vm);
                    WriteError(ErrorTable.ForVM(record, vm));
                    return null;
                }
            }
            session = found;
        }

        var info = new QemuGuestDriveInfo(drive, drive.Root!, session, owns, p.TimeoutSec > 0 ? TimeSpan.FromSeconds(p.TimeoutSec) : null);
        try
        {
            // Asks the agent now: a drive that exists is one whose agent answered, and the
            // root's separators are the guest's from here on.
            var engine = Run(info, (e, _, ct) => Task.FromResult(e));
            string root = Normalize(engine, info.GuestRoot, info.GuestRoot);
            var created = new QemuGuestDriveInfo(drive, root, session, owns, p.TimeoutSec > 0 ? TimeSpan.FromSeconds(p.TimeoutSec) : null);
            return created;
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            info.Close();
            WriteError(ErrorTable.ForVM(ErrorTable.ToErrorRecord(ex, drive.Root), session.TargetName));
            return null;
        }
    }

    protected override PSDriveInfo RemoveDrive(PSDriveInfo drive)
    {
        (drive as QemuGuestDriveInfo)?.Close();
        return drive;
    }

    // ------------------------------------------------------------------ paths

    // Empty is the drive's root as PowerShell keeps it (QemuGuestDriveInfo).
    protected override bool IsValidPath(string path) => path is not null;

    /// <summary>
    /// The last component of a path, read from the text alone. PowerShell asks this for every
    /// item a listing writes; the base method first asks <see cref="ItemExists"/>, a guest round
    /// trip per item (four on a stock agent) that also wrote an error for each folder the guest
    /// may not open. The root has no name: PowerShell asks for it on Get-ChildItem web1:\ -Recurse,
    /// whose provider path is empty.
    /// </summary>
    protected override string GetChildName(string path)
    {
        string trimmed = (path ?? string.Empty).TrimEnd('/', '\\');
        int separator = trimmed.LastIndexOfAny(Separators);
        return separator < 0 ? trimmed : trimmed.Substring(separator + 1);
    }

    private static readonly char[] Separators = { '/', '\\' };

    protected override bool ItemExists(string path)
    {
        return Guarded(path, false, (drive, engine, guestPath) =>
        {
            if (IsRootOf(drive, engine, guestPath))
            {
                return true;
            }
            return Run(drive, (e, _, ct) => e.StatAsync(guestPath, ct)) is not null;
        }, quietOnBadPath: true);
    }

    protected override bool IsItemContainer(string path)
    {
        return Guarded(path, false, (drive, engine, guestPath) =>
            IsRootOf(drive, engine, guestPath) || Run(drive, (e, _, ct) => e.StatAsync(guestPath, ct))?.Kind == GuestEntryKind.Directory,
            quietOnBadPath: true);
    }

    protected override void GetItem(string path)
    {
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            var item = Run(drive, (e, _, ct) => GuestChildItems.GetItemAsync(e, guestPath, ct));
            if (item is null)
            {
                throw NotFound(guestPath);
            }
            WriteItem(drive, engine, item);
            return 0;
        });
    }

    protected override void GetChildItems(string path, bool recurse) => GetChildItems(path, recurse, uint.MaxValue);

    protected override void GetChildItems(string path, bool recurse, uint depth)
    {
        Func<string, bool>? nameFilter = null;
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            if (!string.IsNullOrEmpty(Filter))
            {
                var pattern = new WildcardPattern(Filter, engine.Profile.IsWindows ? WildcardOptions.IgnoreCase : WildcardOptions.None);
                nameFilter = pattern.IsMatch;
            }
            // -Depth n lists n levels below the folder's own items (PowerShell's count starts at 0).
            int levels = !recurse || depth == uint.MaxValue ? int.MaxValue : (int)Math.Min(depth + 1, int.MaxValue);
            Run(drive, (e, post, ct) => ListThen(GuestChildItems.ListAsync(e, guestPath, null, nameFilter, recurse,
                item => post(() => WriteItem(drive, engine, item)), ct, levels,
                denied => post(() => WriteError(ErrorTable.ForVM(ErrorTable.ToErrorRecord(denied, Shown(drive, denied.Target ?? guestPath)), drive.VMName))))));
            return 0;
        });
    }

    protected override void GetChildNames(string path, ReturnContainers returnContainers)
    {
        Func<string, bool>? nameFilter = null;
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            if (!string.IsNullOrEmpty(Filter))
            {
                nameFilter = new WildcardPattern(Filter, engine.Profile.IsWindows ? WildcardOptions.IgnoreCase : WildcardOptions.None).IsMatch;
            }
            Run(drive, (e, post, ct) => ListThen(GuestChildItems.ListAsync(e, guestPath, null, returnContainers == ReturnContainers.ReturnAllContainers ? null : nameFilter, false,
                item => post(() =>
                {
                    if (Addressable(drive, engine, item) is { } full)
                    {
                        WriteItemObject(item.Entry.Name, full, IsContainer(item));
                    }
                }), ct)));
            return 0;
        });
    }

    protected override bool HasChildItems(string path)
    {
        return Guarded(path, false, (drive, engine, guestPath) =>
        {
            // A file lists as itself: only a folder can have children.
            if (!IsRootOf(drive, engine, guestPath) && Run(drive, (e, _, ct) => e.StatAsync(guestPath, ct))?.Kind != GuestEntryKind.Directory)
            {
                return false;
            }
            bool any = false;
            try
            {
                Run(drive, (e, post, ct) => ListThen(GuestChildItems.ListAsync(e, guestPath, null, null, false, _ => any = true, ct)));
            }
            catch (TransferException ex) when (ex.Kind == TransferFailureKind.AgentFeatureUnavailable)
            {
                // An agent that cannot list (stock, Windows guest): a folder may hold anything.
                // Remove-Item asks this before removing a folder; true makes it want -Recurse
                // or a confirmation, as for a full one, and the removal itself needs no listing.
                return true;
            }
            return any;
        });
    }

    // ------------------------------------------------------------------ changes

    protected override void NewItem(string path, string itemTypeName, object newItemValue)
    {
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            bool folder = itemTypeName is not null && ("Directory".StartsWith(itemTypeName, StringComparison.OrdinalIgnoreCase) || string.Equals(itemTypeName, "Container", StringComparison.OrdinalIgnoreCase));
            if (!folder && itemTypeName is not null && itemTypeName.Length > 0 && !"File".StartsWith(itemTypeName, StringComparison.OrdinalIgnoreCase))
            {
                throw ErrorTable.Fail(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                    $"A QemuGuest drive makes items of type Directory or File, not '{GuestTextOf(itemTypeName)}'.", itemTypeName);
            }
            if (!ShouldProcess(Shown(drive, guestPath), folder ? "Create folder" : "Create file"))
            {
                return 0;
            }
            bool force = Force.IsPresent;
            if (folder)
            {
                Run(drive, (e, _, ct) => ListThen(e.CreateFolderAsync(guestPath, force, ct)));
            }
            else
            {
                byte[] bytes = newItemValue is null ? Array.Empty<byte>() : Utf8.GetBytes(LanguagePrimitives.ConvertTo<string>(newItemValue));
                Run(drive, async (e, _, ct) =>
                {
                    await e.CheckUploadTargetAsync(guestPath, force, ct).ConfigureAwait(false);
                    using var data = new MemoryStream(bytes, writable: false);
                    await e.UploadAsync(data, guestPath, new TransferOptions { Force = force, Mode = NewFileMode }, null, ct).ConfigureAwait(false);
                    return 0;
                });
            }
            if (Run(drive, (e, _, ct) => GuestChildItems.GetItemAsync(e, guestPath, ct)) is { } created)
            {
                WriteItem(drive, engine, created);
            }
            return 0;
        });
    }

    protected override void RemoveItem(string path, bool recurse)
    {
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            if (IsRootOf(drive, engine, guestPath) || GuestChildItems.ParentFolder(guestPath, engine.Profile.IsWindows) is null)
            {
                throw ErrorTable.Fail(ErrorTable.DestinationOutsideRoot, ErrorCategory.SecurityError,
                    $"Remove-Item does not remove the root of a QemuGuest drive ('{Shown(drive, guestPath)}'); Remove-VMGuestItem removes any folder by its full path.", guestPath);
            }
            if (!ShouldProcess(Shown(drive, guestPath), recurse ? "Remove with everything in it" : "Remove"))
            {
                return 0;
            }
            Run(drive, async (e, _, ct) =>
            {
                await RequireNoLinkBelowRootAsync(drive, e, guestPath, ct).ConfigureAwait(false);
                bool? isLink = await e.IsLinkAsync(guestPath, ct).ConfigureAwait(false);
                GuestEntry? entry = await e.StatAsync(guestPath, ct).ConfigureAwait(false);
                if (entry is null && isLink != true)
                {
                    throw NotFound(guestPath);
                }
                // A link is removed itself, also a link to a folder: never what it points to.
                bool folder = isLink != true && entry?.Kind == GuestEntryKind.Directory;
                await e.RemoveAsync(guestPath, folder, recurse && folder, ct).ConfigureAwait(false);
                return 0;
            });
            return 0;
        });
    }

    protected override void RenameItem(string path, string newName)
    {
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            if (ComponentProblem(engine, newName) is { } problem)
            {
                throw ErrorTable.Fail(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                    $"The new name '{GuestTextOf(newName)}' {problem}: Rename-Item takes one name; Move-Item moves to another folder.", newName);
            }
            string folder = GuestChildItems.ParentFolder(guestPath, engine.Profile.IsWindows) ?? guestPath;
            string target = engine.Join(folder, newName);
            if (!ShouldProcess(Shown(drive, guestPath), "Rename to " + GuestTextOf(newName)))
            {
                return 0;
            }
            Run(drive, (e, _, ct) => ListThen(e.RenameAsync(guestPath, target, ct)));
            if (Run(drive, (e, _, ct) => GuestChildItems.GetItemAsync(e, target, ct)) is { } renamed)
            {
                WriteItem(drive, engine, renamed);
            }
            return 0;
        });
    }

    protected override void MoveItem(string path, string destination)
    {
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            string target = Normalize(engine, destination, drive.GuestRoot);
            RequireWithinRoot(drive, engine, target);
            if (Run(drive, (e, _, ct) => e.StatAsync(target, ct))?.Kind == GuestEntryKind.Directory)
            {
                target = engine.Join(target, GuestTransferEngine.LeafName(guestPath));
            }
            if (!ShouldProcess(Shown(drive, guestPath), "Move to " + Shown(drive, target)))
            {
                return 0;
            }
            Run(drive, (e, _, ct) => ListThen(e.RenameAsync(guestPath, target, ct)));
            if (Run(drive, (e, _, ct) => GuestChildItems.GetItemAsync(e, target, ct)) is { } moved)
            {
                WriteItem(drive, engine, moved);
            }
            return 0;
        });
    }

    // ------------------------------------------------------------------ content

    public IContentReader? GetContentReader(string path)
    {
        var readerParameters = DynamicParameters as QemuGuestContentReaderParameters;
        bool wait = readerParameters?.Wait.IsPresent == true;
        int lastLines = readerParameters?.LastLines ?? 0;
        return Guarded<IContentReader?>(path, null, (drive, engine, guestPath) =>
        {
            var entry = Run(drive, (e, _, ct) => e.StatAsync(guestPath, ct));
            if (entry is null)
            {
                throw NotFound(guestPath);
            }
            if (entry.Value.Kind == GuestEntryKind.Directory)
            {
                throw ErrorTable.Fail(ErrorTable.SourceIsDirectory, ErrorCategory.InvalidArgument, $"'{Shown(drive, guestPath)}' is a folder: Get-Content reads files.", guestPath);
            }
            var reader = Run(drive, (e, _, ct) => e.OpenReaderAsync(guestPath, AgentProfile.DefaultChunkSize, ct));
            return new GuestContentReader(this, drive, reader, wait, lastLines);
        });
    }

    public object GetContentReaderDynamicParameters(string path) => new QemuGuestContentReaderParameters();

    public IContentWriter? GetContentWriter(string path)
    {
        bool noNewline = (DynamicParameters as QemuGuestContentWriterParameters)?.NoNewline.IsPresent == true;
        return Guarded<IContentWriter?>(path, null, (drive, engine, guestPath) =>
        {
            RequireWithinRoot(drive, engine, guestPath);
            return new GuestContentWriter(this, drive, engine, guestPath, noNewline);
        });
    }

    public object GetContentWriterDynamicParameters(string path) => new QemuGuestContentWriterParameters();

    public void ClearContent(string path)
    {
        // Set-Content clears first and then writes: its writer replaces the file in one rename,
        // so clearing here would only open a window in which readers see it empty.
        if (DynamicParameters is QemuGuestContentWriterParameters)
        {
            return;
        }
        Guarded(path, 0, (drive, engine, guestPath) =>
        {
            if (!ShouldProcess(Shown(drive, guestPath), "Clear content"))
            {
                return 0;
            }
            ReplaceContent(drive, guestPath, Array.Empty<byte>(), 0);
            return 0;
        });
    }

    public object? ClearContentDynamicParameters(string path) => null;

    // ------------------------------------------------------------------ shared

    internal static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>0644: a file made through the drive is readable by all, writable by its owner, as touch makes it.</summary>
    private const int NewFileMode = 420;

    /// <summary>Replaces a guest file's content in one rename (the engine's atomic write), keeping its permission bits.</summary>
    internal void ReplaceContent(QemuGuestDriveInfo drive, string guestPath, byte[] data, int count)
    {
        Run(drive, async (e, _, ct) =>
        {
            // A Windows guest has no permission bits to keep, and its stock agent cannot list
            // (the only way to read them): Set-Content failed there, and PowerShell dropped the
            // error its writer's Close threw, so the file was silently not written.
            var existing = e.Profile.IsWindows ? null : await GuestChildItems.GetItemAsync(e, guestPath, ct).ConfigureAwait(false);
            int mode = existing is { } x && x.Entry.Mode >= 0 ? x.Entry.Mode & 0xFFF : NewFileMode;
            using var stream = new MemoryStream(data, 0, count, writable: false);
            await e.UploadAsync(stream, guestPath, new TransferOptions { Force = true, Mode = mode }, null, ct).ConfigureAwait(false);
            return 0;
        });
    }

    /// <summary>
    /// Runs guest work on the thread pool while this thread writes what it posts (PowerShell's
    /// output must be written here), and cancels it on Ctrl+C: the prompt returns once the
    /// work's own cleanup ran or <see cref="CleanupBound"/> passed.
    /// </summary>
    internal T Run<T>(QemuGuestDriveInfo drive, Func<GuestTransferEngine, Action<Action>, CancellationToken, Task<T>> work)
    {
        using var cts = new CancellationTokenSource();
        using var queue = new BlockingCollection<Action>(boundedCapacity: 1024);
        var task = Task.Run(async () =>
        {
            try
            {
                var engine = await drive.GetEngineAsync(cts.Token).ConfigureAwait(false);
                return await work(engine, a => queue.Add(a, cts.Token), cts.Token).ConfigureAwait(false);
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            while (!queue.IsCompleted)
            {
                if (queue.TryTake(out var action, 100))
                {
                    action();
                }
                if (Stopping)
                {
                    throw new PipelineStoppedException();
                }
            }
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            if (!task.IsCompleted)
            {
                cts.Cancel();
                try
                {
                    task.Wait(CleanupBound);
                }
                catch (AggregateException)
                {
                    // Stopped or abandoned: its failure is moot.
                }
            }
        }
    }

    private static async Task<int> ListThen(Task work)
    {
        await work.ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// Resolves the drive and the guest path, runs <paramref name="body"/>, and turns any
    /// failure into a non-terminating error naming the VM (Ctrl+C passes through).
    /// </summary>
    private T Guarded<T>(string path, T failed, Func<QemuGuestDriveInfo, GuestTransferEngine, string, T> body, bool quietOnBadPath = false)
    {
        if (PSDriveInfo is not QemuGuestDriveInfo drive)
        {
            WriteError(ErrorTable.Create(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument,
                $"'{GuestTextOf(path)}' is not on a QemuGuest drive: make one with New-PSDrive -PSProvider QemuGuest -Root / -VMName NAME and use NAME:/path.", path));
            return failed;
        }
        string guestPath;
        GuestTransferEngine engine;
        try
        {
            engine = Run(drive, (e, _, ct) => Task.FromResult(e));
            guestPath = Normalize(engine, path, drive.GuestRoot);
            RequireWithinRoot(drive, engine, guestPath);
        }
        catch (GuestTaskException) when (quietOnBadPath)
        {
            return failed;
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorTable.ForVM(ErrorTable.ToErrorRecord(ex, path), drive.VMName));
            return failed;
        }
        try
        {
            return body(drive, engine, guestPath);
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteError(ErrorTable.ForVM(ErrorTable.ToErrorRecord(ex, Shown(drive, guestPath)), drive.VMName));
            return failed;
        }
    }

    /// <summary>
    /// The guest path for a path PowerShell hands over (either separator; relative ones below
    /// <paramref name="root"/>): the guest's separator, no empty or "." components, and ".."
    /// refused rather than resolved here (PowerShell resolves the ones a user typed; one that
    /// is still there came from somewhere else).
    /// </summary>
    internal static string Normalize(GuestTransferEngine engine, string path, string root)
    {
        bool windows = engine.Profile.IsWindows;
        char sep = engine.Profile.Separator;
        string p = path.Replace('\\', '/');
        if (!GuestTransferEngine.IsAbsolute(p))
        {
            p = root.Replace('\\', '/').TrimEnd('/') + "/" + p;
        }
        string prefix;
        string rest;
        if (windows && p.Length >= 2 && p[1] == ':')
        {
            prefix = char.ToUpperInvariant(p[0]) + ":\\";
            rest = p.Substring(2);
        }
        else if (windows)
        {
            throw ErrorTable.Fail(ErrorTable.RelativeGuestPath, ErrorCategory.InvalidArgument,
                $"The guest path '{GuestTextOf(path)}' has no drive letter: Windows guest paths start with one (C:\\).", path);
        }
        else
        {
            prefix = "/";
            rest = p;
        }
        var parts = new List<string>();
        foreach (string part in rest.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }
            if (part == ".." || HasControl(part))
            {
                throw ErrorTable.Fail(ErrorTable.InvalidGuestName, ErrorCategory.InvalidArgument,
                    $"The guest path '{GuestTextOf(path)}' holds the component '{GuestTextOf(part)}', which a QemuGuest drive does not follow.", path);
            }
            parts.Add(part);
        }
        return prefix + string.Join(sep.ToString(), parts);
    }

    private static bool IsRootOf(QemuGuestDriveInfo drive, GuestTransferEngine engine, string guestPath) =>
        string.Equals(guestPath, drive.GuestRoot, engine.Profile.IsWindows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    private static void RequireWithinRoot(QemuGuestDriveInfo drive, GuestTransferEngine engine, string guestPath)
    {
        var comparison = engine.Profile.IsWindows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        string root = drive.GuestRoot;
        string rootDir = root.EndsWith(engine.Profile.Separator.ToString(), StringComparison.Ordinal) ? root : root + engine.Profile.Separator;
        if (!string.Equals(guestPath, root, comparison) && !guestPath.StartsWith(rootDir, comparison))
        {
            throw ErrorTable.Fail(ErrorTable.DestinationOutsideRoot, ErrorCategory.SecurityError,
                $"'{GuestTextOf(guestPath)}' is outside the drive {drive.Name}: (root '{GuestTextOf(root)}').", guestPath);
        }
    }

    /// <summary>
    /// Refuses a path that reaches its item through a link below the drive's root (a guest user
    /// can plant /srv/site/cache -> /etc): Remove-Item web1:/srv/site/cache/x must not remove
    /// /etc/x. The root itself is the user's choice. An agent that cannot tell links (stock
    /// agent on Windows, or without guest-exec) is trusted here as its own remove is.
    /// </summary>
    private static async Task RequireNoLinkBelowRootAsync(QemuGuestDriveInfo drive, GuestTransferEngine engine, string guestPath, CancellationToken ct)
    {
        var ancestors = new List<string>();
        var comparison = engine.Profile.IsWindows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        for (string? a = GuestChildItems.ParentFolder(guestPath, engine.Profile.IsWindows);
             a is not null && a.Length > drive.GuestRoot.Length && a.StartsWith(drive.GuestRoot, comparison);
             a = GuestChildItems.ParentFolder(a, engine.Profile.IsWindows))
        {
            ancestors.Add(a);
        }
        foreach (string a in ancestors)
        {
            if (await engine.IsLinkAsync(a, ct).ConfigureAwait(false) == true)
            {
                throw ErrorTable.Fail(ErrorTable.DestinationIsLink, ErrorCategory.SecurityError,
                    $"'{GuestTextOf(guestPath)}' lies behind the link '{GuestTextOf(a)}': a QemuGuest drive does not remove through links.", guestPath);
            }
        }
    }

    /// <summary>
    /// The item's path when PowerShell can carry it back to exactly this item; otherwise null,
    /// after an InvalidGuestName error naming it (made printable). A POSIX name with a backslash
    /// would come back as a different path (PowerShell turns \ into /), a control character
    /// would reach the console raw in PowerShell's own messages.
    /// </summary>
    private string? Addressable(QemuGuestDriveInfo drive, GuestTransferEngine engine, GuestListedItem item)
    {
        string name = item.Entry.Name;
        string? problem = ComponentProblem(engine, name);
        if (problem is null && item.FullName is { } full)
        {
            if (engine.Profile.IsWindows || GuestTransferEngine.Parent(full) is not { } parent || (parent.IndexOf('\\') < 0 && !HasControl(parent)))
            {
                return full;
            }
            problem = "lies in a folder the drive cannot address";
        }
        WriteError(ErrorTable.ForVM(ErrorTable.Create(ErrorTable.InvalidGuestName, ErrorCategory.InvalidData,
            $"{drive.VMName} listed the name '{GuestTextOf(name)}' in '{GuestTextOf(item.Folder)}', which {problem ?? "is not one component"}: it is left out.", GuestTextOf(name)), drive.VMName));
        return null;
    }

    private static string? ComponentProblem(GuestTransferEngine engine, string name)
    {
        if (GuestChildItems.ComponentProblem(name, engine.Profile.IsWindows) is { } problem)
        {
            return problem;
        }
        if (name.IndexOf('\\') >= 0)
        {
            return "holds a backslash, which PowerShell reads as a separator";
        }
        return HasControl(name) ? "holds control characters" : null;
    }

    private static bool HasControl(string s)
    {
        foreach (char c in s)
        {
            if (c < ' ' || c == '\u007f' || (c >= '\u0080' && c < '\u00a0'))
            {
                return true;
            }
        }
        return false;
    }

    private void WriteItem(QemuGuestDriveInfo drive, GuestTransferEngine engine, GuestListedItem item)
    {
        // A root comes from its stat, named by its path: no folder lists it, so no name to check.
        string? full = item.Folder == item.FullName ? item.FullName : Addressable(drive, engine, item);
        if (full is not null)
        {
            WriteItemObject(new GuestChildItem(drive.VMName, item), full, IsContainer(item));
        }
    }

    private static bool IsContainer(GuestListedItem item) => item.Entry.Kind == GuestEntryKind.Directory && !item.Entry.IsLink;

    private static string Shown(QemuGuestDriveInfo drive, string guestPath) => drive.VMName + ":" + GuestTextOf(guestPath);

    private static string GuestTextOf(string text) => PathComponent.Printable(text);

    private static GuestTaskException NotFound(string guestPath) =>
        ErrorTable.Fail(ErrorTable.SourceNotFound, ErrorCategory.ObjectNotFound, $"Cannot find the guest path '{GuestTextOf(guestPath)}'.", guestPath);
}

/// <summary>New-PSDrive's parameters for a QemuGuest drive: which guest, and how long to wait for it.</summary>
public sealed class QemuGuestDriveParameters
{
    /// <summary>The VM: an open session of that name, or else the relay's endpoint for it (the drive then owns that connection until Remove-PSDrive).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(VMNameCompleter))]
    public string? VMName { get; set; }

    /// <summary>A session from New-VMGuestSession; it stays open when the drive is removed.</summary>
    [Parameter]
    [ValidateNotNull]
    public GuestSession? Session { get; set; }

    /// <summary>Seconds to wait for each agent reply (default: the session's own timeout).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; }
}

/// <summary>Get-Content's parameters on a QemuGuest drive.</summary>
public sealed class QemuGuestContentReaderParameters
{
    /// <summary>At the end of the file, keep reading what is appended (polling once a second) until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>
    /// Only the last lines of the file (then, with -Wait, what is appended). Get-Content's own
    /// -Tail is refused by PowerShell for every provider but the FileSystem one, hence this name.
    /// </summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int LastLines { get; set; }
}

/// <summary>Set-Content's and Add-Content's parameters on a QemuGuest drive.</summary>
public sealed class QemuGuestContentWriterParameters
{
    /// <summary>Write the values one after another, with no line ends between or after them.</summary>
    [Parameter]
    public SwitchParameter NoNewline { get; set; }
}
