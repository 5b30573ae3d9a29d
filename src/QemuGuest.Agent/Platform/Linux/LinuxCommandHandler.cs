using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// The Linux commands, natively: procfs, sysfs, utmp, os-release, uname/localtime_r/
/// getifaddrs/statvfs/getpwnam through libc; ioctls for freeze/thaw/trim. Everything with
/// side effects goes through <see cref="ISystemActions"/>.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class LinuxCommandHandler : CommandHandler
{
    private readonly LinuxSystem _sys;
    private readonly ILogger _logger;

    public LinuxCommandHandler(AgentContext context, LinuxSystem system, ILogger logger)
        : base(context)
    {
        _sys = system;
        _logger = logger;
    }

    private string Proc(string relative) => Path.Combine(_sys.ProcRoot, relative);

    private string Sys(string relative) => Path.Combine(_sys.SysRoot, relative);

    // ---- time ----
    public override ValueTask<long> GuestGetTimeAsync(CancellationToken cancellationToken)
    {
        if (Libc.ClockGettime(Libc.CLOCK_REALTIME, out Libc.Timespec ts) != 0)
        {
            throw new AgentCommandException("Failed to get time: " + Libc.LastError());
        }

        return Done(ts.Sec * 1_000_000_000 + ts.Nsec);
    }

    public override ValueTask GuestSetTimeAsync(long? time, CancellationToken cancellationToken)
    {
        if (time is long ns)
        {
            if (ns < 0)
            {
                throw new AgentCommandException("Failed to set time to guest: Invalid argument");
            }

            if (ns / 1_000_000_000 / 86400 > 2932896)
            {
                throw new AgentCommandException("Invalid time " + ns.ToString(CultureInfo.InvariantCulture) + " for RTC");
            }
        }

        _sys.Actions.SetTime(time);
        return ValueTask.CompletedTask;
    }

    public override unsafe ValueTask<GuestTimezone> GuestGetTimezoneAsync(CancellationToken cancellationToken)
    {
        Libc.Tzset();
        long now = Libc.Time(null);
        if (Libc.LocaltimeR(now, out Libc.Tm tm) is null)
        {
            throw new AgentCommandException("Failed to get local time");
        }

        return Done(new GuestTimezone(tm.Gmtoff) { Zone = Libc.PtrToString(tm.Zone) });
    }

    // ---- power ----
    public override ValueTask GuestShutdownAsync(string? mode, CancellationToken cancellationToken)
    {
        string flag = (mode ?? "powerdown") switch
        {
            "halt" => "-H",
            "powerdown" => "-P",
            "reboot" => "-r",
            _ => throw new AgentCommandException("mode is invalid (valid values are: halt|powerdown|reboot"),
        };
        _sys.Actions.Shutdown(flag);
        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestSuspendDiskAsync(CancellationToken cancellationToken) => Suspend("disk");

    public override ValueTask GuestSuspendRamAsync(CancellationToken cancellationToken) => Suspend("mem");

    public override ValueTask GuestSuspendHybridAsync(CancellationToken cancellationToken) => Suspend("hybrid");

    private ValueTask Suspend(string mode)
    {
        string states = SysText.Read(Sys("power/state")) ?? string.Empty;
        bool ok = mode switch
        {
            "hybrid" => states.Contains("disk", StringComparison.Ordinal) && (SysText.Read(Sys("power/disk")) ?? string.Empty).Contains("suspend", StringComparison.Ordinal),
            _ => states.Contains(mode, StringComparison.Ordinal),
        };
        if (!ok)
        {
            throw new AgentCommandException("the requested suspend mode is not supported by the guest");
        }

        _sys.Actions.Suspend(mode);
        return ValueTask.CompletedTask;
    }

    // ---- identity ----
    public override unsafe ValueTask<GuestOSInfo> GuestGetOsinfoAsync(CancellationToken cancellationToken)
    {
        var info = new GuestOSInfo();
        byte* uts = stackalloc byte[65 * 6];
        if (Uname(uts) == 0)
        {
            info = info with
            {
                KernelRelease = Libc.PtrToString(uts + 65 * 2),
                KernelVersion = Libc.PtrToString(uts + 65 * 3),
                Machine = Libc.PtrToString(uts + 65 * 4),
            };
        }

        string? path = _sys.OsReleasePath();
        string? text = path is null ? null : SysText.Read(path);
        if (text is not null)
        {
            var kv = SysText.ParseOsRelease(text);
            info = info with
            {
                Id = kv.GetValueOrDefault("ID"),
                Name = kv.GetValueOrDefault("NAME"),
                PrettyName = kv.GetValueOrDefault("PRETTY_NAME"),
                Version = kv.GetValueOrDefault("VERSION"),
                VersionId = kv.GetValueOrDefault("VERSION_ID"),
                Variant = kv.GetValueOrDefault("VARIANT"),
                VariantId = kv.GetValueOrDefault("VARIANT_ID"),
            };
        }

        return Done(info);
    }

    [LibraryImport("libc", EntryPoint = "uname")]
    private static unsafe partial int Uname(byte* buf);

    public override ValueTask<GuestLoadAverage> GuestGetLoadAsync(CancellationToken cancellationToken)
    {
        string[] parts = (SysText.Read(Proc("loadavg")) ?? throw new AgentCommandException("cannot get load average")).Split(' ');
        return Done(new GuestLoadAverage(
            double.Parse(parts[0], CultureInfo.InvariantCulture),
            double.Parse(parts[1], CultureInfo.InvariantCulture),
            double.Parse(parts[2], CultureInfo.InvariantCulture)));
    }

    // ---- users ----
    public override ValueTask<IReadOnlyList<GuestUser>> GuestGetUsersAsync(CancellationToken cancellationToken)
    {
        var users = new List<GuestUser>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        byte[] data;
        try
        {
            data = File.ReadAllBytes(_sys.UtmpPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Done<IReadOnlyList<GuestUser>>(users);
        }

        const int RecordSize = 384;
        for (int off = 0; off + RecordSize <= data.Length; off += RecordSize)
        {
            ReadOnlySpan<byte> rec = data.AsSpan(off, RecordSize);
            short type = BitConverter.ToInt16(rec.Slice(0, 2));
            if (type != 7)
            {
                continue; // USER_PROCESS only
            }

            string name = CString(rec.Slice(44, 32));
            if (name.Length == 0)
            {
                continue;
            }

            double login = BitConverter.ToInt32(rec.Slice(340, 4)) + BitConverter.ToInt32(rec.Slice(344, 4)) / 1_000_000.0;
            if (index.TryGetValue(name, out int i))
            {
                if (login < users[i].LoginTime)
                {
                    users[i] = users[i] with { LoginTime = login };
                }
            }
            else
            {
                index[name] = users.Count;
                users.Add(new GuestUser(name, login));
            }
        }

        return Done<IReadOnlyList<GuestUser>>(users);
    }

    public override ValueTask GuestSetUserPasswordAsync(string username, string password, bool crypted, CancellationToken cancellationToken)
    {
        byte[] raw = Handlers.Common.QemuBase64.Decode(password);
        string rawText = System.Text.Encoding.UTF8.GetString(raw);
        if (rawText.Contains('\n', StringComparison.Ordinal))
        {
            throw new AgentCommandException("forbidden characters in raw password");
        }

        if (username.Contains('\n', StringComparison.Ordinal) || username.Contains(':', StringComparison.Ordinal))
        {
            throw new AgentCommandException("forbidden characters in username");
        }

        _sys.Actions.SetPassword(username, rawText, crypted);
        return ValueTask.CompletedTask;
    }

    // ---- vCPUs and memory ----
    public override ValueTask<IReadOnlyList<GuestLogicalProcessor>> GuestGetVcpusAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestLogicalProcessor>();
        foreach (int id in CpuIds())
        {
            string onlineFile = Sys("devices/system/cpu/cpu" + id.ToString(CultureInfo.InvariantCulture) + "/online");
            string? online = SysText.ReadTrim(onlineFile);
            list.Add(new GuestLogicalProcessor(id, online is null || online == "1") { CanOffline = online is not null });
        }

        if (list.Count == 0)
        {
            throw new AgentCommandException("guest-get-vcpus: no CPUs found in " + Sys("devices/system/cpu"));
        }

        return Done<IReadOnlyList<GuestLogicalProcessor>>(list);
    }

    public override ValueTask<long> GuestSetVcpusAsync(IReadOnlyList<GuestLogicalProcessor> vcpus, CancellationToken cancellationToken)
    {
        long processed = 0;
        foreach (GuestLogicalProcessor cpu in vcpus)
        {
            string dir = Sys("devices/system/cpu/cpu" + cpu.LogicalId.ToString(CultureInfo.InvariantCulture));
            if (!Directory.Exists(dir))
            {
                if (processed == 0)
                {
                    // qemu-ga's transfer_vcpu text (error_setg_errno on its open of the folder).
                    throw new AgentCommandException("open(\"" + dir + "/\"): No such file or directory");
                }

                break;
            }

            string onlineFile = Path.Combine(dir, "online");
            string? current = SysText.ReadTrim(onlineFile);
            bool isOnline = current is null || current == "1";
            if (isOnline != cpu.Online)
            {
                if (current is null)
                {
                    if (processed == 0)
                    {
                        throw new AgentCommandException("logical processor #" + cpu.LogicalId.ToString(CultureInfo.InvariantCulture) + " can't be offlined");
                    }

                    break;
                }

                int err = _sys.Actions.WriteSysfs(onlineFile, cpu.Online ? "1" : "0");
                if (err != 0)
                {
                    if (processed == 0)
                    {
                        throw new AgentCommandException("failed to write to " + onlineFile + ": " + Libc.StrError(err));
                    }

                    break;
                }
            }

            processed++;
        }

        return Done(processed);
    }

    public override ValueTask<IReadOnlyList<GuestMemoryBlock>> GuestGetMemoryBlocksAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestMemoryBlock>();
        string root = Sys("devices/system/memory");
        if (!Directory.Exists(root))
        {
            throw new AgentCommandException("Can't open directory \"" + root + "\": No such file or directory");
        }

        var ids = new List<ulong>();
        foreach (string dir in Directory.EnumerateDirectories(root, "memory*"))
        {
            if (ulong.TryParse(Path.GetFileName(dir).AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
            {
                ids.Add(id);
            }
        }

        ids.Sort();
        foreach (ulong id in ids)
        {
            string dir = Path.Combine(root, "memory" + id.ToString(CultureInfo.InvariantCulture));
            string? state = SysText.ReadTrim(Path.Combine(dir, "state"));
            string? removable = SysText.ReadTrim(Path.Combine(dir, "removable"));
            list.Add(new GuestMemoryBlock(id, state == "online") { CanOffline = removable == "1" });
        }

        return Done<IReadOnlyList<GuestMemoryBlock>>(list);
    }

    public override ValueTask<IReadOnlyList<GuestMemoryBlockResponse>> GuestSetMemoryBlocksAsync(IReadOnlyList<GuestMemoryBlock> memBlks, CancellationToken cancellationToken)
    {
        var results = new List<GuestMemoryBlockResponse>();
        foreach (GuestMemoryBlock block in memBlks)
        {
            string dir = Sys("devices/system/memory/memory" + block.PhysIndex.ToString(CultureInfo.InvariantCulture));
            if (!Directory.Exists(dir))
            {
                results.Add(new GuestMemoryBlockResponse(block.PhysIndex, GuestMemoryBlockResponseType.NotFound));
                continue;
            }

            string state = Path.Combine(dir, "state");
            string? current = SysText.ReadTrim(state);
            if ((current == "online") == block.Online)
            {
                results.Add(new GuestMemoryBlockResponse(block.PhysIndex, GuestMemoryBlockResponseType.Success));
                continue;
            }

            if (!block.Online && SysText.ReadTrim(Path.Combine(dir, "removable")) == "0")
            {
                results.Add(new GuestMemoryBlockResponse(block.PhysIndex, GuestMemoryBlockResponseType.OperationNotSupported));
                continue;
            }

            int err = _sys.Actions.WriteSysfs(state, block.Online ? "online" : "offline");
            results.Add(err == 0
                ? new GuestMemoryBlockResponse(block.PhysIndex, GuestMemoryBlockResponseType.Success)
                : new GuestMemoryBlockResponse(block.PhysIndex, GuestMemoryBlockResponseType.OperationFailed) { ErrorCode = err });
        }

        return Done<IReadOnlyList<GuestMemoryBlockResponse>>(results);
    }

    public override ValueTask<GuestMemoryBlockInfo> GuestGetMemoryBlockInfoAsync(CancellationToken cancellationToken)
    {
        string path = Sys("devices/system/memory/block_size_bytes");
        string? text = SysText.ReadTrim(path);
        if (text is null || !ulong.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong size))
        {
            throw new AgentCommandException("could not read the memory block size from " + path);
        }

        return Done(new GuestMemoryBlockInfo(size));
    }

    public override ValueTask<IReadOnlyList<GuestCpuStats>> GuestGetCpustatsAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestCpuStats>();
        foreach (string line in (SysText.Read(Proc("stat")) ?? string.Empty).Split('\n'))
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsDigit(line[3]))
            {
                continue;
            }

            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // /proc/stat counts USER_HZ (100 per second) ticks; qemu-ga reports milliseconds.
            ulong V(int i) => i < f.Length ? ulong.Parse(f[i], CultureInfo.InvariantCulture) * MsPerTick : 0;
            ulong? O(int i) => i < f.Length ? ulong.Parse(f[i], CultureInfo.InvariantCulture) * MsPerTick : null;
            long cpu = long.Parse(f[0].AsSpan(3), CultureInfo.InvariantCulture);
            list.Add(new GuestCpuStats.LinuxCase(cpu, V(1), V(2), V(3), V(4))
            {
                Iowait = O(5),
                Irq = O(6),
                Softirq = O(7),
                Steal = O(8),
                Guest = O(9),
                Guestnice = O(10),
            });
        }

        return Done<IReadOnlyList<GuestCpuStats>>(list);
    }

    private const ulong MsPerTick = 10;

    private List<int> CpuIds()
    {
        var ids = new List<int>();
        string root = Sys("devices/system/cpu");
        if (Directory.Exists(root))
        {
            foreach (string dir in Directory.EnumerateDirectories(root, "cpu*"))
            {
                if (int.TryParse(Path.GetFileName(dir).AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                {
                    ids.Add(id);
                }
            }
        }

        ids.Sort();
        return ids;
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        int nul = bytes.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(nul >= 0 ? bytes.Slice(0, nul) : bytes);
    }
}
