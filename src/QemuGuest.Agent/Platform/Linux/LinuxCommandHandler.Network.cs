using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Linux;

public sealed partial class LinuxCommandHandler
{
    public override unsafe ValueTask<IReadOnlyList<GuestNetworkInterface>> GuestNetworkGetInterfacesAsync(CancellationToken cancellationToken)
    {
        if (Libc.Getifaddrs(out Libc.Ifaddrs* head) != 0)
        {
            throw new AgentCommandException("getifaddrs failed: " + Libc.LastError());
        }

        var order = new List<string>();
        var addresses = new Dictionary<string, List<GuestIpAddress>>(StringComparer.Ordinal);
        try
        {
            for (Libc.Ifaddrs* ifa = head; ifa is not null; ifa = ifa->Next)
            {
                string name = Libc.PtrToString(ifa->Name) ?? string.Empty;
                if (!addresses.TryGetValue(name, out List<GuestIpAddress>? list))
                {
                    list = new List<GuestIpAddress>();
                    addresses[name] = list;
                    order.Add(name);
                }

                if (ifa->Addr is null)
                {
                    continue;
                }

                ushort family = *(ushort*)ifa->Addr;
                if (family == Libc.AF_INET)
                {
                    var ip = new IPAddress(new ReadOnlySpan<byte>(ifa->Addr + 4, 4));
                    int prefix = ifa->Netmask is null ? 0 : PopCount(new ReadOnlySpan<byte>(ifa->Netmask + 4, 4));
                    list.Add(new GuestIpAddress(ip.ToString(), GuestIpAddressType.Ipv4, prefix));
                }
                else if (family == Libc.AF_INET6)
                {
                    var bytes = new ReadOnlySpan<byte>(ifa->Addr + 8, 16);
                    var ip = new IPAddress(bytes);
                    int prefix = ifa->Netmask is null ? 0 : PopCount(new ReadOnlySpan<byte>(ifa->Netmask + 8, 16));
                    list.Add(new GuestIpAddress(ip.ToString(), GuestIpAddressType.Ipv6, prefix));
                }
            }
        }
        finally
        {
            Libc.Freeifaddrs(head);
        }

        Dictionary<string, GuestNetworkInterfaceStat> stats = NetDevStats();
        var result = new List<GuestNetworkInterface>();
        foreach (string name in order)
        {
            string? mac = SysText.ReadTrim(Sys("class/net/" + name + "/address"));
            result.Add(new GuestNetworkInterface(name)
            {
                HardwareAddress = string.IsNullOrEmpty(mac) ? null : mac,
                IpAddresses = addresses[name].Count > 0 ? addresses[name] : null,
                // qemu-ga reads the counters only after it has taken an IP address of the
                // interface, so one without an address (a down lo, a bridge port) has none.
                Statistics = addresses[name].Count > 0 && stats.TryGetValue(name, out GuestNetworkInterfaceStat? s) ? s : null,
            });
        }

        return Done<IReadOnlyList<GuestNetworkInterface>>(result);
    }

    private static int PopCount(ReadOnlySpan<byte> mask)
    {
        int n = 0;
        foreach (byte b in mask)
        {
            n += System.Numerics.BitOperations.PopCount(b);
        }

        return n;
    }

    /// <summary>/proc/net/dev: the counters qemu-ga reports (it parses the same file).</summary>
    private Dictionary<string, GuestNetworkInterfaceStat> NetDevStats()
    {
        var result = new Dictionary<string, GuestNetworkInterfaceStat>(StringComparer.Ordinal);
        foreach (string line in (SysText.Read(Proc("net/dev")) ?? string.Empty).Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }

            string name = line.Substring(0, colon).Trim();
            string[] f = line.Substring(colon + 1).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 16)
            {
                continue;
            }

