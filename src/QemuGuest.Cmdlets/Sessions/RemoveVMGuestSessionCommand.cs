using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// <para type="synopsis">Closes guest agent sessions.</para>
/// <para type="description">Closes the connection of each session and forgets it: sessions piped
/// from Get-VMGuestSession or New-VMGuestSession, or chosen by -Id or by -Name (session or VM name,
/// wildcards allowed). A closed session given to a cmdlet later reports the error
/// SessionNotFound; an -Id, or a -Name without wildcards, that matches no open session is the
/// error SessionNotFound.</para>
/// <para type="link">New-VMGuestSession</para>
/// <para type="link">Get-VMGuestSession</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Close every session">
/// <code>PS C:\&gt; Get-VMGuestSession | Remove-VMGuestSession</code>
/// <para>Closes all sessions of this PowerShell process.</para>
/// </example>
/// <example title="Close sessions by name">
/// <code>PS C:\&gt; New-VMGuestSession -VMName web01, web02 | Out-Null
/// PS C:\&gt; Remove-VMGuestSession -Name web*</code>
/// <para>Closes every session whose name or VM name starts with web.</para>
/// </example>
/// <example title="Close one session by its number">
/// <code>PS C:\&gt; $s = New-VMGuestSession -VMName web02
/// PS C:\&gt; Remove-VMGuestSession -Id $s.Id
/// PS C:\&gt; $s.State</code>
/// <para>Closes the session with that Id; the session object now says Closed.</para>
/// </example>
/// <returns>None.</returns>
[Cmdlet(VerbsCommon.Remove, "VMGuestSession", DefaultParameterSetName = SessionSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
public sealed class RemoveVMGuestSessionCommand : PSCmdlet
{
    private const string SessionSet = "Session";
    private const string NameSet = "Name";
    private const string IdSet = "Id";

    /// <summary>The sessions to close (from the pipeline, or Get-VMGuestSession's output).</summary>
    [Parameter(ParameterSetName = SessionSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public GuestSession[] Session { get; set; } = Array.Empty<GuestSession>();

    /// <summary>Session or VM names of the sessions to close (wildcards allowed).</summary>
    [Parameter(ParameterSetName = NameSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VMNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    /// <summary>Ids of the sessions to close.</summary>
    [Parameter(ParameterSetName = IdSet, Mandatory = true, Position = 0)]
    public int[] Id { get; set; } = Array.Empty<int>();

    protected override void ProcessRecord()
    {
        IEnumerable<GuestSession> chosen = ParameterSetName switch
        {
            IdSet => SessionRegistry.Select(Id, null, WriteError),
            NameSet => SessionRegistry.Select(null, Name, WriteError),
            _ => Session,
        };
        foreach (var s in chosen)
        {
            if (ShouldProcess(s.ToString(), "Close guest agent session"))
            {
                SessionRegistry.Remove(s);
                s.Dispose();
            }
        }
    }
}
