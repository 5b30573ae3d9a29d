using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using QemuGuest.Agent.Configuration;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// -s install / -s uninstall: registers the agent as an auto-start Windows service through the
/// Service Control Manager (CreateServiceW / DeleteService), with the channel path, log file
/// and state directory baked into its command line, like qemu-ga's ga_install_service.
/// The service itself runs as AgentWindowsService (Hosting/AgentHost.cs).
/// </summary>
public static partial class WindowsServiceInstaller
{
    public const string ServiceName = "QemuGuestAgent";

    private const uint SC_MANAGER_ALL_ACCESS = 0xF003F;
    private const uint SERVICE_WIN32_OWN_PROCESS = 0x10;
    private const uint SERVICE_AUTO_START = 0x2;
    private const uint SERVICE_ERROR_NORMAL = 0x1;
    private const uint DELETE = 0x10000;

    [LibraryImport("advapi32.dll", EntryPoint = "OpenSCManagerW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial IntPtr OpenSCManager(string? machine, string? database, uint access);

    [LibraryImport("advapi32.dll", EntryPoint = "CreateServiceW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial IntPtr CreateService(IntPtr manager, string name, string display, uint access, uint type, uint start, uint errorControl, string binaryPath, string? group, IntPtr tag, string? dependencies, string? account, string? password);

    [LibraryImport("advapi32.dll", EntryPoint = "OpenServiceW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial IntPtr OpenService(IntPtr manager, string name, uint access);

    [LibraryImport("advapi32.dll", EntryPoint = "DeleteService", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool DeleteService(IntPtr service);

    [LibraryImport("advapi32.dll", EntryPoint = "CloseServiceHandle")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool CloseServiceHandle(IntPtr handle);

    /// <summary>Builds the service command line (pure, unit-tested on any OS).</summary>
    public static string ServiceCommandLine(string exePath, AgentConfig config)
    {
        string line = Quote(exePath) + " -d";
        if (config.ChannelPath is not null)
        {
            line += " -p " + Quote(config.ChannelPath);
        }

        if (config.LogFile is not null)
        {
            line += " -l " + Quote(config.LogFile);
        }

        if (config.StateDir is not null)
        {
            line += " -t " + Quote(config.StateDir);
        }

        return line;
    }

    [SupportedOSPlatform("windows")]
    public static int Run(AgentConfig config, string[] args)
    {
        IntPtr scm = OpenSCManager(null, null, SC_MANAGER_ALL_ACCESS);
        if (scm == IntPtr.Zero)
        {
            Console.Error.WriteLine("failed to open the service control manager: " + Marshal.GetLastPInvokeErrorMessage());
            return 1;
        }

        try
        {
            if (config.Service is "install" or "vss-install")
            {
                if (config.Service == "vss-install")
                {
                    return 0; // no VSS provider yet (see docs/agent-windows.md)
                }

                IntPtr svc = CreateService(scm, ServiceName, "QemuGuest Agent", SC_MANAGER_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, ServiceCommandLine(Environment.ProcessPath!, config), null, IntPtr.Zero, null, null, null);
                if (svc == IntPtr.Zero)
                {
                    Console.Error.WriteLine("failed to register service: " + Marshal.GetLastPInvokeErrorMessage());
                    return 1;
                }

                CloseServiceHandle(svc);
                Console.Out.WriteLine("Service was installed successfully.");
                return 0;
            }

            if (config.Service == "vss-uninstall")
            {
                return 0;
            }

            IntPtr existing = OpenService(scm, ServiceName, DELETE);
            if (existing == IntPtr.Zero || !DeleteService(existing))
            {
                Console.Error.WriteLine("failed to delete service: " + Marshal.GetLastPInvokeErrorMessage());
                return 1;
            }

            CloseServiceHandle(existing);
            Console.Out.WriteLine("Service was deleted successfully.");
            return 0;
        }
        finally
        {
            CloseServiceHandle(scm);
        }
    }

    private static string Quote(string s) => "\"" + s + "\"";
}
