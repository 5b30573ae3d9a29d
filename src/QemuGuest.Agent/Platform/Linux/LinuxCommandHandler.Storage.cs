using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Hosting;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>One line of /proc/self/mountinfo.</summary>
internal sealed record MountEntry(uint Major, uint Minor, string MountPoint, string Type, string Source);

public sealed partial class LinuxCommandHandler
{
    /// <summary>
    /// Mounts backed by a block device (major != 0), like qemu-ga's build_fs_mount_list:
    /// pseudo filesystems (proc, sysfs, tmpfs, cgroup ...) and network filesystems are skipped.
    /// </summary>
    private List<MountEntry> FreezableMounts()
    {
        var result = new List<MountEntry>();
        foreach (MountEntry m in Mounts())
        {
            if (m.Major == 0 || m.Type is "smbfs" or "cifs" or "nfs" or "nfs4")
            {
                continue;
            }

            result.Add(m);
        }

        return result;
    }

    private List<MountEntry> Mounts()
    {
        var result = new List<MountEntry>();
        string? text = SysText.Read(Proc("self/mountinfo"));
        if (text is null)
        {
            throw new AgentCommandException("failed to open " + Proc("self/mountinfo"));
        }

        foreach (string line in text.Split('\n'))
        {
            // 27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
            string[] f = line.Split(' ');
            int dash = Array.IndexOf(f, "-");
            if (f.Length < 7 || dash < 6 || dash + 2 >= f.Length)
            {
                continue;
            }

            string[] mm = f[2].Split(':');
            if (mm.Length != 2 ||
                !uint.TryParse(mm[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major) ||
                !uint.TryParse(mm[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
            {
                continue;
            }

            result.Add(new MountEntry(major, minor, UnescapeMount(f[4]), f[dash + 1], UnescapeMount(f[dash + 2])));
        }

        return result;
    }

    private static string UnescapeMount(string s)
    {
        if (s.IndexOf('\\') < 0)
        {
            return s;
        }

        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && IsOctal(s[i + 1]) && IsOctal(s[i + 2]) && IsOctal(s[i + 3]))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';

    public override ValueTask<IReadOnlyList<GuestFilesystemInfo>> GuestGetFsinfoAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestFilesystemInfo>();
        foreach (MountEntry m in FreezableMounts())
        {
            string devDir = ResolveDevDir(m.Major, m.Minor);
            string name = devDir.Length > 0 ? Path.GetFileName(devDir) : m.Major + ":" + m.Minor;
            var disks = new List<GuestDiskAddress>();
            if (devDir.Length > 0)
            {
                CollectAddresses(devDir, disks, 0);
            }

            var fs = new GuestFilesystemInfo(name, m.MountPoint, m.Type, disks);
            if (Libc.StatVfs(m.MountPoint, out Libc.Statvfs st) == 0)
            {
                fs = fs with
                {
                    UsedBytes = (st.Blocks - st.Bfree) * st.Frsize,
                    TotalBytes = (st.Blocks - st.Bfree + st.Bavail) * st.Frsize,
                    TotalBytesPrivileged = st.Blocks * st.Frsize,
                };
            }

            list.Add(fs);
        }

        return Done<IReadOnlyList<GuestFilesystemInfo>>(list);
    }

    public override ValueTask<IReadOnlyList<GuestDiskInfo>> GuestGetDisksAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestDiskInfo>();
        string blockRoot = Sys("block");
        if (!Directory.Exists(blockRoot))
        {
            return Done<IReadOnlyList<GuestDiskInfo>>(list);
        }

        var names = new List<string>();
        foreach (string d in Directory.EnumerateFileSystemEntries(blockRoot))
        {
            names.Add(Path.GetFileName(d));
        }

        names.Sort(StringComparer.Ordinal);
        foreach (string disk in names)
        {
            string dir = RealPath(Path.Combine(blockRoot, disk));
            var deps = new List<string>();
            string slaves = Path.Combine(dir, "slaves");
            if (Directory.Exists(slaves))
            {
                foreach (string s in Directory.EnumerateFileSystemEntries(slaves))
                {
                    deps.Add("/dev/" + Path.GetFileName(s));
                }
            }

            if (dir.Contains("/devices/virtual/", StringComparison.Ordinal) && deps.Count == 0)
            {
                continue; // loop, zram, ram: no backing disk (qemu-ga's udev walk skips them too)
            }

            var addresses = new List<GuestDiskAddress>();
            CollectAddresses(dir, addresses, 0);
            string? alias = SysText.ReadTrim(Path.Combine(dir, "dm", "name"));
            list.Add(new GuestDiskInfo("/dev/" + disk, false)
            {
                Dependencies = deps,
                Address = deps.Count == 0 && addresses.Count > 0 ? addresses[0] : null,
                Alias = alias,
            });

            var parts = new List<string>();
            foreach (string sub in Directory.EnumerateDirectories(dir))
            {
                if (File.Exists(Path.Combine(sub, "partition")))
                {
                    parts.Add(Path.GetFileName(sub));
                }
            }

            parts.Sort(StringComparer.Ordinal);
            foreach (string p in parts)
            {
                list.Add(new GuestDiskInfo("/dev/" + p, true) { Dependencies = new[] { "/dev/" + disk } });
            }
        }

        return Done<IReadOnlyList<GuestDiskInfo>>(list);
    }

    public override ValueTask<IReadOnlyList<GuestDiskStatsInfo>> GuestGetDiskstatsAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestDiskStatsInfo>();
        foreach (string line in (SysText.Read(Proc("diskstats")) ?? throw new AgentCommandException("can't open " + Proc("diskstats"))).Split('\n'))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 14)
            {
                continue;
            }

            ulong V(int i) => ulong.Parse(f[i], CultureInfo.InvariantCulture);
            ulong? O(int i) => i < f.Length ? ulong.Parse(f[i], CultureInfo.InvariantCulture) : null;
            var stats = new GuestDiskStats
            {
                ReadIos = V(3),
                ReadMerges = V(4),
                ReadSectors = V(5),
                ReadTicks = V(6),
                WriteIos = V(7),
                WriteMerges = V(8),
                WriteSectors = V(9),
                WriteTicks = V(10),
                IosPgr = V(11),
                TotalTicks = V(12),
                WeightTicks = V(13),
                DiscardIos = O(14),
                DiscardMerges = O(15),
                DiscardSectors = O(16),
                DiscardTicks = O(17),
                FlushIos = O(18),
                FlushTicks = O(19),
            };
            list.Add(new GuestDiskStatsInfo(f[2], V(0), V(1), stats));
        }

