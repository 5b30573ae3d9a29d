using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// Win32 entry points and structures the Windows handlers use, all through [LibraryImport]
/// (source-generated marshalling, NativeAOT-safe). Structures are blittable and laid out for
/// x64/arm64; tests/QemuGuest.Agent.Tests/WindowsLayoutTests.cs pins their sizes and offsets
/// against the documented ones, which is the only check they get off Windows.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class Win32Native
{
    public const int ERROR_SUCCESS = 0;
    public const int ERROR_INVALID_FUNCTION = 1;
    public const int ERROR_NOT_READY = 21;
    public const int ERROR_INSUFFICIENT_BUFFER = 122;
    public const int ERROR_MORE_DATA = 234;
    public const int ERROR_NO_MORE_FILES = 18;
    public const int ERROR_BUFFER_OVERFLOW = 111;
    public static readonly nint INVALID_HANDLE_VALUE = -1;

    // ---- kernel32 ----
    [LibraryImport("kernel32.dll", EntryPoint = "CloseHandle", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool CloseHandle(nint handle);

    [LibraryImport("kernel32.dll", EntryPoint = "GetNativeSystemInfo")]
    public static partial void GetNativeSystemInfo(out SystemInfo info);

    [LibraryImport("kernel32.dll", EntryPoint = "FindFirstVolumeW", SetLastError = true)]
    public static partial nint FindFirstVolume(char* volumeName, uint length);

    [LibraryImport("kernel32.dll", EntryPoint = "FindNextVolumeW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool FindNextVolume(nint find, char* volumeName, uint length);

    [LibraryImport("kernel32.dll", EntryPoint = "FindVolumeClose", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool FindVolumeClose(nint find);

    [LibraryImport("kernel32.dll", EntryPoint = "GetVolumePathNamesForVolumeNameW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool GetVolumePathNamesForVolumeName(string volumeName, char* buffer, uint length, out uint needed);

    [LibraryImport("kernel32.dll", EntryPoint = "GetVolumeNameForVolumeMountPointW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool GetVolumeNameForVolumeMountPoint(string mountPoint, char* volumeName, uint length);

    [LibraryImport("kernel32.dll", EntryPoint = "GetDriveTypeW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial uint GetDriveType(string rootPath);

    public const uint DRIVE_FIXED = 3;

    [LibraryImport("kernel32.dll", EntryPoint = "CreateFileW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    public static partial nint CreateFile(string name, uint access, uint share, nint security, uint disposition, uint flags, nint template);

    public const uint FILE_SHARE_READ = 1;
    public const uint FILE_SHARE_WRITE = 2;
    public const uint OPEN_EXISTING = 3;
    public const uint FILE_ATTRIBUTE_NORMAL = 0x80;
    public const uint FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;

    [LibraryImport("kernel32.dll", EntryPoint = "GetVolumeInformationByHandleW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool GetVolumeInformationByHandle(nint file, char* volumeName, uint volumeNameLength, nint serial, nint maxComponent, nint flags, char* fsName, uint fsNameLength);

    [LibraryImport("kernel32.dll", EntryPoint = "GetDiskFreeSpaceExW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool GetDiskFreeSpaceEx(string directory, out ulong freeToCaller, out ulong total, out ulong free);

    [LibraryImport("kernel32.dll", EntryPoint = "DeviceIoControl", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool DeviceIoControl(nint device, uint code, void* input, uint inputSize, void* output, uint outputSize, out uint returned, nint overlapped);

    public const uint IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS = 0x00560000;
    public const uint IOCTL_STORAGE_QUERY_PROPERTY = 0x002D1400;
    public const uint IOCTL_STORAGE_GET_DEVICE_NUMBER = 0x002D1080;
    public const uint IOCTL_SCSI_GET_ADDRESS = 0x00041018;

    [LibraryImport("kernel32.dll", EntryPoint = "CreateEventW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    public static partial nint CreateEvent(SecurityAttributes* security, [MarshalAs(UnmanagedType.Bool)] bool manualReset, [MarshalAs(UnmanagedType.Bool)] bool initialState, string? name);

    [LibraryImport("kernel32.dll", EntryPoint = "SetEvent", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetEvent(nint handle);

    [LibraryImport("kernel32.dll", EntryPoint = "WaitForSingleObject")]
    public static partial uint WaitForSingleObject(nint handle, uint milliseconds);

    public const uint WAIT_OBJECT_0 = 0;

    [LibraryImport("kernel32.dll", EntryPoint = "LoadLibraryExW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    public static partial nint LoadLibraryEx(string name, nint reserved, uint flags);

    public const uint LOAD_LIBRARY_AS_DATAFILE = 0x2;

    [LibraryImport("kernel32.dll", EntryPoint = "FreeLibrary")]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool FreeLibrary(nint module);

    [LibraryImport("kernel32.dll", EntryPoint = "FormatMessageW", SetLastError = true)]
    public static partial uint FormatMessage(uint flags, nint source, uint messageId, uint languageId, char* buffer, uint size, nint arguments);

    public const uint FORMAT_MESSAGE_IGNORE_INSERTS = 0x200;
    public const uint FORMAT_MESSAGE_FROM_HMODULE = 0x800;
    public const uint FORMAT_MESSAGE_FROM_SYSTEM = 0x1000;

    // ---- advapi32 ----
    [LibraryImport("advapi32.dll", EntryPoint = "RegOpenKeyExW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial int RegOpenKeyEx(nint key, string subKey, uint options, uint access, out nint result);

    [LibraryImport("advapi32.dll", EntryPoint = "RegQueryValueExW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial int RegQueryValueEx(nint key, string name, nint reserved, out uint type, byte* data, ref uint size);

    [LibraryImport("advapi32.dll", EntryPoint = "RegCloseKey")]
    public static partial int RegCloseKey(nint key);

    public static readonly nint HKEY_LOCAL_MACHINE = unchecked((nint)(int)0x80000002);
    public const uint KEY_READ = 0x20019;

    [LibraryImport("advapi32.dll", EntryPoint = "InitializeSecurityDescriptor", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool InitializeSecurityDescriptor(void* descriptor, uint revision);

    [LibraryImport("advapi32.dll", EntryPoint = "SetSecurityDescriptorDacl", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetSecurityDescriptorDacl(void* descriptor, [MarshalAs(UnmanagedType.Bool)] bool present, nint dacl, [MarshalAs(UnmanagedType.Bool)] bool defaulted);

    // ---- ntdll ----
    [LibraryImport("ntdll.dll", EntryPoint = "RtlGetVersion")]
    public static partial int RtlGetVersion(ref OsVersionInfoEx info);

    // ---- wtsapi32 ----
    [LibraryImport("wtsapi32.dll", EntryPoint = "WTSEnumerateSessionsW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool WTSEnumerateSessions(nint server, uint reserved, uint version, out nint sessions, out uint count);

    [LibraryImport("wtsapi32.dll", EntryPoint = "WTSQuerySessionInformationW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool WTSQuerySessionInformation(nint server, uint sessionId, int infoClass, out nint buffer, out uint bytes);

    public const int WTSSessionInfo = 24;

    [LibraryImport("wtsapi32.dll", EntryPoint = "WTSFreeMemory")]
    public static partial void WTSFreeMemory(nint memory);

    // ---- netapi32 ----
    [LibraryImport("netapi32.dll", EntryPoint = "NetUserSetInfo", StringMarshalling = StringMarshalling.Utf16)]
    public static partial uint NetUserSetInfo(string? server, string user, uint level, void* info, out uint parameterError);

    public const uint NERR_BASE = 2100;
    public const uint MAX_NERR = NERR_BASE + 899;

    // ---- iphlpapi ----
    [LibraryImport("iphlpapi.dll", EntryPoint = "GetAdaptersAddresses")]
    public static partial uint GetAdaptersAddresses(uint family, uint flags, nint reserved, byte* addresses, ref uint size);

    public const uint GAA_FLAG_INCLUDE_PREFIX = 0x10;

    [LibraryImport("iphlpapi.dll", EntryPoint = "GetIfEntry2")]
    public static partial uint GetIfEntry2(MibIfRow2* row);

    [LibraryImport("iphlpapi.dll", EntryPoint = "GetIpForwardTable2")]
    public static partial uint GetIpForwardTable2(ushort family, out nint table);

    [LibraryImport("iphlpapi.dll", EntryPoint = "FreeMibTable")]
    public static partial void FreeMibTable(nint table);

    // ---- setupapi / cfgmgr32 ----
    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiGetClassDevsW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    public static partial nint SetupDiGetClassDevs(Guid* classGuid, string? enumerator, nint parent, uint flags);

    public const uint DIGCF_PRESENT = 0x2;
    public const uint DIGCF_ALLCLASSES = 0x4;
    public const uint DIGCF_DEVICEINTERFACE = 0x10;

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiEnumDeviceInfo", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiEnumDeviceInfo(nint set, uint index, ref SpDevInfoData data);

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiEnumDeviceInterfaces", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiEnumDeviceInterfaces(nint set, SpDevInfoData* devInfo, Guid* interfaceGuid, uint index, ref SpDeviceInterfaceData data);

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiGetDeviceInterfaceDetailW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiGetDeviceInterfaceDetail(nint set, ref SpDeviceInterfaceData data, byte* detail, uint size, out uint required, SpDevInfoData* devInfo);

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiGetDeviceInstanceIdW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiGetDeviceInstanceId(nint set, ref SpDevInfoData data, char* id, uint size, out uint required);

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiGetDeviceRegistryPropertyW", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiGetDeviceRegistryProperty(nint set, ref SpDevInfoData data, uint property, out uint type, byte* buffer, uint size, out uint required);

    public const uint SPDRP_UI_NUMBER = 0x10;
    public const uint SPDRP_BUSNUMBER = 0x15;
    public const uint SPDRP_ADDRESS = 0x1C;

    [LibraryImport("setupapi.dll", EntryPoint = "SetupDiDestroyDeviceInfoList")]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetupDiDestroyDeviceInfoList(nint set);

    [LibraryImport("cfgmgr32.dll", EntryPoint = "CM_Locate_DevNodeW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial uint CM_Locate_DevNode(out uint devInst, string deviceId, uint flags);

    [LibraryImport("cfgmgr32.dll", EntryPoint = "CM_Get_Parent")]
    public static partial uint CM_Get_Parent(out uint parent, uint devInst, uint flags);

    [LibraryImport("cfgmgr32.dll", EntryPoint = "CM_Get_Device_ID_Size")]
    public static partial uint CM_Get_Device_ID_Size(out uint length, uint devInst, uint flags);

    [LibraryImport("cfgmgr32.dll", EntryPoint = "CM_Get_Device_IDW")]
    public static partial uint CM_Get_Device_ID(uint devInst, char* buffer, uint length, uint flags);

    [LibraryImport("cfgmgr32.dll", EntryPoint = "CM_Get_DevNode_PropertyW")]
    public static partial uint CM_Get_DevNode_Property(uint devInst, in DevPropKey key, out uint type, byte* buffer, ref uint size, uint flags);

    public const uint CR_SUCCESS = 0;
    public const uint CR_BUFFER_SMALL = 0x1A;

    public static readonly Guid GUID_DEVINTERFACE_DISK = new("53f56307-b6bf-11d0-94f2-00a0c91efb8b");
    public static readonly Guid GUID_DEVINTERFACE_STORAGEPORT = new("2accfe60-c130-11d2-b082-00a0c91efb8b");

    public static readonly DevPropKey DEVPKEY_NAME = new(new Guid("b725f130-47ef-101a-a5f1-02608c9eebac"), 10);
    public static readonly DevPropKey DEVPKEY_Device_HardwareIds = new(new Guid("a45c254e-df1c-4efd-8020-67d146a850e0"), 3);
    public static readonly DevPropKey DEVPKEY_Device_DriverDate = new(new Guid("a8b865dd-2e3d-4094-ad97-e593a70c75d6"), 2);
    public static readonly DevPropKey DEVPKEY_Device_DriverVersion = new(new Guid("a8b865dd-2e3d-4094-ad97-e593a70c75d6"), 3);

    // ---- pdh ----
    [LibraryImport("pdh.dll", EntryPoint = "PdhOpenQueryW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial uint PdhOpenQuery(string? dataSource, nuint userData, out nint query);

    [LibraryImport("pdh.dll", EntryPoint = "PdhAddEnglishCounterW", StringMarshalling = StringMarshalling.Utf16)]
    public static partial uint PdhAddEnglishCounter(nint query, string path, nuint userData, out nint counter);

    [LibraryImport("pdh.dll", EntryPoint = "PdhCollectQueryDataEx")]
    public static partial uint PdhCollectQueryDataEx(nint query, uint intervalSeconds, nint newDataEvent);

    [LibraryImport("pdh.dll", EntryPoint = "PdhGetFormattedCounterValue")]
    public static partial uint PdhGetFormattedCounterValue(nint counter, uint format, nint type, out PdhFmtCounterValue value);

    [LibraryImport("pdh.dll", EntryPoint = "PdhCloseQuery")]
    public static partial uint PdhCloseQuery(nint query);

    public const uint PDH_FMT_DOUBLE = 0x200;

    // ---- kernel32: the device channel ----
    public const uint GENERIC_READ = 0x80000000;
    public const uint GENERIC_WRITE = 0x40000000;
    public const uint FILE_FLAG_OVERLAPPED = 0x40000000;

    [LibraryImport("kernel32.dll", EntryPoint = "GetCommState", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool GetCommState(SafeHandle file, ref Dcb dcb);

    [LibraryImport("kernel32.dll", EntryPoint = "SetCommState", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetCommState(SafeHandle file, ref Dcb dcb);

    [LibraryImport("kernel32.dll", EntryPoint = "SetCommTimeouts", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool SetCommTimeouts(SafeHandle file, ref CommTimeouts timeouts);

    // ---- ole32 ----
    [LibraryImport("ole32.dll", EntryPoint = "CoInitializeSecurity")]
    public static partial int CoInitializeSecurity(nint descriptor, int authServices, nint authService, nint reserved1, uint authnLevel, uint impLevel, nint authList, uint capabilities, nint reserved3);

    public const uint RPC_C_AUTHN_LEVEL_PKT_PRIVACY = 6;
    public const uint RPC_C_IMP_LEVEL_IDENTIFY = 2;
    public const int RPC_E_TOO_LATE = unchecked((int)0x80010119);

    // ---- vssapi ----
    [LibraryImport("vssapi.dll", EntryPoint = "CreateVssBackupComponentsInternal")]
    public static partial int CreateVssBackupComponentsInternal(out nint components);

    /// <summary>
    /// True under Wine (its ntdll exports wine_get_version). Wine leaves some entry points as
    /// stubs that end the calling process (NetUserSetInfo in Wine 8: "Call to unimplemented
    /// function"), which no error handling can catch: their callers ask this first.
    /// </summary>
    public static bool IsWine { get; } =
        NativeLibrary.TryLoad("ntdll.dll", out nint ntdll) && NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);

    /// <summary>The system's message for a Win32 error or HRESULT, as g_win32_error_message shows it.</summary>
    public static string ErrorText(int code) => new System.ComponentModel.Win32Exception(code).Message;

    /// <summary>
    /// For a .NET I/O exception that carries a Win32 error (HResult 0x8007xxxx), the system's
    /// message for it, which is what qemu-ga's error_setg_win32 appends and what hosts read
    /// ("The system cannot find the path specified."); the exception's text otherwise. .NET's
    /// own wording ("Could not find a part of the path 'X'.") matched none of the texts the
    /// module looks for: a missing folder was not created with -Force, and a missing
    /// destination was an error instead of "not there yet" (found under Wine).
    /// </summary>
    public static string IoErrorText(Exception ex) =>
        (ex.HResult & unchecked((int)0xFFFF0000)) == unchecked((int)0x80070000) ? ErrorText(ex.HResult & 0xFFFF) : ex.Message;

    /// <summary>A NUL-terminated UTF-16 string at <paramref name="p"/>, or null for a null pointer.</summary>
    public static string? PtrToString(nint p) => p == 0 ? null : Marshal.PtrToStringUni(p);
}

[StructLayout(LayoutKind.Sequential)]
internal struct SystemInfo
{
    public ushort ProcessorArchitecture;
    public ushort Reserved;
    public uint PageSize;
    public nint MinimumApplicationAddress;
    public nint MaximumApplicationAddress;
    public nuint ActiveProcessorMask;
    public uint NumberOfProcessors;
    public uint ProcessorType;
    public uint AllocationGranularity;
    public ushort ProcessorLevel;
    public ushort ProcessorRevision;
}

[StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
internal unsafe struct OsVersionInfoEx
{
    public uint OSVersionInfoSize;
    public uint MajorVersion;
    public uint MinorVersion;
    public uint BuildNumber;
    public uint PlatformId;
    public fixed char CSDVersion[128];
    public ushort ServicePackMajor;
    public ushort ServicePackMinor;
    public ushort SuiteMask;
    public byte ProductType;
    public byte Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SecurityAttributes
{
    public uint Length;
    public nint SecurityDescriptor;
    public int InheritHandle;
}

[StructLayout(LayoutKind.Sequential)]
internal struct WtsSessionInfo
{
    public uint SessionId;
    public nint WinStationName;
    public int State;
}

/// <summary>WTSINFOW (the W form, so user names outside the ANSI code page survive).</summary>
[StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
internal unsafe struct WtsInfo
{
    public int State;
    public uint SessionId;
    public uint IncomingBytes;
    public uint OutgoingBytes;
    public uint IncomingFrames;
    public uint OutgoingFrames;
    public uint IncomingCompressedBytes;
    public uint OutgoingCompressedBytes;
    public fixed char WinStationName[32];
    public fixed char Domain[17];
    public fixed char UserName[21];
    public long ConnectTime;
    public long DisconnectTime;
    public long LastInputTime;
    public long LogonTime;
    public long CurrentTime;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SocketAddress
{
    public nint Sockaddr;
    public int SockaddrLength;
}

/// <summary>The leading part of IP_ADAPTER_ADDRESSES_LH, up to the fields read here.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IpAdapterAddresses
{
    public uint Length;
    public uint IfIndex;
    public IpAdapterAddresses* Next;
    public nint AdapterName;
    public IpAdapterUnicastAddress* FirstUnicastAddress;
    public nint FirstAnycastAddress;
    public nint FirstMulticastAddress;
    public nint FirstDnsServerAddress;
    public nint DnsSuffix;
    public nint Description;
    public nint FriendlyName;
    public fixed byte PhysicalAddress[8];
    public uint PhysicalAddressLength;
    public uint Flags;
    public uint Mtu;
    public uint IfType;
    public int OperStatus;
    public uint Ipv6IfIndex;
    public fixed uint ZoneIndices[16];
    public nint FirstPrefix;
    public ulong TransmitLinkSpeed;
    public ulong ReceiveLinkSpeed;
    public nint FirstWinsServerAddress;
    public nint FirstGatewayAddress;
    public uint Ipv4Metric;
    public uint Ipv6Metric;
    public ulong Luid;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IpAdapterUnicastAddress
{
    public uint Length;
    public uint Flags;
    public IpAdapterUnicastAddress* Next;
    public SocketAddress Address;
    public int PrefixOrigin;
    public int SuffixOrigin;
    public int DadState;
    public uint ValidLifetime;
    public uint PreferredLifetime;
    public uint LeaseLifetime;
    public byte OnLinkPrefixLength;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MibIfRow2
{
    public ulong InterfaceLuid;
    public uint InterfaceIndex;
    public Guid InterfaceGuid;
    public fixed char Alias[257];
    public fixed char Description[257];
    public uint PhysicalAddressLength;
    public fixed byte PhysicalAddress[32];
    public fixed byte PermanentPhysicalAddress[32];
    public uint Mtu;
    public uint Type;
    public int TunnelType;
    public int MediaType;
    public int PhysicalMediumType;
    public int AccessType;
    public int DirectionType;
    public byte InterfaceAndOperStatusFlags;
    public int OperStatus;
    public int AdminStatus;
    public int MediaConnectState;
    public Guid NetworkGuid;
    public int ConnectionType;
    public ulong TransmitLinkSpeed;
    public ulong ReceiveLinkSpeed;
    public ulong InOctets;
    public ulong InUcastPkts;
    public ulong InNUcastPkts;
    public ulong InDiscards;
    public ulong InErrors;
    public ulong InUnknownProtos;
    public ulong InUcastOctets;
    public ulong InMulticastOctets;
    public ulong InBroadcastOctets;
    public ulong OutOctets;
    public ulong OutUcastPkts;
    public ulong OutNUcastPkts;
    public ulong OutDiscards;
    public ulong OutErrors;
    public ulong OutUcastOctets;
    public ulong OutMulticastOctets;
    public ulong OutBroadcastOctets;
    public ulong OutQLen;
}

/// <summary>
/// SOCKADDR_INET: the union of sockaddr_in and sockaddr_in6, 28 bytes aligned like its ULONG
/// members (a byte array alone would pack IP_ADDRESS_PREFIX and shift every later field).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 28)]
internal struct SockaddrInet
{
    public uint Head;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IpAddressPrefix
{
    public SockaddrInet Prefix;
    public byte PrefixLength;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MibIpForwardRow2
{
    public ulong InterfaceLuid;
    public uint InterfaceIndex;
    public IpAddressPrefix DestinationPrefix;
    public SockaddrInet NextHop;
    public byte SitePrefixLength;
    public uint ValidLifetime;
    public uint PreferredLifetime;
    public uint Metric;
    public int Protocol;
    public byte Loopback;
    public byte AutoconfigureAddress;
    public byte Publish;
    public byte Immortal;
    public uint Age;
    public int Origin;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SpDevInfoData
{
    public uint Size;
    public Guid ClassGuid;
    public uint DevInst;
    public nuint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SpDeviceInterfaceData
{
    public uint Size;
    public Guid InterfaceClassGuid;
    public uint Flags;
    public nuint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal readonly struct DevPropKey
{
    public readonly Guid FormatId;
    public readonly uint PropertyId;

    public DevPropKey(Guid formatId, uint propertyId)
    {
        FormatId = formatId;
        PropertyId = propertyId;
    }
}

[StructLayout(LayoutKind.Sequential)]
internal struct PdhFmtCounterValue
{
    public uint CStatus;
    public double DoubleValue;
}

[StructLayout(LayoutKind.Sequential)]
internal struct StoragePropertyQuery
{
    public int PropertyId;
    public int QueryType;
    public byte AdditionalParameters;
}

[StructLayout(LayoutKind.Sequential)]
internal struct StorageDeviceDescriptor
{
    public uint Version;
    public uint Size;
    public byte DeviceType;
    public byte DeviceTypeModifier;
    public byte RemovableMedia;
    public byte CommandQueueing;
    public uint VendorIdOffset;
    public uint ProductIdOffset;
    public uint ProductRevisionOffset;
    public uint SerialNumberOffset;
    public int BusType;
    public uint RawPropertiesLength;
    public byte RawDeviceProperties;
}

[StructLayout(LayoutKind.Sequential)]
internal struct StorageDeviceNumber
{
    public uint DeviceType;
    public uint DeviceNumber;
    public uint PartitionNumber;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ScsiAddress
{
    public uint Length;
    public byte PortNumber;
    public byte PathId;
    public byte TargetId;
    public byte Lun;
}

[StructLayout(LayoutKind.Sequential)]
internal struct DiskExtent
{
    public uint DiskNumber;
    public long StartingOffset;
    public long ExtentLength;
}

/// <summary>VSS_COMPONENTINFO up to bSelectable (C++ bool is one byte).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VssComponentInfo
{
    public int Type;
    public nint LogicalPath;
    public nint ComponentName;
    public nint Caption;
    public nint Icon;
    public uint IconSize;
    public byte RestoreMetadata;
    public byte NotifyOnBackupComplete;
    public byte Selectable;
    public byte SelectableForRestore;
    public uint ComponentFlags;
    public uint FileCount;
    public uint Databases;
    public uint LogFiles;
    public uint Dependencies;
}

/// <summary>DCB: a serial port's line settings. The C bit fields are <see cref="Flags"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Dcb
{
    public const uint FlagBinary = 1 << 0;
    public const uint FlagParity = 1 << 1;
    public const uint FlagOutxCtsFlow = 1 << 2;
    public const uint FlagOutxDsrFlow = 1 << 3;
    public const uint MaskDtrControl = 3 << 4;
    public const uint DtrControlEnable = 1 << 4;
    public const uint FlagDsrSensitivity = 1 << 6;
    public const uint FlagOutX = 1 << 8;
    public const uint FlagInX = 1 << 9;
    public const uint FlagErrorChar = 1 << 10;
    public const uint FlagNull = 1 << 11;
    public const uint MaskRtsControl = 3 << 12;
    public const uint RtsControlEnable = 1 << 12;
    public const uint FlagAbortOnError = 1 << 14;
    public const byte NoParity = 0;
    public const byte OneStopBit = 0;

    public uint DCBlength;
    public uint BaudRate;
    public uint Flags;
    public ushort Reserved;
    public ushort XonLim;
    public ushort XoffLim;
    public byte ByteSize;
    public byte Parity;
    public byte StopBits;
    public byte XonChar;
    public byte XoffChar;
    public byte ErrorChar;
    public byte EofChar;
    public byte EvtChar;
    public ushort Reserved1;
}

/// <summary>COMMTIMEOUTS, in milliseconds.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CommTimeouts
{
    public uint ReadIntervalTimeout;
    public uint ReadTotalTimeoutMultiplier;
    public uint ReadTotalTimeoutConstant;
    public uint WriteTotalTimeoutMultiplier;
    public uint WriteTotalTimeoutConstant;
}
