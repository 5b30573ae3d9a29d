using System;
using System.Collections.Generic;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// One guest folder of a recursive copy out of the guest, its names checked: what may be
/// copied where (<see cref="Files"/>, <see cref="Folders"/>, each joined under the root) and
/// what may not (<see cref="Rejected"/>, one failure per name, for the caller to report and go
/// on). <see cref="Claim"/> is the last check, made right before each item is written.
/// </summary>
public sealed class GuestFolderPlan
{
    private readonly string _targetName;
    private readonly string _guestFolder;
    private readonly HashSet<string> _written = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _existed = new(StringComparer.Ordinal);

    private GuestFolderPlan(string targetName, string guestFolder)
    {
        _targetName = targetName;
        _guestFolder = guestFolder;
    }

    public List<(GuestListEntry Entry, string Local)> Files { get; } = new();

    public List<(GuestListEntry Entry, string Local)> Folders { get; } = new();

    public List<TransferException> Rejected { get; } = new();

    /// <summary>
    /// Checks each listed name: one path component, unique on this host's file system, joined
    /// to a path strictly under <paramref name="root"/> (a full path) in
    /// <paramref name="localFolder"/>. Links, devices, FIFOs and sockets are left out (only
    /// their names would reach the host, and they do not). <paramref name="guestTarget"/> names
    /// a guest path in a failure's target ("VM:path").
    /// </summary>
    public static GuestFolderPlan Check(IReadOnlyList<GuestListEntry> entries, string targetName, string guestFolder, string localFolder, string root,
        Func<string, string> guestTarget)
    {
        var plan = new GuestFolderPlan(targetName, guestFolder);
        var seen = new Dictionary<string, int>(GuestNames.HostComparer);
        foreach (var e in entries)
        {
            if (e.Kind != GuestEntryKind.Other)
            {
                seen[e.Name] = seen.TryGetValue(e.Name, out int n) ? n + 1 : 1;
            }
        }

        foreach (var e in entries)
        {
            if (e.Kind == GuestEntryKind.Other)
            {
                continue;
            }
            string shown = PathComponent.Printable(e.Name);
            string target = guestTarget(shown);
            string? problem = GuestNames.Problem(e.Name);
            if (problem is not null)
            {
                plan.Rejected.Add(new TransferException(TransferFailureKind.InvalidGuestName,
                    $"{targetName} listed '{shown}' in '{guestFolder}', which is not a single file name: the name {problem}. It was not copied.", target));
                continue;
            }
            if (seen[e.Name] > 1)
            {
                plan.Rejected.Add(new TransferException(TransferFailureKind.DuplicateGuestName,
                    $"{targetName} listed '{shown}' in '{guestFolder}' more than once"
                    + (GuestNames.HostFoldsCase ? " (names that differ only in case are one name on this host)" : string.Empty)
                    + ": none of them was copied.", target));
                continue;
            }
            string? local = GuestNames.JoinUnder(root, localFolder, e.Name);
            if (local is null)
            {
                plan.Rejected.Add(new TransferException(TransferFailureKind.DestinationOutsideRoot,
                    $"{targetName} listed '{shown}' in '{guestFolder}', which would be written outside '{root}'. It was not copied.", target));
                continue;
            }
            (e.Kind == GuestEntryKind.Directory ? plan.Folders : plan.Files).Add((e, local));
        }

        // A case-insensitive file system on a host that usually is not (e.g. ext4 casefold, a
        // CIFS mount) still folds 'A' and 'a' into one file: the second one finds the first.
        // What existed before this folder was copied (an earlier copy of the same tree) is
        // no such sign.
        var twins = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var (e, _) in plan.Files)
        {
            twins[e.Name] = twins.TryGetValue(e.Name, out int n) ? n + 1 : 1;
        }
        foreach (var (e, _) in plan.Folders)
        {
            twins[e.Name] = twins.TryGetValue(e.Name, out int n) ? n + 1 : 1;
        }
        foreach (var (e, local) in plan.Files)
        {
            if (twins[e.Name] > 1 && HostPath.Inspect(local) != HostEntryKind.None)
            {
                plan._existed.Add(e.Name);
            }
        }
        foreach (var (e, local) in plan.Folders)
        {
            if (twins[e.Name] > 1 && HostPath.Inspect(local) != HostEntryKind.None)
            {
                plan._existed.Add(e.Name);
            }
        }
        return plan;
    }

    /// <summary>
    /// Marks <paramref name="name"/> as being written to <paramref name="local"/>; throws when
    /// this host's file system already took it for a name copied before in this folder.
    /// </summary>
    public void Claim(string name, string local)
    {
        if (_written.Contains(name) && !_existed.Contains(name) && HostPath.Inspect(local) != HostEntryKind.None)
        {
            throw new TransferException(TransferFailureKind.DuplicateGuestName,
                $"{_targetName} listed '{PathComponent.Printable(name)}' in '{_guestFolder}', and this host's file system takes it for a name already copied (it ignores case): it was not copied.", local);
        }
        _written.Add(name);
    }

    /// <summary>
    /// A folder the guest named, inside the walk: true when a real folder is there to merge
    /// into, false when it is still to be created; a link is never followed
    /// (DestinationIsLink), a file is in the way (DestinationExists).
    /// </summary>
    public static bool LocalFolderExists(string local)
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
            default:
                return false;
        }
    }
}
