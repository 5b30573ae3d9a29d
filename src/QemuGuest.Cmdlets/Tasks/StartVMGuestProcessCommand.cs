using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Starts a program in the guest and returns at once with its process id.</para>
/// <para type="description">Use Wait-VMGuestProcess to collect its exit code and output, Get-VMGuestProcess to look at it.</para>
/// <para type="link">Wait-VMGuestProcess</para>
/// <para type="link">Get-VMGuestProcess</para>
/// <para type="link">Invoke-VMGuestCommand</para>
/// </summary>
/// <example title="Start a program and collect its result later">
/// <code>PS C:\&gt; $p = Start-VMGuestProcess -VMName web01 sh -ArgumentList '-c', 'sleep 1; echo done'
/// PS C:\&gt; $p | Wait-VMGuestProcess -Timeout 60</code>
/// <para>Starts the program and returns at once with its process id; Wait-VMGuestProcess collects
/// the exit code and output.</para>
/// </example>
/// <example title="Start the same program on several guests">
/// <code>PS C:\&gt; Start-VMGuestProcess -VMName web01, web02 sleep 2 | Wait-VMGuestProcess -Timeout 60</code>
/// <para>Each started process carries its VMName, so the wait goes back to the right guest.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Start, "VMGuestProcess", DefaultParameterSetName = SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestProcessInfo))]
public sealed class StartVMGuestProcessCommand : GuestProcessCmdletBase
{
    /// <summary>The program (PATH is searched by the agent).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("Path")]
    [ValidateNotNullOrEmpty]
    public string FilePath { get; set; } = string.Empty;

    /// <summary>Its arguments, passed as they are (no shell).</summary>
    [Parameter(Position = 1)]
    [Alias("Args")]
    public string[] ArgumentList { get; set; } = Array.Empty<string>();

    protected override string? ShouldProcessAction => "Start " + FilePath;

    protected override GuestOperation? CreateOperation()
    {
        string[] args = ArgumentList ?? Array.Empty<string>();
        GuestProcessStartInfo start = Capture(FilePath, args);
        return async context =>
        {
            GuestProcessEngine engine = context.CreateProcessEngine();
            long pid = await engine.StartAsync(start, context.CancellationToken).ConfigureAwait(false);
            context.WriteObject(new GuestProcessInfo
            {
                VMName = engine.TargetName,
                Pid = pid,
                FilePath = start.FilePath,
                ArgumentList = args,
                StartTime = DateTime.Now,
            });
        };
    }
}
