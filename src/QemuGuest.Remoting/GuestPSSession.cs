using System;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Remoting;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace QemuGuest.Remoting;

/// <summary>
/// The one entry point the netstandard2.0 module calls (by reflection, so that Windows
/// PowerShell never loads this assembly): opens a remote runspace over a started guest server
/// and wraps it as a PSSession. Only framework and System.Management.Automation types cross.
/// </summary>
public static class GuestPSSession
{
    /// <summary>The transport name Get-PSSession shows.</summary>
    public const string TransportName = "QemuGuest";

    /// <summary>
    /// Opens the session or throws <see cref="PSRemotingTransportException"/> with the reason
    /// (the server's own end, or the time limit). <paramref name="cmdlet"/> is the calling
    /// PSCmdlet (its host and the session's registration).
    /// </summary>
    public static PSSession Open(Stream stdio, string computerName, string? name, Func<string> describeEnd, PSCmdlet cmdlet, TimeSpan openTimeout) =>
        PSSession.Create(OpenRunspace(stdio, computerName, name, describeEnd, cmdlet.Host, openTimeout), TransportName, cmdlet);

    /// <summary>
    /// Opens a remote runspace over the started guest server, not registered anywhere (a
    /// one-shot caller such as Invoke-VMGuestScriptBlock closes it itself), or throws as
    /// <see cref="Open"/>.
    /// </summary>
    public static Runspace OpenRunspace(Stream stdio, string computerName, string? name, Func<string> describeEnd, PSHost? host, TimeSpan openTimeout)
    {
        var info = new GuestConnectionInfo(stdio, computerName, describeEnd) { OpenTimeout = (int)Math.Min(int.MaxValue, openTimeout.TotalMilliseconds) };
        Runspace runspace = RunspaceFactory.CreateRunspace(info, host, TypeTable.LoadDefaultTypeFiles(), null, name);
        using var opened = new ManualResetEventSlim();
        runspace.StateChanged += (_, e) =>
        {
            if (e.RunspaceStateInfo.State is RunspaceState.Opened or RunspaceState.Closed or RunspaceState.Broken)
            {
                opened.Set();
            }
        };
        runspace.OpenAsync();
        if (!opened.Wait(openTimeout))
        {
            // No answer in time: ending the guest program ends our reader, which breaks the
            // runspace; disposing one that is still opening would wait for a close handshake.
            stdio.Dispose();
            opened.Wait(TimeSpan.FromSeconds(30));
        }

        if (runspace.RunspaceStateInfo.State != RunspaceState.Opened)
        {
            Exception? reason = runspace.RunspaceStateInfo.Reason;
            runspace.Dispose();
            stdio.Dispose();
            throw new PSRemotingTransportException(
                reason is null
                    ? "The PowerShell server in " + computerName + " did not open a session within " + openTimeout.TotalSeconds + " seconds: " + describeEnd()
                    : reason.Message,
                reason);
        }

        return runspace;
    }
}
