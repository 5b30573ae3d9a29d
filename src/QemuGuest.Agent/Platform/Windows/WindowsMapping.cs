using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// The portable half of the Windows handlers: everything that turns what Win32 returned into
/// QAPI values, written as pure functions so the Linux CI runs them (tests in
/// tests/QemuGuest.Agent.Tests/Windows*Tests.cs). Each one follows the function of qemu-ga's
/// qga/commands-win32.c named in its comment, including that function's quirks where they are
/// observable on the wire.
/// </summary>
internal static class WindowsMapping
{
    /// <summary>100 ns ticks between 1601-01-01 and 1970-01-01 (qemu-ga's W32_FT_OFFSET).</summary>
    public const long FileTimeUnixOffset = 116444736000000000;

    /// <summary>filetime_to_ns: a FILETIME (100 ns since 1601) as nanoseconds since 1970.</summary>
    public static long FileTimeToUnixNanoseconds(long fileTime) => checked((fileTime - FileTimeUnixOffset) * 100);

    /// <summary>qmp_guest_get_users: WTS LogonTime as seconds since 1970, with the fraction.</summary>
    public static double FileTimeToUnixSeconds(long fileTime) => (fileTime - FileTimeUnixOffset) / 10_000_000.0;

    /// <summary>
    /// error_setg_win32: qemu-ga appends ": " and the system's text for the code
    /// (g_win32_error_message, which drops the trailing CR LF) to its own message.
    /// </summary>
    public static string Win32Error(string message, string systemText)
    {
        string text = systemText.TrimEnd('\r', '\n', ' ');
        return text.Length == 0 ? message : message + ": " + text;
    }

    // ---- guest-get-osinfo ----

    private static readonly (int Major, int Minor, string Version, string Id)[] ClientVersions =
    {
        (5, 0, "Microsoft Windows 2000", "2000"),
        (5, 1, "Microsoft Windows XP", "xp"),
        (6, 0, "Microsoft Windows Vista", "vista"),
        (6, 1, "Microsoft Windows 7", "7"),
        (6, 2, "Microsoft Windows 8", "8"),
        (6, 3, "Microsoft Windows 8.1", "8.1"),
    };

    private static readonly (int Major, int Minor, string Version, string Id)[] ServerVersions =
    {
        (5, 2, "Microsoft Windows Server 2003", "2003"),
        (6, 0, "Microsoft Windows Server 2008", "2008"),
        (6, 1, "Microsoft Windows Server 2008 R2", "2008r2"),
        (6, 2, "Microsoft Windows Server 2012", "2012"),
        (6, 3, "Microsoft Windows Server 2012 R2", "2012r2"),
    };

    // Windows 10 and later all report 10.0: qemu-ga tells them apart by the first build of each.
    private static readonly (int FirstBuild, string Version, string Id)[] Server10Versions =
    {
        (14393, "Microsoft Windows Server 2016", "2016"),
        (17763, "Microsoft Windows Server 2019", "2019"),
        (20344, "Microsoft Windows Server 2022", "2022"),
        (26040, "Microsoft Windows Server 2025", "2025"),
    };

    private static readonly (int FirstBuild, string Version, string Id)[] Client10Versions =
    {
        (10240, "Microsoft Windows 10", "10"),
        (22000, "Microsoft Windows 11", "11"),
    };

    /// <summary>
    /// ga_get_win_name: the "version" (id false) or "version-id" (id true) of guest-get-osinfo.
    /// For 10.0 the last table row whose first build is not above <paramref name="build"/> wins;
    /// a 10.0 build older than every row and an unknown major/minor give "N/A", like qemu-ga.
    /// </summary>
    public static string WindowsName(int major, int minor, int build, bool server, bool id)
    {
        if (major == 10 && minor == 0)
        {
            string? found = null;
            foreach (var row in server ? Server10Versions : Client10Versions)
            {
                if (build >= row.FirstBuild)
                {
                    found = id ? row.Id : row.Version;
                }
            }

            return found ?? "N/A";
        }

        foreach (var row in server ? ServerVersions : ClientVersions)
        {
            if (row.Major == major && row.Minor == minor)
            {
                return id ? row.Id : row.Version;
            }
        }

        return "N/A";
    }

    /// <summary>ga_get_current_arch: SYSTEM_INFO.wProcessorArchitecture to qemu-ga's names.</summary>
    public static string MachineName(ushort processorArchitecture) => processorArchitecture switch
    {
        9 => "x86_64",   // PROCESSOR_ARCHITECTURE_AMD64
        5 => "arm",      // PROCESSOR_ARCHITECTURE_ARM
        6 => "ia64",     // PROCESSOR_ARCHITECTURE_IA64
        0 => "x86",      // PROCESSOR_ARCHITECTURE_INTEL
        _ => "unknown",  // qemu-ga has no ARM64 row: an arm64 guest reports "unknown" there too
    };

