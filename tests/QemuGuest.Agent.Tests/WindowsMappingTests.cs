using System;
using System.Collections.Generic;
using System.Text;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Platform.Windows;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The portable half of the Windows handlers, run on Linux: each expectation is what qemu-ga's
/// qga/commands-win32.c produces for the same Win32 values.
/// </summary>
public sealed class WindowsMappingTests
{
    [Theory]
    [InlineData(10, 0, 19045, false, "Microsoft Windows 10", "10")]
    [InlineData(10, 0, 22000, false, "Microsoft Windows 11", "11")]
    [InlineData(10, 0, 26100, false, "Microsoft Windows 11", "11")]
    [InlineData(10, 0, 10239, false, "N/A", "N/A")]
    [InlineData(10, 0, 14393, true, "Microsoft Windows Server 2016", "2016")]
    [InlineData(10, 0, 17763, true, "Microsoft Windows Server 2019", "2019")]
    [InlineData(10, 0, 20348, true, "Microsoft Windows Server 2022", "2022")]
    [InlineData(10, 0, 26100, true, "Microsoft Windows Server 2025", "2025")]
    [InlineData(10, 0, 14000, true, "N/A", "N/A")]
    [InlineData(6, 1, 7601, false, "Microsoft Windows 7", "7")]
    [InlineData(6, 1, 7601, true, "Microsoft Windows Server 2008 R2", "2008r2")]
    [InlineData(6, 3, 9600, true, "Microsoft Windows Server 2012 R2", "2012r2")]
    [InlineData(5, 2, 3790, false, "N/A", "N/A")]
    [InlineData(11, 0, 1, false, "N/A", "N/A")]
    public void WindowsNameFollowsQemuGaTables(int major, int minor, int build, bool server, string version, string id)
    {
        Assert.Equal(version, WindowsMapping.WindowsName(major, minor, build, server, id: false));
        Assert.Equal(id, WindowsMapping.WindowsName(major, minor, build, server, id: true));
    }

    [Fact]
    public void OsInfoCarriesRegistryProductNameAndVariant()
    {
        GuestOSInfo server = WindowsMapping.OsInfo(10, 0, 20348, productType: 3, processorArchitecture: 9, "Windows Server 2022 Datacenter");
        Assert.Equal("10.0", server.KernelVersion);
        Assert.Equal("20348", server.KernelRelease);
        Assert.Equal("x86_64", server.Machine);
        Assert.Equal("mswindows", server.Id);
        Assert.Equal("Microsoft Windows", server.Name);
        Assert.Equal("Windows Server 2022 Datacenter", server.PrettyName);
        Assert.Equal("Microsoft Windows Server 2022", server.Version);
        Assert.Equal("2022", server.VersionId);
        Assert.Equal("server", server.Variant);
        Assert.Equal("server", server.VariantId);

        GuestOSInfo client = WindowsMapping.OsInfo(10, 0, 22631, productType: 1, processorArchitecture: 12, "Windows 10 Pro");
        Assert.Equal("client", client.Variant);
        Assert.Equal("Microsoft Windows 11", client.Version);
        Assert.Equal("unknown", client.Machine); // qemu-ga has no ARM64 row
    }

    [Theory]
    [InlineData((ushort)9, "x86_64")]
    [InlineData((ushort)0, "x86")]
    [InlineData((ushort)5, "arm")]
    [InlineData((ushort)6, "ia64")]
    [InlineData((ushort)0xFFFF, "unknown")]
    public void MachineNames(ushort arch, string expected) => Assert.Equal(expected, WindowsMapping.MachineName(arch));

    [Fact]
    public void FileTimeConversions()
    {
        Assert.Equal(0, WindowsMapping.FileTimeToUnixNanoseconds(WindowsMapping.FileTimeUnixOffset));
        // 2024-01-02T03:04:05.5Z
        var t = new DateTime(2024, 1, 2, 3, 4, 5, 500, DateTimeKind.Utc);
        long fileTime = t.ToFileTimeUtc();
        Assert.Equal((t - DateTime.UnixEpoch).Ticks * 100, WindowsMapping.FileTimeToUnixNanoseconds(fileTime));
        Assert.Equal((t - DateTime.UnixEpoch).TotalSeconds, WindowsMapping.FileTimeToUnixSeconds(fileTime), 6);
        Assert.Throws<OverflowException>(() => WindowsMapping.FileTimeToUnixNanoseconds(long.MaxValue));
    }