        return Done<IReadOnlyList<GuestDiskStatsInfo>>(list);
    }

    /// <summary>/sys/dev/block/MAJ:MIN resolved to the device's sysfs directory ("" when unknown).</summary>
    private string ResolveDevDir(uint major, uint minor)
    {
        string link = Sys("dev/block/" + major.ToString(CultureInfo.InvariantCulture) + ":" + minor.ToString(CultureInfo.InvariantCulture));
        return Directory.Exists(link) ? RealPath(link) : string.Empty;
    }

    private static string RealPath(string path)
    {
        try
        {
            var info = new DirectoryInfo(path);
            FileSystemInfo? target = info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            return target?.FullName ?? info.FullName;
        }
        catch (IOException)
        {
            return path;
        }
    }

    /// <summary>
    /// The physical disks under a block device: a partition's parent, a dm/md device's slaves
    /// (recursively), else the device itself, with its bus address from the sysfs path.
    /// </summary>
    private void CollectAddresses(string devDir, List<GuestDiskAddress> into, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        if (File.Exists(Path.Combine(devDir, "partition")))
        {
            string? parent = Path.GetDirectoryName(devDir);
            if (parent is not null)
            {
                CollectAddresses(parent, into, depth + 1);
            }

            return;
        }

        string slaves = Path.Combine(devDir, "slaves");
        if (Directory.Exists(slaves))
        {
            bool any = false;
            foreach (string s in Directory.EnumerateFileSystemEntries(slaves))
            {
                any = true;
                CollectAddresses(RealPath(s), into, depth + 1);
            }

            if (any)
            {
                return;
            }
        }

        GuestDiskAddress? address = AddressOf(devDir);
        if (address is not null)
        {
            into.Add(address);
        }
    }

    /// <summary>Decodes a sysfs device path: PCI function, then virtio / SCSI (H:C:T:L) / ATA / NVMe.</summary>
    internal static GuestDiskAddress? AddressOf(string devDir)
    {
        string name = Path.GetFileName(devDir);
        string[] parts = devDir.Split('/');
        GuestPCIAddress? pci = null;
        foreach (string p in parts)
        {
            // dddd:bb:ss.f
            if (p.Length == 12 && p[4] == ':' && p[7] == ':' && p[10] == '.' &&
                int.TryParse(p.AsSpan(0, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int dom) &&
                int.TryParse(p.AsSpan(5, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int bus) &&
                int.TryParse(p.AsSpan(8, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int slot) &&
                int.TryParse(p.AsSpan(11, 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int fn))
            {
                pci = new GuestPCIAddress(dom, bus, slot, fn);
            }
        }

        if (devDir.Contains("/devices/virtual/", StringComparison.Ordinal))
        {
            return null;
        }

        pci ??= new GuestPCIAddress(-1, -1, -1, -1);
        GuestDiskBusType type = GuestDiskBusType.Unknown;
        long hbus = 0, target = 0, unit = 0;
        foreach (string p in parts)
        {
            string[] hctl = p.Split(':');
            if (hctl.Length == 4 && Array.TrueForAll(hctl, x => x.Length > 0 && long.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                hbus = long.Parse(hctl[1], CultureInfo.InvariantCulture);
                target = long.Parse(hctl[2], CultureInfo.InvariantCulture);
                unit = long.Parse(hctl[3], CultureInfo.InvariantCulture);
                type = GuestDiskBusType.Scsi;
            }
        }

        if (devDir.Contains("/ata", StringComparison.Ordinal))
        {
            type = GuestDiskBusType.Sata;
        }
        else if (devDir.Contains("/nvme", StringComparison.Ordinal))
        {
            type = GuestDiskBusType.Nvme;
        }
        else if (devDir.Contains("/usb", StringComparison.Ordinal))
        {
            type = GuestDiskBusType.Usb;
        }
        else if (type == GuestDiskBusType.Unknown && devDir.Contains("/virtio", StringComparison.Ordinal))
        {
            type = GuestDiskBusType.Virtio;
        }

        string? serial = SysText.ReadTrim(Path.Combine(devDir, "serial")) ?? SysText.ReadTrim(Path.Combine(devDir, "device", "serial"));
        return new GuestDiskAddress(pci, type, hbus, target, unit)
        {
            Dev = "/dev/" + name,
            Serial = string.IsNullOrEmpty(serial) ? null : serial,
        };
    }

    // ---- fsfreeze ----
    public override ValueTask<long> GuestFsfreezeFreezeAsync(CancellationToken cancellationToken) => Freeze(null);

    public override ValueTask<long> GuestFsfreezeFreezeListAsync(IReadOnlyList<string>? mountpoints, CancellationToken cancellationToken) => Freeze(mountpoints);

    private ValueTask<long> Freeze(IReadOnlyList<string>? only)
    {
        if (Gate.IsFrozen)
        {
            throw new AgentCommandException("Command guest-fsfreeze-freeze has been disabled");
        }

        RunHook("freeze");
        List<MountEntry> mounts = FreezableMounts();
        Gate.SetFrozen();
        int frozen = 0;
        for (int i = mounts.Count - 1; i >= 0; i--)
        {
            MountEntry m = mounts[i];
            if (only is not null && !System.Linq.Enumerable.Contains(only, m.MountPoint))
            {
                continue;
            }

            int err = _sys.Actions.Freeze(m.MountPoint);
            if (err == 0)
            {
                frozen++;
                continue;
            }

            if (err == Libc.EOPNOTSUPP || err == Libc.ENOTTY)
            {
                continue; // filesystem cannot be frozen: skip, like qemu-ga
            }

            if (err == Libc.EBUSY)
            {
                continue; // already frozen by someone else
            }

            ThawAll();
            throw new AgentCommandException("failed to freeze " + m.MountPoint + ": " + Libc.StrError(err));
        }

        if (only is not null && frozen == 0)
        {
            Gate.UnsetFrozen();
        }

        return Done<long>(frozen);
    }

    public override ValueTask<long> GuestFsfreezeThawAsync(CancellationToken cancellationToken)
    {
        int thawed = ThawAll();
        RunHook("thaw");
        return Done<long>(thawed);
    }

    private int ThawAll()
    {
        int thawed = 0;
        foreach (MountEntry m in FreezableMounts())
        {
            bool any = false;
            // A filesystem frozen several times needs as many thaws (qemu-ga loops too).
            for (int guard = 0; guard < 64 && _sys.Actions.Thaw(m.MountPoint) == 0; guard++)
            {
                any = true;
            }

            if (any)
            {
                thawed++;
            }
        }

        Gate.UnsetFrozen();
        return thawed;
    }

    /// <summary>
    /// The hook runs as root, so only a file no guest user can change may be run: owned by root
    /// and not writable by group or others (reached through root-owned links only).
    /// </summary>
    private static void CheckHookIsRootOnly(string hook)
    {
        using PosixFs.Fd fd = PosixFs.OpenFollowingTrusted(hook, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY);
        PosixFs.Statx st = PosixFs.Stat(fd, hook);
        if (st.Uid != 0 || (st.Mode & 0x12 /* 022 */) != 0)
        {
            throw new AgentCommandException("refusing to run fsfreeze hook '" + PosixFs.Printable(hook) + "': owned by uid "
                + st.Uid.ToString(CultureInfo.InvariantCulture) + " with mode " + Convert.ToString(st.Mode & 0xFFF, 8)
                + " (it must belong to root and be writable by root only)");
        }
    }

    private void RunHook(string argument)
    {
        string? hook = Context.FsfreezeHook;
        if (hook is null)
        {
            return;
        }

        if (!File.Exists(hook) || (File.GetUnixFileMode(hook) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            // qemu-ga: access(hook, X_OK) fails -> "can't access fsfreeze hook '%s'" + strerror
            throw new AgentCommandException("can't access fsfreeze hook '" + hook + "': " + (File.Exists(hook) ? "Permission denied" : "No such file or directory"));
        }

        CheckHookIsRootOnly(hook);
        int status = _sys.Actions.RunHook(hook, argument);
        if (status != 0)
        {
            AgentLog.HookFailed(_logger, hook, argument, "status " + status.ToString(CultureInfo.InvariantCulture));
            throw new AgentCommandException("fsfreeze hook has failed with status " + status.ToString(CultureInfo.InvariantCulture));
        }
    }

    public override ValueTask<GuestFilesystemTrimResponse> GuestFstrimAsync(long? minimum, CancellationToken cancellationToken)
    {
        var results = new List<GuestFilesystemTrimResult>();
        ulong min = minimum is long m && m > 0 ? (ulong)m : 0;
        foreach (MountEntry mount in FreezableMounts())
        {
            var (err, trimmed) = _sys.Actions.Trim(mount.MountPoint, min);
            if (err == 0)
            {
                results.Add(new GuestFilesystemTrimResult(mount.MountPoint) { Trimmed = (long)Math.Min(trimmed, long.MaxValue), Minimum = (long)min });
            }
            else if (err != Libc.EOPNOTSUPP && err != Libc.ENOTTY)
            {
                results.Add(new GuestFilesystemTrimResult(mount.MountPoint) { Error = Libc.StrError(err) });
            }
        }

        return Done(new GuestFilesystemTrimResponse(results));
    }
}
