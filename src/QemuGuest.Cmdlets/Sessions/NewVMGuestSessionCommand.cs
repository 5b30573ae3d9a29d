using System;
using System.Collections.Generic;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// <para type="synopsis">Opens a session to a guest agent.</para>
/// <para type="description">Connects to a guest agent, synchronises with it and keeps the
/// connection for later cmdlets. Target a VM by name (through the QemuGuest relay) or give a
/// connection string: a QEMU chardev socket or qemu-ga unix-listen socket (unix:/path or a plain
/// path), tcp:host:port, or pipe:name (Windows named pipe).</para>
/// <para type="description">Sessions are thread-safe: one session can be used from
/// ForEach-Object -Parallel and thread jobs. A qemu-ga unix-listen socket serves one client at
/// a time, so close sessions you no longer need with Remove-VMGuestSession.</para>
/// <para type="link">Get-VMGuestSession</para>
/// <para type="link">Remove-VMGuestSession</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Connect to an agent socket">
/// <code>PS C:\&gt; $s = New-VMGuestSession "unix:$socketPath" -Name web01
/// PS C:\&gt; Get-VMGuestHostName -Session $s</code>
/// <para>Connects to the QEMU chardev socket of VM web01's guest agent channel ($socketPath, as in
/// -chardev socket,path=/run/qemu/web01-qga.sock,server=on,wait=off) and names the session web01;
/// later cmdlets take -Session $s or -VMName web01.</para>
/// </example>
/// <example title="Connect to VMs through the relay">
/// <code>PS C:\&gt; New-VMGuestSession -VMName web01, web02 | Get-VMGuestOSInfo</code>
/// <para>Opens one session per VM through the QemuGuest relay and reads each guest's OS facts.</para>
/// </example>
/// <example title="Wait longer for a guest that is still booting">
/// <code>PS C:\&gt; $s = New-VMGuestSession -VMName web02 -ConnectTimeoutSec 60
/// PS C:\&gt; Test-VMGuestAgent -Session $s</code>
/// <para>Keeps trying to connect and synchronise for up to a minute (an agent that is not yet
/// running answers nothing), then checks that the agent answers a ping.</para>
/// </example>
/// <returns>QemuGuest.Cmdlets.Sessions.GuestSession: the open session.</returns>
[Cmdlet(VerbsCommon.New, "VMGuestSession", DefaultParameterSetName = ConnectionStringSet)]
[OutputType(typeof(GuestSession))]
public sealed class NewVMGuestSessionCommand : PSCmdlet
{
    private const string ConnectionStringSet = "ConnectionString";
    private const string VMNameSet = "VMName";

    /// <summary>Where the agent listens: unix:/path, /path, tcp:host:port, pipe:name.</summary>
    [Parameter(ParameterSetName = ConnectionStringSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public string[] ConnectionString { get; set; } = Array.Empty<string>();

    /// <summary>VM names served by the relay on this host (wildcards allowed: web* opens one session per matching VM).</summary>
    [Parameter(ParameterSetName = VMNameSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VMNameCompleter))]
    public string[] VMName { get; set; } = Array.Empty<string>();

    /// <summary>A friendly name for the session (default: the VM name or connection string).</summary>
    [Parameter(ParameterSetName = ConnectionStringSet)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>Seconds to wait for the connection and the first sync.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int ConnectTimeoutSec { get; set; } = 10;

    private IEnumerable<string> Targets()
    {
        if (ParameterSetName != VMNameSet)
        {
            return ConnectionString;
        }
        var names = new List<string>();
        foreach (var name in VMName)
        {
            if (!WildcardPattern.ContainsWildcardCharacters(name))
            {
                names.Add(name);
                continue;
            }
            var matches = SessionFactory.MatchVMNames(name, includeSessions: false);
            if (matches.Count == 0)
            {
                WriteError(SessionFactory.NoVMMatches(name));
            }
            names.AddRange(matches);
        }
        return names;
    }

    protected override void ProcessRecord()
    {
        foreach (var target in Targets())
        {
            try
            {
                GuestSession session = ParameterSetName == VMNameSet
                    ? SessionFactory.Open(SessionFactory.RelayEndpointFor(target), target, target, temporary: false, TimeSpan.FromSeconds(ConnectTimeoutSec), default)
                    : SessionFactory.Open(target, Name ?? target, vmName: Name, temporary: false, TimeSpan.FromSeconds(ConnectTimeoutSec), default);
                SessionRegistry.Add(session);
                WriteObject(session);
            }
            catch (Exception ex) when (ex is not PipelineStoppedException)
            {
                WriteError(ErrorTable.ToErrorRecord(ex, target));
            }
        }
    }
}
