using System;
using System.Management.Automation;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Remoting;

/// <summary>
/// <para type="synopsis">Opens a PowerShell session (PSSession) in a guest through its agent: PowerShell Direct for QEMU guests.</para>
/// <para type="description">Starts PowerShell in server mode in the guest (pwsh -s -NoLogo -NoProfile, or the program given
/// with -PowerShellPath) through QemuGuest's agent, and carries PowerShell's own remoting protocol over the
/// program's standard input and output, streamed by the agent. The result is a real PSSession: use it with
/// Invoke-Command, Enter-PSSession, Copy-Item -ToSession/-FromSession and Remove-PSSession. No network is
/// needed in the guest. Needs PowerShell 7.6 or later on this side (error PowerShellVersionUnsupported
/// otherwise) and QemuGuest's agent in the guest: a stock qemu-ga cannot stream standard input (error
/// AgentFeatureUnavailable). Security: whoever can open the VM's agent channel or relay endpoint gets a
/// PowerShell running as the agent's user in the guest, usually root or SYSTEM. A policy that denies exec
/// denies this too. See docs/powershell-direct.md.</para>
/// <para type="link">Invoke-Command</para>
/// <para type="link">Remove-PSSession</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Run a script block in a guest and get objects back">
/// <code>PS C:\&gt; $s = New-VMGuestPSSession -VMName web01
/// PS C:\&gt; Invoke-Command -Session $s { Get-Process | Sort-Object CPU -Descending | Select-Object -First 5 }
/// PS C:\&gt; Remove-PSSession $s</code>
/// <para>Opens the session, returns the guest's five busiest processes as deserialised objects, and
/// stops PowerShell in the guest.</para>
/// </example>
/// <example title="Copy a file into the guest through a named session">
/// <code>PS C:\&gt; $s = New-VMGuestPSSession -VMName web01 -Name web01-ps
/// PS C:\&gt; Copy-Item ./app.conf -Destination /srv/app.conf -ToSession $s
/// PS C:\&gt; Get-PSSession -Name web01-ps | Remove-PSSession</code>
/// <para>Copies a local file into the guest over the session, then closes it by name. Give
/// -PowerShellPath when pwsh is not on the guest agent's PATH (e.g. /opt/microsoft/powershell/7/pwsh).</para>
/// </example>
[Cmdlet(VerbsCommon.New, "VMGuestPSSession", DefaultParameterSetName = VMNameParameterSet)]
[OutputType("System.Management.Automation.Runspaces.PSSession")]
public sealed class NewVMGuestPSSessionCommand : GuestCmdlet
{
    /// <summary>PowerShell in the guest: a path, or a name on the agent's PATH; default pwsh.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string PowerShellPath { get; set; } = "pwsh";

    /// <summary>A name for the PSSession (Get-PSSession -Name).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>Seconds to wait for the guest's PowerShell to open the session (it may be slow to start in a cold guest).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int OpenTimeoutSec { get; set; } = 120;

    protected override void BeginProcessing()
    {
        PSDirectLoader.RequireSupportedPowerShell(this, "New-VMGuestPSSession");
        base.BeginProcessing();
    }

    protected override GuestOperation? CreateOperation()
    {
        string program = PowerShellPath;
        string? name = Name;
        TimeSpan openTimeout = TimeSpan.FromSeconds(OpenTimeoutSec);
        return async context =>
        {
            // A -VMName session is closed when this cmdlet ends; the PSSession outlives it, so it
            // gets a connection of its own (the relay serves several clients per VM).
            GuestSession session = context.Session;
            GuestSession? owned = null;
            if (session.IsTemporary)
            {
                owned = SessionFactory.Open(session.ConnectionString, session.Name, session.VMName, temporary: true, SessionFactory.DefaultConnectTimeout, context.CancellationToken);
                session = owned;
            }

            GuestStdioStream stdio;
            try
            {
                stdio = await GuestStdioStream.StartAsync(session.Channel, session.Facts, context.CallOptions, session.TargetName, program,
                    PSDirectLoader.ServerArguments, owned, context.CancellationToken).ConfigureAwait(false);
            }
            catch
            {
                owned?.Dispose();
                throw;
            }

            object psSession;
            try
            {
                psSession = await Task.Run(() => PSDirectLoader.Open(stdio, session.TargetName, name, stdio.DescribeEnd, this, openTimeout)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                stdio.Dispose();
                throw ErrorTable.Fail(ErrorTable.GuestPSSessionFailed, ErrorCategory.OpenError,
                    "Could not open a PowerShell session in " + session.TargetName + ": " + ex.Message, session.TargetName, ex);
            }

            context.WriteObject(psSession);
        };
    }
}
