using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// The Win32 readers behind the Windows handlers (qemu-ga's qga/commands-win32.c): each one
/// collects raw values and hands them to <see cref="WindowsMapping"/>, where the portable,
/// unit-tested logic lives.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class WindowsSystem
{
    private const uint MaxAdapterBytes = 4 * 1024 * 1024;
    private const int MaxDevicePropertyBytes = 64 * 1024;

    // ---- guest-get-osinfo ----
    public static GuestOSInfo OsInfo()
    {
        var v = new OsVersionInfoEx { OSVersionInfoSize = (uint)sizeof(OsVersionInfoEx) };
        Win32Native.RtlGetVersion(ref v);
        Win32Native.GetNativeSystemInfo(out SystemInfo si);
        return WindowsMapping.OsInfo((int)v.MajorVersion, (int)v.MinorVersion, (int)v.BuildNumber, v.ProductType, si.ProcessorArchitecture, ProductName());
    }

    /// <summary>ga_get_win_product_name: HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion ProductName.</summary>
    private static string ProductName()
    {
        int err = Win32Native.RegOpenKeyEx(Win32Native.HKEY_LOCAL_MACHINE, "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", 0, Win32Native.KEY_READ, out nint key);
        if (err != 0)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to open registry key", Win32Native.ErrorText(err)));
        }

        try
        {
            uint size = 256;
            for (int attempt = 0; attempt < 2; attempt++)
            {
                byte[] data = new byte[size + 2];
                fixed (byte* p = data)
                {
                    err = Win32Native.RegQueryValueEx(key, "ProductName", 0, out _, p, ref size);
                    if (err == 0)
                    {
                        return new string((char*)p, 0, (int)(size / 2)).TrimEnd('\0');
                    }
                }

                if (err != Win32Native.ERROR_MORE_DATA || size > 64 * 1024)
                {
                    break;
                }
            }

            // "retrive" (sic) is qemu-ga's spelling.
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to retrive ProductName", Win32Native.ErrorText(err)));
        }
        finally
        {
            Win32Native.RegCloseKey(key);
        }
    }

    // ---- guest-get-users ----
    public static List<GuestUser> Users()
    {
        var sessions = new List<WindowsMapping.SessionUser>();
        if (!Win32Native.WTSEnumerateSessions(0, 0, 1, out nint entries, out uint count))
        {
            return new List<GuestUser>(); // qemu-ga answers an empty list when enumeration fails
        }

        try
        {
            for (uint i = 0; i < count; i++)
            {
                WtsSessionInfo* entry = (WtsSessionInfo*)entries + i;
                if (!Win32Native.WTSQuerySessionInformation(0, entry->SessionId, Win32Native.WTSSessionInfo, out nint buffer, out uint bytes))
                {
                    continue;
                }

                try
                {
                    if (bytes < sizeof(WtsInfo))
                    {
                        continue;
                    }

                    WtsInfo* info = (WtsInfo*)buffer;
                    sessions.Add(new WindowsMapping.SessionUser(new string(info->UserName), new string(info->Domain), info->LogonTime));
                }
                finally
                {
                    Win32Native.WTSFreeMemory(buffer);
                }
            }
        }
        finally
        {
            Win32Native.WTSFreeMemory(entries);
        }

        return WindowsMapping.Users(sessions);
    }

    // ---- guest-set-user-password ----
    public static void SetPassword(string user, string password, bool crypted)
    {
        string raw = WindowsMapping.DecodePassword(password, crypted);
        if (Win32Native.IsWine)
        {
            throw new AgentCommandException(WindowsMapping.SetPasswordError("NetUserSetInfo is not implemented by Wine"));
        }

        char[] chars = new char[raw.Length + 1];
        raw.CopyTo(0, chars, 0, raw.Length);
        try
        {
            fixed (char* p = chars)
            {
                nint info = (nint)p; // USER_INFO_1003 is a single LPWSTR
                uint status = Win32Native.NetUserSetInfo(null, user, 1003, &info, out _);
                if (status != 0)
                {
                    throw new AgentCommandException(WindowsMapping.SetPasswordError(NetErrorText(status)));
                }
            }
        }
        finally
        {
            Array.Clear(chars);
        }
    }

    // get_net_error_message: NERR_* texts live in netmsg.dll, the rest in the system table.
    private static string NetErrorText(uint code)
    {
        nint module = 0;
        uint flags = Win32Native.FORMAT_MESSAGE_FROM_SYSTEM | Win32Native.FORMAT_MESSAGE_IGNORE_INSERTS;
        if (code >= Win32Native.NERR_BASE && code <= Win32Native.MAX_NERR)
        {
            module = Win32Native.LoadLibraryEx("netmsg.dll", 0, Win32Native.LOAD_LIBRARY_AS_DATAFILE);
            if (module != 0)
            {
                flags |= Win32Native.FORMAT_MESSAGE_FROM_HMODULE;
            }
        }

        try
        {
            char* buffer = stackalloc char[1024];
            uint n = Win32Native.FormatMessage(flags, module, code, 0, buffer, 1024, 0);
            return n == 0 ? string.Empty : new string(buffer, 0, (int)n);
        }
        finally
        {
            if (module != 0)
            {
                Win32Native.FreeLibrary(module);
            }
        }
    }

    // ---- guest-get-devices ----
    public static List<GuestDeviceInfo> Devices()
    {
        nint set = Win32Native.SetupDiGetClassDevs(null, null, 0, Win32Native.DIGCF_PRESENT | Win32Native.DIGCF_ALLCLASSES);
        if (set == Win32Native.INVALID_HANDLE_VALUE)
        {
            throw new AgentCommandException("failed to get device tree");
        }

        var list = new List<GuestDeviceInfo>();
        try
        {
            var info = new SpDevInfoData { Size = (uint)sizeof(SpDevInfoData) };
            for (uint i = 0; Win32Native.SetupDiEnumDeviceInfo(set, i, ref info); i++)
            {
                uint inst = info.DevInst;
                byte[]? name = DevNodeProperty(inst, Win32Native.DEVPKEY_NAME);
                byte[]? ids = DevNodeProperty(inst, Win32Native.DEVPKEY_Device_HardwareIds);
                if (name is null || ids is null)
                {
                    continue;
                }

                byte[]? version = DevNodeProperty(inst, Win32Native.DEVPKEY_Device_DriverVersion);
                byte[]? date = DevNodeProperty(inst, Win32Native.DEVPKEY_Device_DriverDate);
                GuestDeviceInfo? device = WindowsMapping.Device(
                    Utf16(name),
                    WindowsMapping.MultiString(MemoryMarshal.Cast<byte, char>(ids)),
                    version is null ? null : Utf16(version),
                    date is { Length: >= 8 } ? BitConverter.ToInt64(date, 0) : null);
                if (device is not null)
                {
                    list.Add(device);
                }
            }
        }
        finally
        {
            Win32Native.SetupDiDestroyDeviceInfoList(set);
        }

        return list;
    }

    private static string Utf16(byte[] value)
    {
        ReadOnlySpan<char> s = MemoryMarshal.Cast<byte, char>(value);
        int nul = s.IndexOf('\0');
        return (nul < 0 ? s : s[..nul]).ToString();
    }

    // cm_get_property: size query, then the value (bounded).
    private static byte[]? DevNodeProperty(uint inst, in DevPropKey key)
    {
        uint size = 0;
        uint cr = Win32Native.CM_Get_DevNode_Property(inst, key, out _, null, ref size, 0);
        if ((cr != Win32Native.CR_SUCCESS && cr != Win32Native.CR_BUFFER_SMALL) || size == 0 || size > MaxDevicePropertyBytes)
        {
            return null;
        }

        byte[] buffer = new byte[size];
        fixed (byte* p = buffer)
        {
            return Win32Native.CM_Get_DevNode_Property(inst, key, out _, p, ref size, 0) == Win32Native.CR_SUCCESS ? buffer : null;
        }
    }

    // ---- guest-network-get-interfaces / guest-network-get-route ----

    /// <summary>One adapter as read from GetAdaptersAddresses.</summary>
    public sealed record Adapter(string FriendlyName, ulong Luid, uint Ipv4Metric, uint Ipv6Metric, GuestNetworkInterface Interface);

    public static List<Adapter> Adapters()
    {
        uint size = 16 * 1024;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            byte[] buffer = new byte[size];
            fixed (byte* p = buffer)
            {
                uint rc = Win32Native.GetAdaptersAddresses(0, Win32Native.GAA_FLAG_INCLUDE_PREFIX, 0, p, ref size);
                if (rc == Win32Native.ERROR_BUFFER_OVERFLOW && size <= MaxAdapterBytes)
                {
                    continue;
                }

                if (rc != 0)
                {
                    throw new AgentCommandException(WindowsMapping.Win32Error("failed to get adapters addresses", Win32Native.ErrorText((int)rc)));
                }

                return ReadAdapters((IpAdapterAddresses*)p);
            }
        }

        throw new AgentCommandException("failed to get adapters addresses: the adapter list keeps growing past " + MaxAdapterBytes + " bytes");
    }

    private static List<Adapter> ReadAdapters(IpAdapterAddresses* first)
    {
        var list = new List<Adapter>();
        for (IpAdapterAddresses* a = first; a != null; a = a->Next)
        {
            string name = Win32Native.PtrToString(a->FriendlyName) ?? string.Empty;
            var addresses = new List<GuestIpAddress>();
            for (IpAdapterUnicastAddress* u = a->FirstUnicastAddress; u != null; u = u->Next)
            {
                var sockaddr = new ReadOnlySpan<byte>((void*)u->Address.Sockaddr, u->Address.SockaddrLength);
                GuestIpAddress? ip = WindowsMapping.IpAddress(sockaddr, u->OnLinkPrefixLength);
                if (ip is not null)
                {
                    addresses.Add(ip);
                }
            }

            var row = new MibIfRow2 { InterfaceLuid = a->Luid };
            GuestNetworkInterfaceStat? stats = Win32Native.GetIfEntry2(&row) == 0
                ? WindowsMapping.Statistics(new WindowsMapping.InterfaceCounters(row.InOctets, row.InUcastPkts, row.InErrors, row.InDiscards, row.OutOctets, row.OutUcastPkts, row.OutErrors, row.OutDiscards))
                : null;
            var nic = new GuestNetworkInterface(name)
            {
                HardwareAddress = WindowsMapping.HardwareAddress(new ReadOnlySpan<byte>(a->PhysicalAddress, (int)Math.Min(a->PhysicalAddressLength, 8u))),
                IpAddresses = addresses.Count == 0 ? null : addresses,
                Statistics = stats,
            };
            list.Add(new Adapter(name, a->Luid, a->Ipv4Metric, a->Ipv6Metric, nic));
        }

        return list;
    }

    public static List<GuestNetworkRoute> Routes()
    {
        var byLuid = new Dictionary<ulong, Adapter>();
        foreach (Adapter a in Adapters())
        {
            byLuid[a.Luid] = a;
        }

        uint rc = Win32Native.GetIpForwardTable2(0, out nint table);
        if (rc != 0)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("failed to get routing table", Win32Native.ErrorText((int)rc)));
        }

        var list = new List<GuestNetworkRoute>();
        try
        {
            uint count = *(uint*)table;
            MibIpForwardRow2* rows = (MibIpForwardRow2*)(table + 8);
            for (uint i = 0; i < count; i++)
            {
                MibIpForwardRow2* r = rows + i;
                byLuid.TryGetValue(r->InterfaceLuid, out Adapter? adapter);
                WindowsMapping.RouteRow? row = WindowsMapping.RouteFromSockaddrs(
                    adapter?.FriendlyName ?? r->InterfaceIndex.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new ReadOnlySpan<byte>(&r->DestinationPrefix.Prefix, 28),
                    r->DestinationPrefix.PrefixLength,
                    new ReadOnlySpan<byte>(&r->NextHop, 28),
                    r->Metric,
                    0);
                if (row is WindowsMapping.RouteRow value)
                {
                    uint interfaceMetric = adapter is null ? 0 : value.IsIpv6 ? adapter.Ipv6Metric : adapter.Ipv4Metric;
                    list.Add(WindowsMapping.Route(value with { InterfaceMetric = interfaceMetric }));
                }
            }
        }
        finally
        {
            Win32Native.FreeMibTable(table);
        }

        return list;
    }

    // ---- guest-fstrim ----
    public static GuestFilesystemTrimResponse Fstrim(CancellationToken cancellationToken)
    {
        var v = new OsVersionInfoEx { OSVersionInfoSize = (uint)sizeof(OsVersionInfoEx) };
        Win32Native.RtlGetVersion(ref v);
        if (WindowsMapping.FstrimVersionError((int)v.MajorVersion, (int)v.MinorVersion) is string versionError)
        {
            throw new AgentCommandException(versionError);
        }

        var results = new List<GuestFilesystemTrimResult>();
        foreach (string volume in WindowsVolumes.Volumes())
        {
            if (Win32Native.GetDriveType(volume) != Win32Native.DRIVE_FIXED)
            {
                continue;
            }

            IReadOnlyList<string> paths = WindowsVolumes.PathNames(volume);
            if (paths.Count == 0 || paths[0].Length == 0)
            {
                continue;
            }

            // qemu-ga prepends each result, so the answer lists the last volume first.
            results.Insert(0, Retrim(paths[0], cancellationToken));
        }

        return new GuestFilesystemTrimResponse(results);
    }

    /// <summary>Upper bound for one "defrag.exe /L" (a full retrim of a big thin disk takes minutes).</summary>
    public const int DefragTimeoutMs = 30 * 60 * 1000;

    private static GuestFilesystemTrimResult Retrim(string path, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("defrag.exe")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add("/L");
        start.ArgumentList.Add(path);
        try
        {
            using Process p = Process.Start(start) ?? throw new InvalidOperationException("defrag.exe did not start");
            System.Threading.Tasks.Task<string> output = p.StandardOutput.ReadToEndAsync(cancellationToken);
            if (!p.WaitForExit(DefragTimeoutMs))
            {
                p.Kill(entireProcessTree: true);
                return new GuestFilesystemTrimResult(path) { Error = "defrag.exe did not finish within " + (DefragTimeoutMs / 60000) + " minutes" };
            }

            string text = output.Wait(5000, cancellationToken) ? output.Result : string.Empty;
            return new GuestFilesystemTrimResult(path) { Error = WindowsMapping.DefragError(text) };
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new GuestFilesystemTrimResult(path) { Error = ex.Message };
        }
    }
}