            ulong V(int i) => ulong.Parse(f[i], CultureInfo.InvariantCulture);
            result[name] = new GuestNetworkInterfaceStat(V(0), V(1), V(2), V(3), V(8), V(9), V(10), V(11));
        }

        return result;
    }

    public override ValueTask<IReadOnlyList<GuestNetworkRoute>> GuestNetworkGetRouteAsync(CancellationToken cancellationToken)
    {
        var routes = new List<GuestNetworkRoute>();
        string[] v4 = (SysText.Read(Proc("net/route")) ?? string.Empty).Split('\n');
        for (int i = 1; i < v4.Length; i++)
        {
            string[] f = v4[i].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 11)
            {
                continue;
            }

            routes.Add(new GuestNetworkRoute(f[0], HexIPv4(f[1]), long.Parse(f[6], CultureInfo.InvariantCulture), 4)
            {
                Gateway = HexIPv4(f[2]),
                Flags = ulong.Parse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                Refcnt = long.Parse(f[4], CultureInfo.InvariantCulture),
                Use = long.Parse(f[5], CultureInfo.InvariantCulture),
                Mask = HexIPv4(f[7]),
                Mtu = long.Parse(f[8], CultureInfo.InvariantCulture),
                Window = long.Parse(f[9], CultureInfo.InvariantCulture),
                Irtt = long.Parse(f[10], CultureInfo.InvariantCulture),
            });
        }

        foreach (string line in (SysText.Read(Proc("net/ipv6_route")) ?? string.Empty).Split('\n'))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10)
            {
                continue;
            }

            routes.Add(new GuestNetworkRoute(f[9], HexIPv6(f[0]), long.Parse(f[5], NumberStyles.HexNumber, CultureInfo.InvariantCulture), 6)
            {
                Desprefixlen = int.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture),
                Source = HexIPv6(f[2]),
                Srcprefixlen = int.Parse(f[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture),
                Nexthop = HexIPv6(f[4]),
                Refcnt = long.Parse(f[6], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                Use = long.Parse(f[7], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                Flags = ulong.Parse(f[8], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            });
        }

        return Done<IReadOnlyList<GuestNetworkRoute>>(routes);
    }

    internal static string HexIPv4(string hex)
    {
        uint v = uint.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        // /proc/net/route prints the address in host (little-endian) order.
        return new IPAddress(new[] { (byte)v, (byte)(v >> 8), (byte)(v >> 16), (byte)(v >> 24) }).ToString();
    }

    internal static string HexIPv6(string hex)
    {
        byte[] b = Convert.FromHexString(hex);
        return new IPAddress(b).ToString();
    }

    // ---- ssh authorized keys ----

    /// <summary>Bound on an authorized_keys file we read back (a user controls its size).</summary>
    internal const long MaxAuthorizedKeysBytes = 4 * 1024 * 1024;

    public override ValueTask<GuestAuthorizedKeys> GuestSshGetAuthorizedKeysAsync(string username, CancellationToken cancellationToken)
    {
        var (home, uid, _) = LookupUser(username);
        string file = Path.Combine(home, ".ssh", "authorized_keys");
        using PosixFs.Fd? ssh = OpenSshDir(home, uid, create: false, gid: 0);
        byte[]? data = ssh is null ? null : PosixFs.ReadRegularFile(ssh, "authorized_keys", MaxAuthorizedKeysBytes, file);
        if (data is null)
        {
            // qemu-ga's text wraps GLib's g_file_get_contents error, curly quotes included.
            throw new AgentCommandException("failed to read '" + file + "': Failed to open file \u201C" + file + "\u201D: No such file or directory");
        }

        var keys = new List<string>();
        foreach (string line in KeyLines(data))
        {
            if (line[0] != '#')
            {
                keys.Add(line);
            }
        }

        return Done(new GuestAuthorizedKeys(keys));
    }

    public override ValueTask GuestSshAddAuthorizedKeysAsync(string username, IReadOnlyList<string> keys, bool? reset, CancellationToken cancellationToken)
    {
        CheckKeys(keys);
        var (home, uid, gid) = LookupUser(username);
        string file = Path.Combine(home, ".ssh", "authorized_keys");
        using PosixFs.Fd ssh = OpenSshDir(home, uid, create: true, gid)!;
        var lines = new List<string>();
        if (reset != true)
        {
            lines.AddRange(KeyLines(PosixFs.ReadRegularFile(ssh, "authorized_keys", MaxAuthorizedKeysBytes, file)));
        }

        foreach (string k in keys)
        {
            if (!lines.Contains(k))
            {
                lines.Add(k);
            }
        }

        WriteKeys(ssh, file, lines, uid, gid);
        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestSshRemoveAuthorizedKeysAsync(string username, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        CheckKeys(keys);
        var (home, uid, gid) = LookupUser(username);
        string file = Path.Combine(home, ".ssh", "authorized_keys");
        using PosixFs.Fd? ssh = OpenSshDir(home, uid, create: false, gid);
        byte[]? data = ssh is null ? null : PosixFs.ReadRegularFile(ssh, "authorized_keys", MaxAuthorizedKeysBytes, file);
        if (data is null)
        {
            return ValueTask.CompletedTask;
        }

        var lines = new List<string>();
        foreach (string line in KeyLines(data))
        {
            if (!System.Linq.Enumerable.Contains(keys, line))
            {
                lines.Add(line);
            }
        }

        WriteKeys(ssh!, file, lines, uid, gid);
        return ValueTask.CompletedTask;
    }

    private (string Home, uint Uid, uint Gid) LookupUser(string username) =>
        _sys.LookupUser(username) ?? throw new AgentCommandException("failed to lookup user '" + username + "': Success");

    private static void CheckKeys(IReadOnlyList<string> keys)
    {
        foreach (string k in keys)
        {
            if (k.Length == 0 || k.Contains('\n', StringComparison.Ordinal))
            {
                throw new AgentCommandException("invalid OpenSSH public key: '" + k + "'");
            }
        }
    }

    private static IEnumerable<string> KeyLines(byte[]? data)
    {
        if (data is null)
        {
            yield break;
        }

        foreach (string raw in System.Text.Encoding.UTF8.GetString(data).Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length > 0)
            {
                yield return line;
            }
        }
    }

    /// <summary>
    /// The user's ~/.ssh as a descriptor: the home is walked link-safely, .ssh itself is opened
    /// O_NOFOLLOW (a symlinked ~/.ssh is refused, where the stock agent chowns through it) and
    /// must belong to the user or root; a missing one is created 0700 and given to the user on
    /// its descriptor. Null when missing and <paramref name="create"/> is false.
    /// </summary>
    private static PosixFs.Fd? OpenSshDir(string home, uint uid, bool create, uint gid)
    {
        string shown = Path.Combine(home, ".ssh");
        using PosixFs.Fd homeDir = PosixFs.OpenDirectory(home);
        PosixFs.Fd? ssh = PosixFs.OpenSubdirectory(homeDir, ".ssh", shown);
        if (ssh is null)
        {
            if (!create)
            {
                return null;
            }

            ssh = PosixFs.MakeDirectory(homeDir, ".ssh", 0x1C0, shown);
            try
            {
                PosixFs.Fchown(ssh, uid, gid, shown);
            }
            catch
            {
                ssh.Dispose();
                throw;
            }

            return ssh;
        }

        uint owner = PosixFs.Stat(ssh, shown).Uid;
        if (owner != uid && owner != 0)
        {
            ssh.Dispose();
            throw PosixFs.Error(shown, "owned by uid " + owner.ToString(CultureInfo.InvariantCulture) + ", neither the user nor root; refusing to write into it");
        }

        return ssh;
    }

    /// <summary>Writes authorized_keys through a random O_EXCL temp name, owned by the user, 0600, then renamed into place.</summary>
    private static void WriteKeys(PosixFs.Fd ssh, string file, List<string> lines, uint uid, uint gid)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(lines.Count == 0 ? string.Empty : string.Join("\n", lines) + "\n");
        PosixFs.WriteFileAtomic(ssh, "authorized_keys", text, 0x180, uid, gid, file);
    }

    // ---- ownership for the file extensions ----
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct StatBuf
    {
        public fixed byte Data[256];
    }

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatNative(string path, out StatBuf buf);

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LstatNative(string path, out StatBuf buf);

    protected override unsafe (long? Uid, long? Gid) Owner(string path, bool follow)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return (null, null);
        }

        StatBuf buf;
        int rc = follow ? StatNative(path, out buf) : LstatNative(path, out buf);
        if (rc != 0)
        {
            return (null, null);
        }

        // x86_64 struct stat: st_uid at 28, st_gid at 32.
        return (*(uint*)(buf.Data + 28), *(uint*)(buf.Data + 32));
    }
}