    [Fact]
    public void UsersKeepFirstSeenOrderAndEarliestLogin()
    {
        long early = new DateTime(2024, 5, 1, 8, 0, 0, DateTimeKind.Utc).ToFileTimeUtc();
        long late = new DateTime(2024, 5, 1, 9, 0, 0, DateTimeKind.Utc).ToFileTimeUtc();
        List<GuestUser> users = WindowsMapping.Users(new[]
        {
            new WindowsMapping.SessionUser(string.Empty, string.Empty, 0), // services session
            new WindowsMapping.SessionUser("alice", "CORP", late),
            new WindowsMapping.SessionUser("bob", "WS1", late),
            new WindowsMapping.SessionUser("alice", "OTHER", early),
        });

        Assert.Equal(2, users.Count);
        Assert.Equal("alice", users[0].User);
        Assert.Equal("CORP", users[0].Domain);
        Assert.Equal((new DateTime(2024, 5, 1, 8, 0, 0, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds, users[0].LoginTime);
        Assert.Equal("bob", users[1].User);
    }

    [Fact]
    public void DefragErrorIsTheFirstLineWithAHexCode()
    {
        const string ok = "Microsoft Drive Optimizer\r\nCopyright (c) Microsoft Corp.\r\n\r\nInvoking retrim on (C:)...\r\n\r\nThe operation completed successfully.\r\n";
        Assert.Null(WindowsMapping.DefragError(ok));
        const string bad = "Microsoft Drive Optimizer\r\nInvoking retrim on (D:)...\r\nThe operation requested is not supported by the hardware backing the volume. (0x89000020)\r\nsecond (0x1)\r\n";
        Assert.Equal("The operation requested is not supported by the hardware backing the volume. (0x89000020)", WindowsMapping.DefragError(bad));
        Assert.Null(WindowsMapping.DefragError(string.Empty));
    }

    [Theory]
    [InlineData(6, 1, "fstrim is only supported for Win8+")]
    [InlineData(6, 2, null)]
    [InlineData(10, 0, null)]
    public void FstrimNeedsWindows8(int major, int minor, string? error) => Assert.Equal(error, WindowsMapping.FstrimVersionError(major, minor));

    [Theory]
    [InlineData("PCI\\VEN_1AF4&DEV_1000&SUBSYS_00011AF4&REV_00", true, 0x1AF4, 0x1000)]
    [InlineData("PCI\\VEN_1AF4&DEV_1041", true, 0x1AF4, 0x1041)]
    [InlineData("PCI\\VEN_1B36&DEV_000B&CC_0604", true, 0x1B36, 0x000B)]
    [InlineData("PCI\\VEN_1AF4&DEV_105C", false, 0, 0)]          // 'C' is outside qemu-ga's [0-9A-B]
    [InlineData("PCI\\VEN_8086&DEV_100E", false, 0, 0)]          // not Red Hat / QEMU
    [InlineData("PCI\\VEN_1AF4&DEV_10001", false, 0, 0)]         // five digits
    [InlineData("pci\\ven_1af4&dev_1000", false, 0, 0)]          // the regex is case-sensitive
    [InlineData("USB\\VEN_1AF4&DEV_1000", false, 0, 0)]
    [InlineData("XPCI\\VEN_1AF4&DEV_1000", false, 0, 0)]         // anchored at the start
    [InlineData("PCI\\VEN_1AF4&DEV_10", false, 0, 0)]
    public void PciHardwareIds(string id, bool match, int vendor, int device)
    {
        Assert.Equal(match, WindowsMapping.TryParsePciHardwareId(id, out ushort v, out ushort d));
        Assert.Equal(vendor, v);
        Assert.Equal(device, d);
    }

    [Fact]
    public void MultiStringSplitsOnNul()
    {
        Assert.Equal(new[] { "a", "bc" }, WindowsMapping.MultiString("a\0bc\0\0".AsSpan()));
        Assert.Equal(new[] { "a", "bc" }, WindowsMapping.MultiString("a\0bc".AsSpan()));
        Assert.Empty(WindowsMapping.MultiString("\0\0".AsSpan()));
        Assert.Empty(WindowsMapping.MultiString(ReadOnlySpan<char>.Empty));
    }

    [Fact]
    public void DevicesNeedAPciIdAVersionAndADate()
    {
        long date = new DateTime(2023, 6, 1, 0, 0, 0, DateTimeKind.Utc).ToFileTimeUtc();
        var ids = new[] { "PCI\\VEN_8086&DEV_7010", "PCI\\VEN_1AF4&DEV_1000&SUBSYS_00011AF4" };
        GuestDeviceInfo? d = WindowsMapping.Device("Red Hat VirtIO Ethernet Adapter", ids, "100.94.104.24800", date);
        Assert.NotNull(d);
        Assert.Equal("Red Hat VirtIO Ethernet Adapter", d!.DriverName);
        Assert.Equal("100.94.104.24800", d.DriverVersion);
        Assert.Equal((new DateTime(2023, 6, 1, 0, 0, 0, DateTimeKind.Utc) - DateTime.UnixEpoch).Ticks * 100, d.DriverDate);
        var pci = Assert.IsType<GuestDeviceId.PciCase>(d.Id);
        Assert.Equal(0x1AF4, pci.VendorId);
        Assert.Equal(0x1000, pci.DeviceId);

        Assert.Null(WindowsMapping.Device("Intel", new[] { "PCI\\VEN_8086&DEV_7010" }, "1", date));
        Assert.Null(WindowsMapping.Device("virtio", ids, null, date));
        Assert.Null(WindowsMapping.Device("virtio", ids, "1", null));
        Assert.Null(WindowsMapping.Device(null, ids, "1", date));
    }

    [Theory]
    [InlineData(0, GuestDiskBusType.Unknown)]
    [InlineData(1, GuestDiskBusType.Scsi)]
    [InlineData(2, GuestDiskBusType.Ide)]
    [InlineData(3, GuestDiskBusType.Ide)]
    [InlineData(6, GuestDiskBusType.Ssa)]   // qemu-ga maps Fibre Channel to ssa
    [InlineData(11, GuestDiskBusType.Sata)]
    [InlineData(14, GuestDiskBusType.Virtual)]
    [InlineData(15, GuestDiskBusType.FileBackedVirtual)]
    [InlineData(17, GuestDiskBusType.Unknown)] // NVMe is past qemu-ga's table
    [InlineData(-1, GuestDiskBusType.Unknown)]
    public void BusTypes(int storageBusType, GuestDiskBusType expected) => Assert.Equal(expected, WindowsMapping.BusType(storageBusType));

    [Fact]
    public void PciAddressFromSetupApi()
    {
        GuestPCIAddress a = WindowsMapping.PciAddress(busNumber: 0, address: 0x0005_0002, uiNumber: 5);
        Assert.Equal(new GuestPCIAddress(0, 0, 5, 2), a);
        Assert.Equal(new GuestPCIAddress(-1, -1, -1, -1), WindowsMapping.PciAddress(0, null, 5));
        Assert.Equal(new GuestPCIAddress(-1, -1, -1, -1), WindowsMapping.PciAddress(null, 1, 5));
        Assert.True(WindowsMapping.HasScsiAddress(GuestDiskBusType.Sas));
        Assert.False(WindowsMapping.HasScsiAddress(GuestDiskBusType.Sata));
        Assert.Equal("\\\\.\\PhysicalDrive3", WindowsMapping.PhysicalDrive(3));
    }

    [Fact]
    public void DescriptorSerialIsBoundedByTheBuffer()
    {
        byte[] descriptor = new byte[48];
        Encoding.ASCII.GetBytes("QM00001\0").CopyTo(descriptor, 40);
        Assert.Equal("QM00001", WindowsMapping.DescriptorSerial(descriptor, 40, out string? error));
        Assert.Null(error);
        Assert.Null(WindowsMapping.DescriptorSerial(descriptor, 0, out error));
        Assert.Null(error);
        Assert.Null(WindowsMapping.DescriptorSerial(descriptor, 48, out error));
        Assert.Equal("failed to get serial number: offset outside the buffer", error);
        Assert.Null(WindowsMapping.DescriptorSerial(descriptor, 30, out error)); // points at a NUL: no serial
    }

    [Fact]
    public void FilesystemMountPointsAndSizes()
    {
        Assert.Equal("C:", WindowsMapping.FsinfoMountPoint(new[] { "C:\\", "D:\\mnt\\" }));
        Assert.Equal("System Reserved", WindowsMapping.FsinfoMountPoint(Array.Empty<string>()));
        GuestFilesystemInfo fs = WindowsMapping.Filesystem("\\\\?\\Volume{x}\\", "C:", "NTFS", 1000, 400, Array.Empty<GuestDiskAddress>());
        Assert.Equal(1000UL, fs.TotalBytes);
        Assert.Equal(600UL, fs.UsedBytes);
        GuestFilesystemInfo reserved = WindowsMapping.Filesystem("\\\\?\\Volume{y}\\", "System Reserved", "NTFS", 1000, 400, Array.Empty<GuestDiskAddress>());
        Assert.Null(reserved.TotalBytes);
        Assert.Null(reserved.UsedBytes);
    }

    [Fact]
    public void PasswordDecoding()
    {
        Assert.Equal("pässword", WindowsMapping.DecodePassword(Convert.ToBase64String(Encoding.UTF8.GetBytes("pässword")), crypted: false));
        Assert.Equal("ab", WindowsMapping.DecodePassword(Convert.ToBase64String(new byte[] { (byte)'a', (byte)'b', 0, (byte)'c' }), crypted: false));
        var unsupported = Assert.Throws<AgentCommandException>(() => WindowsMapping.DecodePassword("YQ==", crypted: true));
        Assert.Equal("this feature or command is not currently supported", unsupported.Message);
        Assert.Throws<AgentCommandException>(() => WindowsMapping.DecodePassword("not base64!", crypted: false));
        Assert.Equal("failed to set password: The user name could not be found.", WindowsMapping.SetPasswordError("The user name could not be found.\r\n"));
    }

    [Fact]
    public void Win32ErrorAppendsTheSystemText()
    {
        Assert.Equal("failed to open volume: Access is denied.", WindowsMapping.Win32Error("failed to open volume", "Access is denied.\r\n"));
        Assert.Equal("failed to open volume", WindowsMapping.Win32Error("failed to open volume", string.Empty));
    }

    [Fact]
    public void HardwareAddressAndStatistics()
    {
        Assert.Equal("52:54:00:12:34:56", WindowsMapping.HardwareAddress(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }));
        Assert.Null(WindowsMapping.HardwareAddress(ReadOnlySpan<byte>.Empty));
        Assert.Equal("01:02:00:00:00:00", WindowsMapping.HardwareAddress(new byte[] { 1, 2 }));
        GuestNetworkInterfaceStat s = WindowsMapping.Statistics(new WindowsMapping.InterfaceCounters(1, 2, 3, 4, 5, 6, 7, 8));
        Assert.Equal(new GuestNetworkInterfaceStat(1, 2, 3, 4, 5, 6, 7, 8), s);
    }

    private static byte[] SockaddrIn(byte a, byte b, byte c, byte d)
    {
        byte[] s = new byte[28];
        s[0] = 2; // AF_INET, little-endian
        s[4] = a;
        s[5] = b;
        s[6] = c;
        s[7] = d;
        return s;
    }

    private static byte[] SockaddrIn6(string address, uint scope)
    {
        byte[] s = new byte[28];
        s[0] = 23; // AF_INET6 on Windows
        System.Net.IPAddress.Parse(address).GetAddressBytes().CopyTo(s, 8);
        BitConverter.GetBytes(scope).CopyTo(s, 24);
        return s;
    }

    [Fact]
    public void SockaddrsPrintLikeWsaAddressToString()
    {
        GuestIpAddress? v4 = WindowsMapping.IpAddress(SockaddrIn(192, 168, 122, 15), 24);
        Assert.Equal(new GuestIpAddress("192.168.122.15", GuestIpAddressType.Ipv4, 24), v4);
        GuestIpAddress? v6 = WindowsMapping.IpAddress(SockaddrIn6("fe80::1", 12), 64);
        Assert.Equal(new GuestIpAddress("fe80::1%12", GuestIpAddressType.Ipv6, 64), v6);
        byte[] other = new byte[16];
        other[0] = 17; // AF_NETBIOS
        Assert.Null(WindowsMapping.IpAddress(other, 0));
        Assert.Null(WindowsMapping.IpAddress(new byte[] { 2 }, 0));
    }

    [Fact]
    public void RoutesCarryEffectiveMetricAndPerVersionMembers()
    {
        WindowsMapping.RouteRow? v4 = WindowsMapping.RouteFromSockaddrs("Ethernet", SockaddrIn(0, 0, 0, 0), 0, SockaddrIn(192, 168, 122, 1), 0, 25);
        GuestNetworkRoute r4 = WindowsMapping.Route(v4!.Value);
        Assert.Equal("Ethernet", r4.Iface);
        Assert.Equal("0.0.0.0", r4.Destination);
        Assert.Equal("192.168.122.1", r4.Gateway);
        Assert.Equal("0.0.0.0", r4.Mask);
        Assert.Equal(25, r4.Metric);
        Assert.Equal(4, r4.Version);
        Assert.Null(r4.Nexthop);
        Assert.Null(r4.Flags);

        WindowsMapping.RouteRow? v6 = WindowsMapping.RouteFromSockaddrs("Ethernet", SockaddrIn6("fe80::", 5), 64, SockaddrIn6("::", 0), 256, 25);
        GuestNetworkRoute r6 = WindowsMapping.Route(v6!.Value);
        Assert.Equal("fe80::", r6.Destination);
        Assert.Equal("64", r6.Desprefixlen);
        Assert.Equal("::", r6.Nexthop);
        Assert.Equal(281, r6.Metric);
        Assert.Equal(6, r6.Version);
        Assert.Null(r6.Gateway);
        Assert.Null(r6.Mask);

        Assert.Null(WindowsMapping.RouteFromSockaddrs("x", SockaddrIn(10, 0, 0, 0), 33, SockaddrIn(0, 0, 0, 0), 0, 0));
    }

    [Theory]
    [InlineData(0, "0.0.0.0")]
    [InlineData(8, "255.0.0.0")]
    [InlineData(20, "255.255.240.0")]
    [InlineData(32, "255.255.255.255")]
    public void Ipv4Masks(int prefix, string mask) => Assert.Equal(mask, WindowsMapping.Ipv4Mask(prefix));

    [Fact]
    public void Ipv4MaskRejectsImpossiblePrefixes()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => WindowsMapping.Ipv4Mask(33));
        Assert.Equal(33, ex.ActualValue);
    }

    [Fact]
    public void LoadAverageIsQemuGasExponentialAverage()
    {
        var load = new LoadAverage();
        Assert.Equal(new GuestLoadAverage(0, 0, 0), load.Current);
        load.Sample(2);
        GuestLoadAverage one = load.Current;
        Assert.Equal(2 * (1 - LoadAverage.Factor1m), one.Load1m, 12);
        Assert.Equal(2 * (1 - LoadAverage.Factor5m), one.Load5m, 12);
        Assert.Equal(2 * (1 - LoadAverage.Factor15m), one.Load15m, 12);

        // A steady queue of 2 for 15 minutes (180 samples): the 1-minute average has converged,
        // the 15-minute one is at 1 - 1/e of the way, as on Linux.
        for (int i = 1; i < 180; i++)
        {
            load.Sample(2);
        }

        GuestLoadAverage steady = load.Current;
        Assert.InRange(steady.Load1m, 1.999, 2.0);
        Assert.InRange(steady.Load15m, 2 * (1 - Math.Exp(-1)) - 0.01, 2 * (1 - Math.Exp(-1)) + 0.01);
        Assert.True(steady.Load1m > steady.Load5m && steady.Load5m > steady.Load15m);
    }
}