    /// <summary>qmp_guest_get_osinfo from RtlGetVersion's fields and the registry ProductName.</summary>
    public static GuestOSInfo OsInfo(int major, int minor, int build, byte productType, ushort processorArchitecture, string productName)
    {
        bool server = productType != 1; // VER_NT_WORKSTATION
        string variant = server ? "server" : "client";
        return new GuestOSInfo
        {
            KernelVersion = major.ToString(CultureInfo.InvariantCulture) + "." + minor.ToString(CultureInfo.InvariantCulture),
            KernelRelease = build.ToString(CultureInfo.InvariantCulture),
            Machine = MachineName(processorArchitecture),
            Id = "mswindows",
            Name = "Microsoft Windows",
            PrettyName = productName,
            Version = WindowsName(major, minor, build, server, id: false),
            VersionId = WindowsName(major, minor, build, server, id: true),
            Variant = variant,
            VariantId = variant,
        };
    }

    // ---- guest-get-users ----

    /// <summary>One WTS session: WTSINFO's UserName, Domain and LogonTime (a FILETIME).</summary>
    public readonly record struct SessionUser(string UserName, string Domain, long LogonFileTime);

    /// <summary>
    /// qmp_guest_get_users: sessions without a user name are skipped; a user with several
    /// sessions appears once, in first-seen order, with the domain of its first session and the
    /// earliest login time.
    /// </summary>
    public static List<GuestUser> Users(IEnumerable<SessionUser> sessions)
    {
        var result = new List<GuestUser>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (SessionUser s in sessions)
        {
            if (string.IsNullOrEmpty(s.UserName))
            {
                continue;
            }

            double login = FileTimeToUnixSeconds(s.LogonFileTime);
            if (index.TryGetValue(s.UserName, out int i))
            {
                if (result[i].LoginTime > login)
                {
                    result[i] = result[i] with { LoginTime = login };
                }

                continue;
            }

            index.Add(s.UserName, result.Count);
            result.Add(new GuestUser(s.UserName, login) { Domain = s.Domain });
        }

        return result;
    }

    // ---- guest-fstrim ----

    /// <summary>
    /// qmp_guest_fstrim: defrag.exe always exits 0, so qemu-ga reports the first output line
    /// (lines split on CR LF) that contains "(0x" as the path's error, or none.
    /// </summary>
    public static string? DefragError(string output)
    {
        foreach (string line in output.Split("\r\n"))
        {
            if (line.Contains("(0x", StringComparison.Ordinal))
            {
                return line;
            }
        }

        return null;
    }

    /// <summary>qmp_guest_fstrim refuses Windows before 8 (6.2) with this text.</summary>
    public static string? FstrimVersionError(int major, int minor) =>
        major > 6 || (major == 6 && minor >= 2) ? null : "fstrim is only supported for Win8+";

    // ---- guest-get-devices ----

