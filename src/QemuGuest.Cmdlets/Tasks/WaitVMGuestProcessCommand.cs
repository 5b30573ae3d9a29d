using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Waits for guest programs started with Start-VMGuestProcess and returns their results.</para>
/// <para type="description">Pipe Start-VMGuestProcess's output into it, or give -Id. -Timeout bounds the
/// wait; on timeout the program keeps running (unless -Kill) and a GuestCommandTimeout error is written.</para>
/// <para type="link">Start-VMGuestProcess</para>
/// <para type="link">Get-VMGuestProcess</para>
/// </summary>
/// <example title="Wait for a started program">
/// <code>PS C:\&gt; Start-VMGuestProcess -VMName web01 uname '-r' | Wait-VMGuestProcess</code>
/// <para>Waits for the program and returns its exit code and output.</para>
/// </example>
/// <example title="Wait with a bound and stop a program that hangs">
/// <code>PS C:\&gt; $p = Start-VMGuestProcess -VMName web02 sleep 300
/// PS C:\&gt; $p | Wait-VMGuestProcess -Timeout 2 -Kill -ErrorAction SilentlyContinue -ErrorVariable late
/// PS C:\&gt; $late.FullyQualifiedErrorId</code>
/// <para>After two seconds the wait gives up with GuestCommandTimeout and, with -Kill, ends the program.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Wait, "VMGuestProcess", DefaultParameterSetName = SessionParameterSet)]
[OutputType(typeof(GuestProcessResult))]
public sealed class WaitVMGuestProcessCommand : GuestProcessIdCmdletBase
{
    /// <summary>Seconds to wait (default: no limit).</summary>
    [Parameter]
    [ValidateRange(1, GuestProcessWait.MaxSeconds)]
    public int Timeout { get; set; }

    /// <summary>Kill a program that is still running when -Timeout passes.</summary>
    [Parameter]
    public SwitchParameter Kill { get; set; }

    protected override GuestOperation? CreateOperation()
    {
        TimeSpan? timeout = GuestProcessWait.Limit(Timeout);
        bool kill = Kill.IsPresent;
        return ForEachId(async (engine, pid, cancel) =>
        {
            GuestProcessExit exit = await engine.WaitAsync(pid, timeout, kill, cancel).ConfigureAwait(false);
            return GuestProcessResult.From(exit, engine.TargetName);
        });
    }
}
