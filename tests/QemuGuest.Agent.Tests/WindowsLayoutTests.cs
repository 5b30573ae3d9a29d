using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QemuGuest.Agent.Platform.Windows;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The Win32 structures' sizes and field offsets against the Windows SDK's (x64), the only check
/// they get before running on Windows. Sequential layout follows the same rules on Linux x64.
/// </summary>
public sealed class WindowsLayoutTests
{
    private static int Offset<T>(string field) => Marshal.OffsetOf<T>(field).ToInt32();

    [Fact]
    public void IpHelperStructures()
    {
        Assert.Equal(1352, Unsafe.SizeOf<MibIfRow2>());
        Assert.Equal(1208, Offset<MibIfRow2>(nameof(MibIfRow2.InOctets)));
        Assert.Equal(1280, Offset<MibIfRow2>(nameof(MibIfRow2.OutOctets)));
        Assert.Equal(1312, Offset<MibIfRow2>(nameof(MibIfRow2.OutErrors)));

        Assert.Equal(28, Unsafe.SizeOf<SockaddrInet>());
        Assert.Equal(32, Unsafe.SizeOf<IpAddressPrefix>());
        Assert.Equal(104, Unsafe.SizeOf<MibIpForwardRow2>());
        Assert.Equal(8, Offset<MibIpForwardRow2>(nameof(MibIpForwardRow2.InterfaceIndex)));
        Assert.Equal(12, Offset<MibIpForwardRow2>(nameof(MibIpForwardRow2.DestinationPrefix)));
        Assert.Equal(44, Offset<MibIpForwardRow2>(nameof(MibIpForwardRow2.NextHop)));
        Assert.Equal(84, Offset<MibIpForwardRow2>(nameof(MibIpForwardRow2.Metric)));
        Assert.Equal(92, Offset<MibIpForwardRow2>(nameof(MibIpForwardRow2.Loopback)));

        Assert.Equal(8, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.Next)));
        Assert.Equal(72, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.FriendlyName)));
        Assert.Equal(80, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.PhysicalAddress)));
        Assert.Equal(88, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.PhysicalAddressLength)));
        Assert.Equal(216, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.Ipv4Metric)));
        Assert.Equal(224, Offset<IpAdapterAddresses>(nameof(IpAdapterAddresses.Luid)));

        Assert.Equal(16, Offset<IpAdapterUnicastAddress>(nameof(IpAdapterUnicastAddress.Address)));
        Assert.Equal(32, Offset<IpAdapterUnicastAddress>(nameof(IpAdapterUnicastAddress.PrefixOrigin)));
        Assert.Equal(56, Offset<IpAdapterUnicastAddress>(nameof(IpAdapterUnicastAddress.OnLinkPrefixLength)));
    }

    [Fact]
    public void SystemStructures()
    {
        Assert.Equal(284, Unsafe.SizeOf<OsVersionInfoEx>());
        Assert.Equal(282, Offset<OsVersionInfoEx>(nameof(OsVersionInfoEx.ProductType)));
        Assert.Equal(48, Unsafe.SizeOf<SystemInfo>());
        Assert.Equal(200, Offset<WtsInfo>(nameof(WtsInfo.LogonTime)));
        Assert.Equal(96, Offset<WtsInfo>(nameof(WtsInfo.Domain)));
        Assert.Equal(130, Offset<WtsInfo>(nameof(WtsInfo.UserName)));
        Assert.Equal(24, Unsafe.SizeOf<WtsSessionInfo>()); // DWORD, pad, LPWSTR, enum, pad
        Assert.Equal(16, Unsafe.SizeOf<PdhFmtCounterValue>());
    }

    [Fact]
    public void SetupApiAndStorageStructures()
    {
        Assert.Equal(32, Unsafe.SizeOf<SpDevInfoData>());
        Assert.Equal(20, Offset<SpDevInfoData>(nameof(SpDevInfoData.DevInst)));
        Assert.Equal(32, Unsafe.SizeOf<SpDeviceInterfaceData>());
        Assert.Equal(20, Unsafe.SizeOf<DevPropKey>());
        Assert.Equal(12, Unsafe.SizeOf<StoragePropertyQuery>());
        Assert.Equal(40, Unsafe.SizeOf<StorageDeviceDescriptor>());
        Assert.Equal(24, Offset<StorageDeviceDescriptor>(nameof(StorageDeviceDescriptor.SerialNumberOffset)));
        Assert.Equal(28, Offset<StorageDeviceDescriptor>(nameof(StorageDeviceDescriptor.BusType)));
        Assert.Equal(24, Unsafe.SizeOf<DiskExtent>());
        Assert.Equal(8, Unsafe.SizeOf<ScsiAddress>());
        Assert.Equal(46, Offset<VssComponentInfo>(nameof(VssComponentInfo.Selectable)));
    }
}
