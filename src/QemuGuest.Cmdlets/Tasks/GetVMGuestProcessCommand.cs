using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Looks at guest programs started with Start-VMGuestProcess: running or exited, and the exit code.</para>
/// <para type="description">The result of an exited program is kept for Wait-VMGuestProcess (the stock agent forgets it once reported).</para>
/// <para type="link">Start-VMGuestProcess</para>
/// <para type="link">Wait-VMGuestProcess</para>
/// </summary>
/// <example title="Look at a running program">
/// <code>PS C:\&gt; $p = Start-VMGuestProcess -VMName web01 sleep 2
/// PS C:\&gt; $p | Get-VMGuestProcess</code>
/// <para>Shows the process as Running (or Exited, with its exit code).</para>
/// </example>
/// <example title="Poll until a program has ended">
/// <code>PS C:\&gt; $s = New-VMGuestSession -VMName web02
/// PS C:\&gt; $p = Start-VMGuestProcess -Session $s sleep 1
/// PS C:\&gt; $deadline = (Get-Date).AddSeconds(30)
/// PS C:\&gt; while (($p | Get-VMGuestProcess -Session $s).State -eq 'Running' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 200 }
/// PS C:\&gt; $p | Wait-VMGuestProcess -Session $s</code>
/// <para>Polls with a bound, then collects the result, which Get-VMGuestProcess kept for
/// Wait-VMGuestProcess in the session (the stock agent forgets an exit once it has reported it,
/// so poll and wait through one session).</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "VMGuestProcess", DefaultParameterSetName = SessionParameterSet)]
[OutputType(typeof(GuestProcessInfo))]
public sealed class GetVMGuestProcessCommand : GuestProcessIdCmdletBase
{
    protected override GuestOperation? CreateOperation() => ForEachId(async (engine, pid, cancel) =>
    {
        GuestProcessState state = await engine.GetStateAsync(pid, cancel).ConfigureAwait(false);
        return new GuestProcessInfo
        {
            VMName = engine.TargetName,
            Pid = pid,
            State = state.Exited ? "Exited" : "Running",
            ExitCode = state.ExitCode,
        };
    });
}
