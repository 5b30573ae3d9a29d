using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// Windows handlers against Win32, after qemu-ga's qga/commands-win32.c: IP Helper for the
/// network, WTS for users, NetUserSetInfo, SetupAPI for devices and disks, volume IOCTLs for
/// fsinfo, defrag.exe /L for fstrim, PDH for the load average, VSS for fsfreeze,
/// InitiateShutdownW, SetSystemTime, SetSuspendState. The Win32 calls live in WindowsSystem,
/// WindowsVolumes and WindowsVss; what they return is turned into QAPI values by the portable,
/// unit-tested WindowsMapping and VssFreezer. Compiled everywhere, exercised only on Windows;
/// docs/agent-windows.md lists what has never run there.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed partial class WindowsCommandHandler : CommandHandler
{
    private const uint SHUTDOWN_FORCE_OTHERS = 0x1;
    private const uint SHUTDOWN_POWEROFF = 0x8;
    private const uint SHUTDOWN_RESTART = 0x4;
    private const uint SHUTDOWN_FORCE_SELF = 0x2;

    private readonly Lazy<VssFreezer?> _vss = new(() => WindowsVss.Available() ? new VssFreezer(new WindowsVss()) : null);
    private readonly WindowsLoadSampler _load = new();

    public WindowsCommandHandler(AgentContext context)
        : base(context)
    {
        // qemu-ga's guest_fsfreeze_cleanup: never leave the volumes frozen when the agent stops.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (_vss.IsValueCreated && _vss.Value is { IsActive: true } vss)
            {
                try
                {
                    vss.Thaw();
                }
                catch (AgentCommandException)
                {
                }
            }

            _load.Dispose();
        };
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

    public override ValueTask<GuestOSInfo> GuestGetOsinfoAsync(CancellationToken cancellationToken) => Done(WindowsSystem.OsInfo());

    public override ValueTask<IReadOnlyList<GuestLogicalProcessor>> GuestGetVcpusAsync(CancellationToken cancellationToken)
    {
        var list = new List<GuestLogicalProcessor>();
        for (int i = 0; i < Environment.ProcessorCount; i++)
        {
            list.Add(new GuestLogicalProcessor(i, true) { CanOffline = false });
        }

        return Done<IReadOnlyList<GuestLogicalProcessor>>(list);
    }

    public override ValueTask<IReadOnlyList<GuestUser>> GuestGetUsersAsync(CancellationToken cancellationToken) =>
        Done<IReadOnlyList<GuestUser>>(WindowsSystem.Users());

    public override ValueTask GuestSetUserPasswordAsync(string username, string password, bool crypted, CancellationToken cancellationToken)
    {
        WindowsSystem.SetPassword(username, password, crypted);
        return ValueTask.CompletedTask;
    }

    public override ValueTask<IReadOnlyList<GuestDeviceInfo>> GuestGetDevicesAsync(CancellationToken cancellationToken) =>
        Done<IReadOnlyList<GuestDeviceInfo>>(WindowsSystem.Devices());

    public override ValueTask<GuestLoadAverage> GuestGetLoadAsync(CancellationToken cancellationToken) => Done(_load.Current());

    private static ValueTask Suspend(bool hibernate)
    {
        if (!SetSuspendState(hibernate, false, false))
        {
            throw AgentCommandException.CommandFailed(Marshal.GetLastPInvokeErrorMessage());
        }

        return ValueTask.CompletedTask;
    }
}
