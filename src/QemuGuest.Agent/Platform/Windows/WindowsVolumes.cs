using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// guest-get-fsinfo, guest-get-disks and guest-fstrim's volume walk, after qemu-ga's
/// build_guest_fsinfo / build_guest_disk_info / get_single_disk_info / get_pci_info /
/// qmp_guest_get_disks: volume APIs, IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS,
/// IOCTL_STORAGE_QUERY_PROPERTY, IOCTL_SCSI_GET_ADDRESS and SetupAPI for the controller's PCI
/// address. Every buffer has a fixed upper bound.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class WindowsVolumes
{
    private const int MaxExtents = 64;
    private const int MaxDescriptorBytes = 64 * 1024;
    private const uint MaxPathChars = 32 * 1024;

    /// <summary>Every volume's \\?\Volume{GUID}\ name (FindFirstVolumeW / FindNextVolumeW).</summary>
    public static List<string> Volumes()
    {
        var list = new List<string>();
        char* name = stackalloc char[260];
        nint find = Win32Native.FindFirstVolume(name, 260);
        if (find == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to find any volume", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        try
        {
            do
            {
                list.Add(new string(name));
            }
            while (Win32Native.FindNextVolume(find, name, 260));

            int err = Marshal.GetLastPInvokeError();
            if (err != Win32Native.ERROR_NO_MORE_FILES)
            {
                throw new AgentCommandException(WindowsMapping.Win32Error("failed to find next volume", Win32Native.ErrorText(err)));
            }
        }
        finally
        {
            Win32Native.FindVolumeClose(find);
        }

        return list;
    }

    /// <summary>GetVolumePathNamesForVolumeNameW as a list (empty when the volume has no mount point).</summary>
    public static IReadOnlyList<string> PathNames(string volume)
    {
        Win32Native.GetVolumePathNamesForVolumeName(volume, null, 0, out uint needed);
        if (Marshal.GetLastPInvokeError() != Win32Native.ERROR_MORE_DATA || needed == 0 || needed > MaxPathChars)
        {
            return Array.Empty<string>();
        }

        char[] buffer = new char[needed];
        fixed (char* p = buffer)
        {
            if (!Win32Native.GetVolumePathNamesForVolumeName(volume, p, needed, out _))
            {
                return Array.Empty<string>();
            }
        }

        return WindowsMapping.MultiString(buffer);
    }

    /// <summary>build_guest_fsinfo for one volume, or null when qemu-ga skips it (not ready).</summary>
    public static GuestFilesystemInfo? Filesystem(string volume)
    {
        IReadOnlyList<string> paths = PathNames(volume);
        nint handle = Win32Native.CreateFile(volume, 0, 0, 0, Win32Native.OPEN_EXISTING, Win32Native.FILE_ATTRIBUTE_NORMAL | Win32Native.FILE_FLAG_BACKUP_SEMANTICS, 0);
        if (handle == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get handle for volume", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        string fsType;
        try
        {
            char* fsName = stackalloc char[32];
            char* label = stackalloc char[261];
            if (!Win32Native.GetVolumeInformationByHandle(handle, label, 261, 0, 0, 0, fsName, 32))
            {
                int err = Marshal.GetLastPInvokeError();
                if (err == Win32Native.ERROR_NOT_READY)
                {
                    return null;
                }

                throw new AgentCommandException(WindowsMapping.Win32Error("failed to get volume info", Win32Native.ErrorText(err)));
            }

            fsType = new string(fsName);
        }
        finally
        {
            Win32Native.CloseHandle(handle);
        }

        string mountPoint = WindowsMapping.FsinfoMountPoint(paths);
        ulong? total = null;
        ulong? free = null;
        if (mountPoint != "System Reserved" && Win32Native.GetDiskFreeSpaceEx(mountPoint + "\\", out _, out ulong t, out ulong f))
        {
            total = t;
            free = f;
        }

        return WindowsMapping.Filesystem(volume, mountPoint, fsType, total, free, DiskAddresses(volume));
    }

    /// <summary>build_guest_disk_info: the disks under a volume's extents (last extent first, like qemu-ga's list).</summary>
    public static List<GuestDiskAddress> DiskAddresses(string volume)
    {
        var list = new List<GuestDiskAddress>();
        string name = volume.EndsWith('\\') ? volume[..^1] : volume;
        nint handle = Win32Native.CreateFile(name, 0, Win32Native.FILE_SHARE_READ, 0, Win32Native.OPEN_EXISTING, 0, 0);
        if (handle == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to open volume", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        try
        {
            int size = 8 + (MaxExtents * sizeof(DiskExtent));
            byte* extents = stackalloc byte[size];
            if (!Win32Native.DeviceIoControl(handle, Win32Native.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, null, 0, extents, (uint)size, out _, 0))
            {
                int err = Marshal.GetLastPInvokeError();
                if (err == Win32Native.ERROR_INVALID_FUNCTION)
                {
                    // A CD-ROM or a share: qemu-ga asks the volume itself and ignores a failure.
                    try
                    {
                        list.Add(SingleDisk(name, uint.MaxValue));
                    }
                    catch (AgentCommandException)
                    {
                    }

                    return list;
                }

                throw new AgentCommandException(WindowsMapping.Win32Error("failed to get disk extents", Win32Native.ErrorText(err)));
            }

            uint count = *(uint*)extents;
            DiskExtent* e = (DiskExtent*)(extents + 8);
            for (int i = 0; i < count && i < MaxExtents; i++)
            {
                list.Insert(0, SingleDisk(WindowsMapping.PhysicalDrive(e[i].DiskNumber), e[i].DiskNumber));
            }
        }
        finally
        {
            Win32Native.CloseHandle(handle);
        }

        return list;
    }

    /// <summary>get_single_disk_info: bus type, serial, PCI controller and SCSI address of one disk.</summary>
    public static GuestDiskAddress SingleDisk(string device, uint diskNumber)
    {
        nint handle = Win32Native.CreateFile(device, 0, Win32Native.FILE_SHARE_READ, 0, Win32Native.OPEN_EXISTING, 0, 0);
        if (handle == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to open disk", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        try
        {
            (GuestDiskBusType bus, string? serial) = DiskProperties(handle);
            GuestPCIAddress pci = PciController(diskNumber);
            long scsiBus = 0, target = 0, unit = 0;
            if (WindowsMapping.HasScsiAddress(bus))
            {
                ScsiAddress addr;
                if (Win32Native.DeviceIoControl(handle, Win32Native.IOCTL_SCSI_GET_ADDRESS, null, 0, &addr, (uint)sizeof(ScsiAddress), out _, 0))
                {
                    unit = addr.Lun;
                    target = addr.TargetId;
                    scsiBus = addr.PathId;
                }
            }

            return new GuestDiskAddress(pci, bus, scsiBus, target, unit) { Serial = serial, Dev = device };
        }
        finally
        {
            Win32Native.CloseHandle(handle);
        }
    }

    private static (GuestDiskBusType Bus, string? Serial) DiskProperties(nint handle)
    {
        var query = new StoragePropertyQuery();
        StorageDeviceDescriptor head;
        if (!Win32Native.DeviceIoControl(handle, Win32Native.IOCTL_STORAGE_QUERY_PROPERTY, &query, (uint)sizeof(StoragePropertyQuery), &head, (uint)sizeof(StorageDeviceDescriptor), out _, 0))
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get bus type", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        GuestDiskBusType bus = WindowsMapping.BusType(head.BusType);
        int size = (int)Math.Min(Math.Max(head.Size, (uint)sizeof(StorageDeviceDescriptor)), MaxDescriptorBytes);
        byte[] full = new byte[size];
        uint received;
        fixed (byte* p = full)
        {
            if (!Win32Native.DeviceIoControl(handle, Win32Native.IOCTL_STORAGE_QUERY_PROPERTY, &query, (uint)sizeof(StoragePropertyQuery), p, (uint)size, out received, 0))
            {
                throw new AgentCommandException(WindowsMapping.Win32Error("failed to get serial number", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
            }
        }

        uint serialOffset = BitConverter.ToUInt32(full, 24);
        string? serial = WindowsMapping.DescriptorSerial(full.AsSpan(0, (int)Math.Min(received, (uint)size)), serialOffset, out string? error);
        if (error is not null)
        {
            throw new AgentCommandException(error);
        }

        return (bus, serial);
    }

    /// <summary>get_pci_info: the PCI address of the storage controller above disk number N.</summary>
    public static GuestPCIAddress PciController(uint diskNumber)
    {
        Guid disk = Win32Native.GUID_DEVINTERFACE_DISK;
        nint set = Win32Native.SetupDiGetClassDevs(&disk, null, 0, Win32Native.DIGCF_PRESENT | Win32Native.DIGCF_DEVICEINTERFACE);
        if (set == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get devices tree", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        try
        {
            var info = new SpDevInfoData { Size = (uint)sizeof(SpDevInfoData) };
            for (uint i = 0; Win32Native.SetupDiEnumDeviceInfo(set, i, ref info); i++)
            {
                string? path = InterfacePath(set, &info, disk);
                if (path is null || DeviceNumber(path) != diskNumber)
                {
                    continue;
                }

                string? parent = ParentInstanceId(set, ref info);
                return parent is null ? WindowsMapping.UnknownPciAddress : ControllerAddress(parent);
            }
        }
        finally
        {
            Win32Native.SetupDiDestroyDeviceInfoList(set);
        }

        return WindowsMapping.UnknownPciAddress;
    }

    /// <summary>The device path of a disk interface (SetupDiGetDeviceInterfaceDetailW).</summary>
    public static string? InterfacePath(nint set, SpDevInfoData* devInfo, Guid interfaceGuid)
    {
        var iface = new SpDeviceInterfaceData { Size = (uint)sizeof(SpDeviceInterfaceData) };
        if (!Win32Native.SetupDiEnumDeviceInterfaces(set, devInfo, &interfaceGuid, 0, ref iface))
        {
            return null;
        }

        return InterfaceDetail(set, ref iface);
    }

    public static string? InterfaceDetail(nint set, ref SpDeviceInterfaceData iface)
    {
        Win32Native.SetupDiGetDeviceInterfaceDetail(set, ref iface, null, 0, out uint required, null);
        if (required == 0 || required > MaxPathChars * 2)
        {
            return null;
        }

        byte[] buffer = new byte[required];
        fixed (byte* p = buffer)
        {
            // SP_DEVICE_INTERFACE_DETAIL_DATA_W.cbSize: 8 on 64-bit (DWORD + WCHAR[1], padded).
            *(uint*)p = IntPtr.Size == 8 ? 8u : 6u;
            if (!Win32Native.SetupDiGetDeviceInterfaceDetail(set, ref iface, p, required, out _, null))
            {
                return null;
            }

            return new string((char*)(p + 4));
        }
    }

    /// <summary>IOCTL_STORAGE_GET_DEVICE_NUMBER of a device path, or null.</summary>
    public static uint? DeviceNumber(string path)
    {
        nint file = Win32Native.CreateFile(path, 0, Win32Native.FILE_SHARE_READ, 0, Win32Native.OPEN_EXISTING, 0, 0);
        if (file == Win32Native.INVALID_HANDLE_VALUE)
        {
            return null;
        }

        try
        {
            StorageDeviceNumber sdn;
            return Win32Native.DeviceIoControl(file, Win32Native.IOCTL_STORAGE_GET_DEVICE_NUMBER, null, 0, &sdn, (uint)sizeof(StorageDeviceNumber), out _, 0) ? sdn.DeviceNumber : null;
        }
        finally
        {
            Win32Native.CloseHandle(file);
        }
    }

    private static string? ParentInstanceId(nint set, ref SpDevInfoData info)
    {
        char* id = stackalloc char[512];
        if (!Win32Native.SetupDiGetDeviceInstanceId(set, ref info, id, 512, out _))
        {
            return null;
        }

        if (Win32Native.CM_Locate_DevNode(out uint inst, new string(id), 0) != Win32Native.CR_SUCCESS
            || Win32Native.CM_Get_Parent(out uint parent, inst, 0) != Win32Native.CR_SUCCESS
            || Win32Native.CM_Get_Device_ID_Size(out uint length, parent, 0) != Win32Native.CR_SUCCESS
            || length >= 512
            || Win32Native.CM_Get_Device_ID(parent, id, 512, 0) != Win32Native.CR_SUCCESS)
        {
            return null;
        }

        return new string(id);
    }

    private static GuestPCIAddress ControllerAddress(string parentId)
    {
        Guid port = Win32Native.GUID_DEVINTERFACE_STORAGEPORT;
        nint set = Win32Native.SetupDiGetClassDevs(&port, parentId, 0, Win32Native.DIGCF_PRESENT | Win32Native.DIGCF_DEVICEINTERFACE);
        if (set == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get parent device", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        try
        {
            var info = new SpDevInfoData { Size = (uint)sizeof(SpDevInfoData) };
            GuestPCIAddress result = WindowsMapping.UnknownPciAddress;
            for (uint j = 0; Win32Native.SetupDiEnumDeviceInfo(set, j, ref info); j++)
            {
                result = WindowsMapping.PciAddress(
                    RegistryDword(set, ref info, Win32Native.SPDRP_BUSNUMBER),
                    RegistryDword(set, ref info, Win32Native.SPDRP_ADDRESS),
                    RegistryDword(set, ref info, Win32Native.SPDRP_UI_NUMBER));
                if (result.Domain == 0)
                {
                    break;
                }
            }

            return result;
        }
        finally
        {
            Win32Native.SetupDiDestroyDeviceInfoList(set);
        }
    }

    private static uint? RegistryDword(nint set, ref SpDevInfoData info, uint property)
    {
        uint value;
        return Win32Native.SetupDiGetDeviceRegistryProperty(set, ref info, property, out _, (byte*)&value, sizeof(uint), out _) ? value : null;
    }

    /// <summary>qmp_guest_get_disks: every physical disk (GUID_DEVINTERFACE_DISK), no partitions.</summary>
    public static List<GuestDiskInfo> Disks()
    {
        Guid disk = Win32Native.GUID_DEVINTERFACE_DISK;
        nint set = Win32Native.SetupDiGetClassDevs(&disk, null, 0, Win32Native.DIGCF_PRESENT | Win32Native.DIGCF_DEVICEINTERFACE);
        if (set == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get device tree", Win32Native.ErrorText(Marshal.GetLastPInvokeError())));
        }

        var list = new List<GuestDiskInfo>();
        try
        {
            var iface = new SpDeviceInterfaceData { Size = (uint)sizeof(SpDeviceInterfaceData) };
            for (uint i = 0; Win32Native.SetupDiEnumDeviceInterfaces(set, null, &disk, i, ref iface); i++)
            {
                string? path = InterfaceDetail(set, ref iface);
                if (path is null || DeviceNumber(path) is not uint number)
                {
                    continue;
                }

                string name = WindowsMapping.PhysicalDrive(number);
                GuestDiskAddress? address = null;
                try
                {
                    address = SingleDisk(name, number);
                }
                catch (AgentCommandException)
                {
                    // qemu-ga lists the disk without an address when its details cannot be read.
                }

                list.Add(new GuestDiskInfo(name, false) { Address = address, Dependencies = Array.Empty<string>() });
            }
        }
        finally
        {
            Win32Native.SetupDiDestroyDeviceInfoList(set);
        }

        return list;
    }
}
