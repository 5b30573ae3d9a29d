using System;
using System.Management.Automation;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// <para type="synopsis">Lists the open guest agent sessions.</para>
/// <para type="description">Returns the sessions opened by New-VMGuestSession in this
/// PowerShell process (all of them, or by Id, or by session or VM name with wildcards).
/// Sessions a cmdlet opened itself for -VMName are closed when that cmdlet ends and are not
/// listed.</para>
/// <para type="link">New-VMGuestSession</para>
/// <para type="link">Remove-VMGuestSession</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="List every open session">
/// <code>PS C:\&gt; Get-VMGuestSession</code>
/// <para>Shows Id, Name, VMName, ConnectionString and State of each open session.</para>
/// </example>
/// <example title="Use sessions by name">
/// <code>PS C:\&gt; Get-VMGuestSession -Name web* | Get-VMGuestHostName</code>
/// <para>Runs Get-VMGuestHostName through every session whose name or VM name starts with web.</para>
/// </example>
/// <example title="Find a session by its number">
/// <code>PS C:\&gt; $s = New-VMGuestSession -VMName web01
/// PS C:\&gt; Get-VMGuestSession -Id $s.Id | Format-List</code>
/// <para>Shows one session with all its properties.</para>
/// </example>
/// <returns>QemuGuest.Cmdlets.Sessions.GuestSession</returns>
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
        if (ParameterSetName == "All")
        {
            WriteObject(SessionRegistry.Snapshot(), enumerateCollection: true);
            return;
        }
        var chosen = ParameterSetName == "Id"
            ? SessionRegistry.Select(Id, null, WriteError)
            : SessionRegistry.Select(null, Name, WriteError);
        WriteObject(chosen, enumerateCollection: true);
    }
}