    /// <summary>
    /// qmp_guest_get_devices' DEVICE_PCI_RE, "PCI\\VEN_(1AF4|1B36)&amp;DEV_([0-9A-B]{4})(&amp;|$)",
    /// anchored at the start: only Red Hat / QEMU vendor ids, and a device id of the characters
    /// 0-9 and A-B only (qemu-ga's class stops at B, so e.g. DEV_105C is not listed there either).
    /// </summary>
    public static bool TryParsePciHardwareId(string hardwareId, out ushort vendorId, out ushort deviceId)
    {
        vendorId = 0;
        deviceId = 0;
        const string Prefix = "PCI\\VEN_";
        if (!hardwareId.StartsWith(Prefix, StringComparison.Ordinal) || hardwareId.Length < Prefix.Length + 4 + 5 + 4)
        {
            return false;
        }

        string vendor = hardwareId.Substring(Prefix.Length, 4);
        if (vendor != "1AF4" && vendor != "1B36")
        {
            return false;
        }

        int at = Prefix.Length + 4;
        if (string.CompareOrdinal(hardwareId, at, "&DEV_", 0, 5) != 0)
        {
            return false;
        }

        at += 5;
        for (int i = 0; i < 4; i++)
        {
            char c = hardwareId[at + i];
            if (!((c >= '0' && c <= '9') || c == 'A' || c == 'B'))
            {
                return false;
            }
        }

        int end = at + 4;
        if (end != hardwareId.Length && hardwareId[end] != '&')
        {
            return false;
        }

        vendorId = ushort.Parse(vendor, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        deviceId = ushort.Parse(hardwareId.AsSpan(at, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>
    /// A REG_MULTI_SZ / DEVPROP_TYPE_STRING_LIST value (UTF-16 strings, each NUL-terminated,
    /// the list ended by an empty string) as a list; a missing final terminator is tolerated.
    /// </summary>
    public static List<string> MultiString(ReadOnlySpan<char> value)
    {
        var list = new List<string>();
        while (!value.IsEmpty && value[0] != '\0')
        {
            int nul = value.IndexOf('\0');
            if (nul < 0)
            {
                list.Add(value.ToString());
                break;
            }

            list.Add(value[..nul].ToString());
            value = value[(nul + 1)..];
        }

        return list;
    }

    /// <summary>qmp_guest_get_devices: one device from its properties, or null when qemu-ga skips it.</summary>
    public static GuestDeviceInfo? Device(string? name, IReadOnlyList<string> hardwareIds, string? driverVersion, long? driverDateFileTime)
    {
        if (name is null)
        {
            return null;
        }

        foreach (string id in hardwareIds)
        {
            if (!TryParsePciHardwareId(id, out ushort vendor, out ushort device))
            {
                continue;
            }

            // qemu-ga drops the device when its driver version or date cannot be read.
            if (driverVersion is null || driverDateFileTime is not long date)
            {
                return null;
            }

            return new GuestDeviceInfo(name)
            {
                DriverVersion = driverVersion,
                DriverDate = FileTimeToUnixNanoseconds(date),
                Id = new GuestDeviceId.PciCase(vendor, device),
            };
        }

        return null;
    }

    // ---- guest-get-disks / guest-get-fsinfo ----

    /// <summary>
    /// find_bus_type: STORAGE_BUS_TYPE to QAPI. qemu-ga's table maps Fibre Channel to "ssa" (sic)
    /// and stops at FileBackedVirtual (15): NVMe, Spaces, SCM and UFS come out "unknown".
    /// </summary>
    public static GuestDiskBusType BusType(int storageBusType) => storageBusType switch
    {
        1 => GuestDiskBusType.Scsi,
        2 or 3 => GuestDiskBusType.Ide,         // ATAPI, ATA
        4 => GuestDiskBusType.Ieee1394,
        5 or 6 => GuestDiskBusType.Ssa,         // SSA, Fibre
        7 => GuestDiskBusType.Usb,
        8 => GuestDiskBusType.Raid,
        9 => GuestDiskBusType.Iscsi,
        10 => GuestDiskBusType.Sas,
        11 => GuestDiskBusType.Sata,
        12 => GuestDiskBusType.Sd,
        13 => GuestDiskBusType.Mmc,
        14 => GuestDiskBusType.Virtual,
        15 => GuestDiskBusType.FileBackedVirtual,
        _ => GuestDiskBusType.Unknown,
    };

    /// <summary>get_single_disk_info asks IOCTL_SCSI_GET_ADDRESS only on these buses.</summary>
    public static bool HasScsiAddress(GuestDiskBusType bus) =>
        bus is GuestDiskBusType.Scsi or GuestDiskBusType.Ide or GuestDiskBusType.Raid or GuestDiskBusType.Sas;

    /// <summary>
    /// get_pci_info: the controller's SetupAPI SPDRP_BUSNUMBER, SPDRP_ADDRESS (device number in the
    /// high word, function in the low word) and SPDRP_UI_NUMBER (the slot qemu-ga reports). Any
    /// of them missing gives the all -1 address qemu-ga reports for non-PCI controllers.
    /// </summary>
    public static GuestPCIAddress PciAddress(uint? busNumber, uint? address, uint? uiNumber)
    {
        if (busNumber is not uint bus || address is not uint addr || uiNumber is not uint slot)
        {
            return UnknownPciAddress;
        }

        return new GuestPCIAddress(0, (int)bus, (int)slot, addr == uint.MaxValue ? -1 : addr & 0xFFFF);
    }

    public static GuestPCIAddress UnknownPciAddress => new(-1, -1, -1, -1);

    /// <summary>\\.\PhysicalDriveN, the name qemu-ga gives disk number N.</summary>
    public static string PhysicalDrive(uint diskNumber) => "\\\\.\\PhysicalDrive" + diskNumber.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// get_disk_properties: the serial number inside the bytes of a STORAGE_DEVICE_DESCRIPTOR the
    /// IOCTL returned; qemu-ga's error text when the offset lies outside them.
    /// </summary>
    public static string? DescriptorSerial(ReadOnlySpan<byte> descriptor, uint serialOffset, out string? error)
    {
        error = null;
        if (serialOffset == 0)
        {
            return null;
        }

        if (serialOffset >= descriptor.Length)
        {
            error = "failed to get serial number: offset outside the buffer";
            return null;
        }

        ReadOnlySpan<byte> rest = descriptor[(int)serialOffset..];
        int nul = rest.IndexOf((byte)0);
        if (nul >= 0)
        {
            rest = rest[..nul];
        }

        return rest.IsEmpty ? null : Encoding.ASCII.GetString(rest);
    }

    /// <summary>
    /// build_guest_fsinfo: the first of GetVolumePathNamesForVolumeNameW's mount points without
    /// its trailing backslash, or qemu-ga's "System Reserved" for a volume without any.
    /// </summary>
    public static string FsinfoMountPoint(IReadOnlyList<string> volumePathNames)
    {
        string first = volumePathNames.Count == 0 ? string.Empty : volumePathNames[0];
        if (first.EndsWith('\\'))
        {
            first = first[..^1];
        }

        return first.Length == 0 ? "System Reserved" : first;
    }

    /// <summary>build_guest_fsinfo: used = total - free (all free bytes, not the caller's quota).</summary>
    public static GuestFilesystemInfo Filesystem(string volumeGuidPath, string mountPoint, string fsType, ulong? totalBytes, ulong? freeBytes, IReadOnlyList<GuestDiskAddress> disks)
    {
        bool sized = mountPoint != "System Reserved" && totalBytes is not null && freeBytes is not null;
        return new GuestFilesystemInfo(volumeGuidPath, mountPoint, fsType, disks)
        {
            TotalBytes = sized ? totalBytes : null,
            UsedBytes = sized ? totalBytes - freeBytes : null,
        };
    }

    // ---- guest-set-user-password ----

    /// <summary>
    /// qmp_guest_set_user_password's checks before NetUserSetInfo: crypted passwords are
    /// unsupported on Windows; the base64 is decoded strictly (qemu's qbase64_decode texts) and
    /// the raw bytes read as UTF-8, cut at the first NUL like the C string qemu-ga builds.
    /// </summary>
    public static string DecodePassword(string password, bool crypted)
    {
        if (crypted)
        {
            throw AgentCommandException.Unsupported();
        }

        byte[] raw = QemuBase64.Decode(password);
        int nul = Array.IndexOf(raw, (byte)0);
        return Encoding.UTF8.GetString(raw, 0, nul < 0 ? raw.Length : nul);
    }

    /// <summary>get_net_error_message's result inside qemu-ga's text.</summary>
    public static string SetPasswordError(string netErrorText) => "failed to set password: " + netErrorText.TrimEnd('\r', '\n');

    // ---- guest-network-get-interfaces ----

    /// <summary>qemu-ga prints the first six bytes of PhysicalAddress, lower-case hex, colon separated.</summary>
    public static string? HardwareAddress(ReadOnlySpan<byte> physicalAddress)
    {
        if (physicalAddress.IsEmpty)
        {
            return null;
        }

        var sb = new StringBuilder(17);
        for (int i = 0; i < 6; i++)
        {
            if (i > 0)
            {
                sb.Append(':');
            }

            // qemu-ga formats six bytes whatever the length; shorter addresses read as zero here
            // instead of past the end of the buffer.
            byte b = i < physicalAddress.Length ? physicalAddress[i] : (byte)0;
            sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>
    /// guest_get_network_stats: MIB_IF_ROW2's counters. qemu-ga reports unicast packets only
    /// (InUcastPkts / OutUcastPkts), not unicast + non-unicast.
    /// </summary>
    public static GuestNetworkInterfaceStat Statistics(in InterfaceCounters c) =>
        new(c.InOctets, c.InUcastPkts, c.InErrors, c.InDiscards, c.OutOctets, c.OutUcastPkts, c.OutErrors, c.OutDiscards);

    /// <summary>The MIB_IF_ROW2 counters qemu-ga reads.</summary>
    public readonly record struct InterfaceCounters(
        ulong InOctets, ulong InUcastPkts, ulong InErrors, ulong InDiscards,
        ulong OutOctets, ulong OutUcastPkts, ulong OutErrors, ulong OutDiscards);

    // ---- guest-network-get-route ----

    public const ushort AF_INET = 2;
    public const ushort AF_INET6 = 23;

    /// <summary>
    /// A Windows SOCKADDR (sockaddr_in / sockaddr_in6) as an address, the way qemu-ga's
    /// WSAAddressToString prints it: IPv6 with a non-zero scope id gets "%scope". Other families
    /// and short buffers give null (qemu-ga skips those addresses).
    /// </summary>
    public static System.Net.IPAddress? SockaddrAddress(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 2)
        {
            return null;
        }

        ushort family = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        if (family == AF_INET && sockaddr.Length >= 8)
        {
            return new System.Net.IPAddress(sockaddr.Slice(4, 4));
        }

        if (family == AF_INET6 && sockaddr.Length >= 28)
        {
            uint scope = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(sockaddr.Slice(24, 4));
            return new System.Net.IPAddress(sockaddr.Slice(8, 16), scope);
        }

        return null;
    }

    /// <summary>One unicast address of guest-network-get-interfaces (OnLinkPrefixLength as prefix).</summary>
    public static GuestIpAddress? IpAddress(ReadOnlySpan<byte> sockaddr, byte onLinkPrefixLength)
    {
        System.Net.IPAddress? a = SockaddrAddress(sockaddr);
        if (a is null)
        {
            return null;
        }

        var type = a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? GuestIpAddressType.Ipv6 : GuestIpAddressType.Ipv4;
        return new GuestIpAddress(a.ToString(), type, onLinkPrefixLength);
    }

    /// <summary>A MIB_IPFORWARD_ROW2's SOCKADDR_INET destination and next hop as a <see cref="RouteRow"/>.</summary>
    public static RouteRow? RouteFromSockaddrs(string alias, ReadOnlySpan<byte> destination, byte prefixLength, ReadOnlySpan<byte> nextHop, uint routeMetric, uint interfaceMetric)
    {
        System.Net.IPAddress? dest = SockaddrAddress(destination);
        System.Net.IPAddress? hop = SockaddrAddress(nextHop);
        if (dest is null)
        {
            return null;
        }

        bool v6 = dest.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        if (v6)
        {
            // Route keys carry no scope: print the bare address.
            dest.ScopeId = 0;
        }

        hop ??= v6 ? System.Net.IPAddress.IPv6Any : System.Net.IPAddress.Any;
        if (hop.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            hop.ScopeId = 0;
        }

        if (!v6 && prefixLength > 32)
        {
            return null;
        }

        return new RouteRow(alias, v6, dest.GetAddressBytes(), prefixLength, hop.GetAddressBytes(), routeMetric, interfaceMetric);
    }

    /// <summary>One MIB_IPFORWARD_ROW2 with the interface's alias and metric resolved.</summary>
    public readonly record struct RouteRow(
        string InterfaceAlias, bool IsIpv6, byte[] Destination, byte PrefixLength, byte[] NextHop, uint RouteMetric, uint InterfaceMetric);

    /// <summary>
    /// A routing table row as QAPI: iface is the adapter's alias (the name
    /// guest-network-get-interfaces reports), metric is the effective one Windows uses (route +
    /// interface metric, what "route print" shows); IPv4 rows carry gateway and mask, IPv6 rows
    /// desprefixlen and nexthop. The Linux-only members (irtt, flags, refcnt, use, window, mtu,
    /// source) are never set: Windows has no such values per route.
    /// </summary>
    public static GuestNetworkRoute Route(in RouteRow row)
    {
        string destination = new System.Net.IPAddress(row.Destination).ToString();
        string nextHop = new System.Net.IPAddress(row.NextHop).ToString();
        long metric = (long)row.RouteMetric + row.InterfaceMetric;
        if (row.IsIpv6)
        {
            return new GuestNetworkRoute(row.InterfaceAlias, destination, metric, 6)
            {
                Desprefixlen = row.PrefixLength.ToString(CultureInfo.InvariantCulture),
                Nexthop = nextHop,
            };
        }

        return new GuestNetworkRoute(row.InterfaceAlias, destination, metric, 4)
        {
            Gateway = nextHop,
            Mask = Ipv4Mask(row.PrefixLength),
        };
    }

    /// <summary>An IPv4 prefix length as a dotted netmask (0 → 0.0.0.0, 32 → 255.255.255.255).</summary>
    public static string Ipv4Mask(int prefixLength)
    {
        if (prefixLength < 0 || prefixLength > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixLength), prefixLength, "an IPv4 prefix length is 0 to 32");
        }

        uint mask = prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
        return string.Join('.', (mask >> 24) & 0xFF, (mask >> 16) & 0xFF, (mask >> 8) & 0xFF, mask & 0xFF);
    }
}
