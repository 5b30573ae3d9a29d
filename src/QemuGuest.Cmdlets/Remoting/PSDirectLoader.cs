using System;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.ExceptionServices;
using QemuGuest.Cmdlets.Infrastructure;

namespace QemuGuest.Cmdlets.Remoting;

/// <summary>
/// Reaches QemuGuest.Remoting (Remoting/QemuGuest.Remoting.dll in the module folder) by
/// reflection: it is compiled against PowerShell 7.6's System.Management.Automation, so this
/// netstandard2.0 assembly must not reference it, and Windows PowerShell must never load it.
/// Only framework and System.Management.Automation types cross the call.
/// </summary>
internal static class PSDirectLoader
{
    /// <summary>PowerShell's server mode on standard input and output, quiet and without profiles.</summary>
    internal static readonly string[] ServerArguments = { "-s", "-NoLogo", "-NoProfile" };

    private static MethodInfo? s_open;
    private static MethodInfo? s_openRunspace;

    /// <summary>The PowerShell version the remoting assembly was compiled against: it binds only there and later.</summary>
    private static readonly Version RequiredVersion = new(7, 6);

    /// <summary>Stops <paramref name="cmdlet"/> with PowerShellVersionUnsupported unless this is PowerShell 7.6 or later.</summary>
    internal static void RequireSupportedPowerShell(Cmdlet cmdlet, string cmdletName)
    {
        Version running = typeof(PSObject).Assembly.GetName().Version ?? new Version(0, 0);
        if (UnsupportedReason(running, cmdletName) is string reason)
        {
            cmdlet.ThrowTerminatingError(ErrorTable.Create(ErrorTable.PowerShellVersionUnsupported, ErrorCategory.NotImplemented, reason, running));
        }
    }

    /// <summary>
    /// Why <paramref name="smaVersion"/> (System.Management.Automation's assembly version: 3.0 in
    /// Windows PowerShell 5.1, 7.x.y in pwsh 7) cannot load the remoting assembly, or null when it can.
    /// Pure, so that the versions no machine here runs (5.1, 7.5) are tested as values.
    /// </summary>
    internal static string? UnsupportedReason(Version smaVersion, string cmdletName) =>
        smaVersion < RequiredVersion
            ? cmdletName + " needs PowerShell 7.6 or later; this is PowerShell " + smaVersion.ToString(2) + ". Run it from pwsh 7.6+."
            : null;

    /// <summary>Opens the PSSession (a System.Management.Automation.Runspaces.PSSession) or throws the transport's exception.</summary>
    internal static object Open(Stream stdio, string computerName, string? name, Func<string> describeEnd, PSCmdlet cmdlet, TimeSpan openTimeout)
    {
        MethodInfo open = s_open ??= Load();
        try
        {
            return open.Invoke(null, new object?[] { stdio, computerName, name, describeEnd, cmdlet, openTimeout })!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }

    /// <summary>Opens a remote runspace over the guest server, registered nowhere, or throws the transport's exception.</summary>
    internal static Runspace OpenRunspace(Stream stdio, string computerName, Func<string> describeEnd, PSHost? host, TimeSpan openTimeout)
    {
        MethodInfo open = s_openRunspace ??= Load("OpenRunspace");
        try
        {
            return (Runspace)open.Invoke(null, new object?[] { stdio, computerName, null, describeEnd, host, openTimeout })!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }

    private static MethodInfo Load(string method = "Open")
    {
        string folder = Path.GetDirectoryName(typeof(PSDirectLoader).Assembly.Location) ?? ".";
        string path = Path.Combine(Path.Combine(folder, "Remoting"), "QemuGuest.Remoting.dll");
        Assembly assembly = Assembly.LoadFrom(path);
        Type type = assembly.GetType("QemuGuest.Remoting.GuestPSSession", throwOnError: true)!;
        return type.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
            ?? throw new MissingMethodException("QemuGuest.Remoting.GuestPSSession", method);
    }
}
