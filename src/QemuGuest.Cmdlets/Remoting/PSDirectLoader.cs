using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.ExceptionServices;

namespace QemuGuest.Cmdlets.Remoting;

/// <summary>
/// Reaches QemuGuest.Remoting (Remoting/QemuGuest.Remoting.dll in the module folder) by
/// reflection: it is compiled against PowerShell 7.6's System.Management.Automation, so this
/// netstandard2.0 assembly must not reference it, and Windows PowerShell must never load it.
/// Only framework and System.Management.Automation types cross the call.
/// </summary>
internal static class PSDirectLoader
{
    private static MethodInfo? s_open;

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

    private static MethodInfo Load()
    {
        string folder = Path.GetDirectoryName(typeof(PSDirectLoader).Assembly.Location) ?? ".";
        string path = Path.Combine(Path.Combine(folder, "Remoting"), "QemuGuest.Remoting.dll");
        Assembly assembly = Assembly.LoadFrom(path);
        Type type = assembly.GetType("QemuGuest.Remoting.GuestPSSession", throwOnError: true)!;
        return type.GetMethod("Open", BindingFlags.Public | BindingFlags.Static)
            ?? throw new MissingMethodException("QemuGuest.Remoting.GuestPSSession", "Open");
    }
}