/// <summary>
/// guest-get-load's sampler: PDH's "\System\Processor Queue Length" collected every 5 s into
/// <see cref="LoadAverage"/>, started by the first guest-get-load like qemu-ga's
/// init_load_avg_counter and stopped with the agent.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsLoadSampler : IDisposable
{
    private readonly object _gate = new();
    private readonly LoadAverage _average = new();
    private nint _query;
    private nint _counter;
    private EventWaitHandle? _event;
    private RegisteredWaitHandle? _wait;

    public GuestLoadAverage Current()
    {
        lock (_gate)
        {
            if (_query == 0)
            {
                Start();
            }
        }

        return _average.Current;
    }

    private void Start()
    {
        uint status = Win32Native.PdhOpenQuery(null, 0, out nint query);
        if (status != 0)
        {
            throw new AgentCommandException(WindowsMapping.Win32Error("PdhOpenQueryW failed with 0x" + status.ToString("x", System.Globalization.CultureInfo.InvariantCulture), Win32Native.ErrorText((int)status)));
        }

        status = Win32Native.PdhAddEnglishCounter(query, "\\System\\Processor Queue Length", 0, out nint counter);
        if (status != 0)
        {
            Win32Native.PdhCloseQuery(query);
            throw new AgentCommandException(WindowsMapping.Win32Error("PdhAddEnglishCounterW failed with 0x" + status.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + ". Performance counters may be disabled.", Win32Native.ErrorText((int)status)));
        }

        var ev = new EventWaitHandle(false, EventResetMode.AutoReset);
        status = Win32Native.PdhCollectQueryDataEx(query, LoadAverage.SamplingIntervalSeconds, ev.SafeWaitHandle.DangerousGetHandle());
        if (status != 0)
        {
            ev.Dispose();
            Win32Native.PdhCloseQuery(query);
            throw new AgentCommandException(WindowsMapping.Win32Error("PdhCollectQueryDataEx failed with 0x" + status.ToString("x", System.Globalization.CultureInfo.InvariantCulture), Win32Native.ErrorText((int)status)));
        }

        _query = query;
        _counter = counter;
        _event = ev;
        _wait = ThreadPool.RegisterWaitForSingleObject(ev, (_, _) => OnSample(), null, Timeout.Infinite, executeOnlyOnce: false);
    }

    private void OnSample()
    {
        // A failed read skips this sample, like qemu-ga's load_avg_callback.
        if (Win32Native.PdhGetFormattedCounterValue(_counter, Win32Native.PDH_FMT_DOUBLE, 0, out PdhFmtCounterValue value) == 0)
        {
            _average.Sample(value.DoubleValue);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _wait?.Unregister(null);
            _wait = null;
            if (_query != 0)
            {
                Win32Native.PdhCloseQuery(_query);
                _query = 0;
            }

            _event?.Dispose();
            _event = null;
        }
    }
}
