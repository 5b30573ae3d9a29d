using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// <para type="synopsis">Opens a session to a guest agent.</para>
/// <para type="description">Connects to a guest agent, synchronises with it and keeps the
/// connection for later cmdlets. Target a VM by name (through the QemuGuest relay) or give a
/// connection string: a QEMU chardev socket or qemu-ga unix-listen socket (unix:/path or a plain
/// path), tcp:host:port, or pipe:name (Windows named pipe).</para>
/// </summary>
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

    /// <summary>VM names served by the relay on this host.</summary>
    [Parameter(ParameterSetName = VMNameSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
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

    protected override void ProcessRecord()
    {
        var targets = ParameterSetName == VMNameSet ? VMName : ConnectionString;
        foreach (var target in targets)
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

/// <summary>
/// <para type="synopsis">Lists the open guest agent sessions.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "VMGuestSession", DefaultParameterSetName = "All")]
[OutputType(typeof(GuestSession))]
public sealed class GetVMGuestSessionCommand : PSCmdlet
{
    /// <summary>Session ids.</summary>
    [Parameter(ParameterSetName = "Id", Mandatory = true, Position = 0)]
    public int[] Id { get; set; } = Array.Empty<int>();

    /// <summary>Session or VM names (wildcards allowed).</summary>
    [Parameter(ParameterSetName = "Name", Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VMNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        var sessions = SessionRegistry.Snapshot();
        if (ParameterSetName == "All")
        {
            WriteObject(sessions, enumerateCollection: true);
            return;
        }
        if (ParameterSetName == "Id")
        {
            foreach (var id in Id)
            {
                var match = System.Linq.Enumerable.FirstOrDefault(sessions, s => s.Id == id);
                if (match is null)
                {
                    WriteError(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ObjectNotFound, $"No session with Id {id}.", id));
                }
                else
                {
                    WriteObject(match);
                }
            }
            return;
        }
        foreach (var pattern in Name)
        {
            var wildcard = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase);
            bool any = false;
            foreach (var s in sessions)
            {
                if (wildcard.IsMatch(s.Name) || (s.VMName is not null && wildcard.IsMatch(s.VMName)))
                {
                    any = true;
                    WriteObject(s);
                }
            }
            if (!any && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteError(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ObjectNotFound, $"No session named '{pattern}'.", pattern));
            }
        }
    }
}

/// <summary>
/// <para type="synopsis">Closes guest agent sessions.</para>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "VMGuestSession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
public sealed class RemoveVMGuestSessionCommand : PSCmdlet
{
    /// <summary>The sessions to close.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public GuestSession[] Session { get; set; } = Array.Empty<GuestSession>();

    protected override void ProcessRecord()
    {
        foreach (var s in Session)
        {
            if (ShouldProcess(s.ToString(), "Close guest agent session"))
            {
                SessionRegistry.Remove(s);
                s.Dispose();
            }
        }
    }
}
