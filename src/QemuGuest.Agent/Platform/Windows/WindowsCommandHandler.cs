using System;
using System.Collections.Generic;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// Windows handlers against Win32: IP Helper (through System.Net.NetworkInformation) for the
/// network, InitiateShutdownW, SetSystemTime, SetSuspendState. Compiled everywhere, exercised
/// only on Windows; what is untested is listed in docs/agent-windows.md. VSS freeze is not
/// implemented yet (the fsfreeze commands answer "not currently supported").
/// </summary>
[SupportedOSPlatform("windows")]
public sealed partial class WindowsCommandHandler : CommandHandler
{
    private const uint SHUTDOWN_FORCE_OTHERS = 0x1;
    private const uint SHUTDOWN_POWEROFF = 0x8;
    private const uint SHUTDOWN_RESTART = 0x4;
    private const uint SHUTDOWN_FORCE_SELF = 0x2;

    public WindowsCommandHandler(AgentContext context)
        : base(context)
    {
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SystemTime
    {
        public ushort Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds;
    }

    [LibraryImport("advapi32.dll", EntryPoint = "InitiateShutdownW", StringMarshalling = StringMarshalling.Utf16)]
    private static partial uint InitiateShutdown(string? machine, string? message, uint gracePeriod, uint flags, uint reason);

    [LibraryImport("kernel32.dll", EntryPoint = "SetSystemTime", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool SetSystemTimeNative(in SystemTime time);

    [LibraryImport("powrprof.dll", EntryPoint = "SetSuspendState")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool SetSuspendState([MarshalAs(UnmanagedType.U1)] bool hibernate, [MarshalAs(UnmanagedType.U1)] bool force, [MarshalAs(UnmanagedType.U1)] bool disableWakeEvent);

    public override ValueTask GuestShutdownAsync(string? mode, CancellationToken cancellationToken)
    {
        uint flags = SHUTDOWN_FORCE_OTHERS | SHUTDOWN_FORCE_SELF;
        switch (mode ?? "powerdown")
        {
            case "powerdown":
            case "halt":
                flags |= SHUTDOWN_POWEROFF;
                break;
            case "reboot":
                flags |= SHUTDOWN_RESTART;
                break;
            default:
                throw new AgentCommandException("mode is invalid (valid values are: halt|powerdown|reboot");
        }

        uint rc = InitiateShutdown(null, null, 0, flags, 0);
        if (rc != 0)
        {
            throw AgentCommandException.CommandFailed(new System.ComponentModel.Win32Exception((int)rc).Message);
        }

        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestSetTimeAsync(long? time, CancellationToken cancellationToken)
    {
        if (time is not long ns)
        {
            throw new AgentCommandException("this feature or command is not currently supported");
        }

        DateTime t = DateTime.UnixEpoch.AddTicks(ns / 100);
        var st = new SystemTime
        {
            Year = (ushort)t.Year, Month = (ushort)t.Month, Day = (ushort)t.Day, Hour = (ushort)t.Hour,
            Minute = (ushort)t.Minute, Second = (ushort)t.Second, Milliseconds = (ushort)t.Millisecond,
        };
        if (!SetSystemTimeNative(st))
        {
            throw new AgentCommandException("Failed to set time to guest: " + Marshal.GetLastPInvokeErrorMessage());
        }

        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestSuspendDiskAsync(CancellationToken cancellationToken) => Suspend(true);

    public override ValueTask GuestSuspendRamAsync(CancellationToken cancellationToken) => Suspend(false);

    public override ValueTask<GuestOSInfo> GuestGetOsinfoAsync(CancellationToken cancellationToken)
    {
        var v = Environment.OSVersion.Version;
        return Done(new GuestOSInfo
        {
            KernelRelease = v.Build.ToString(System.Globalization.CultureInfo.InvariantCulture),
            KernelVersion = v.Major + "." + v.Minor,
            Machine = RuntimeInformation.OSArchitecture switch
            {
                Architecture.X64 => "x86_64",
                Architecture.X86 => "x86",
                Architecture.Arm64 => "aarch64",
                _ => RuntimeInformation.OSArchitecture.ToString(),
            },
            Id = "mswindows",
            Name = "Microsoft Windows",
            PrettyName = RuntimeInformation.OSDescription,
            Version = RuntimeInformation.OSDescription,
            VersionId = v.Major.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    public override ValueTask<IReadOnlyList<GuestLogicalProcessor>> GuestGetVcpusAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestLogicalProcessor>();
        for (int i = 0; i < Environment.ProcessorCount; i++)
        {
            list.Add(new GuestLogicalProcessor(i, true) { CanOffline = false });
        }

        return Done<IReadOnlyList<GuestLogicalProcessor>>(list);
    }

    public override ValueTask<IReadOnlyList<GuestNetworkInterface>> GuestNetworkGetInterfacesAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestNetworkInterface>();
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            var addresses = new List<GuestIpAddress>();
            foreach (UnicastIPAddressInformation a in nic.GetIPProperties().UnicastAddresses)
            {
                addresses.Add(new GuestIpAddress(
                    a.Address.ToString(),
                    a.Address.AddressFamily == AddressFamily.InterNetworkV6 ? GuestIpAddressType.Ipv6 : GuestIpAddressType.Ipv4,
                    a.PrefixLength));
            }

            IPInterfaceStatistics s = nic.GetIPStatistics();
            byte[] mac = nic.GetPhysicalAddress().GetAddressBytes();
            list.Add(new GuestNetworkInterface(nic.Name)
            {
                HardwareAddress = mac.Length == 0 ? null : string.Join(":", Array.ConvertAll(mac, b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))),
                IpAddresses = addresses,
                Statistics = new GuestNetworkInterfaceStat(
                    (ulong)s.BytesReceived, (ulong)(s.UnicastPacketsReceived + s.NonUnicastPacketsReceived), (ulong)s.IncomingPacketsWithErrors, (ulong)s.IncomingPacketsDiscarded,
                    (ulong)s.BytesSent, (ulong)(s.UnicastPacketsSent + s.NonUnicastPacketsSent), (ulong)s.OutgoingPacketsWithErrors, (ulong)s.OutgoingPacketsDiscarded),
            });
        }

        return Done<IReadOnlyList<GuestNetworkInterface>>(list);
    }

    private static ValueTask Suspend(bool hibernate)
    {
        if (!SetSuspendState(hibernate, false, false))
        {
            throw AgentCommandException.CommandFailed(Marshal.GetLastPInvokeErrorMessage());
        }

        return ValueTask.CompletedTask;
    }
}
