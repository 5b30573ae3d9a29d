using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Runs a program in the guest and waits for it: exit code, standard output and error as text.</para>
/// <para type="description">Output is decoded as UTF-8 on Linux guests and from the console code page on Windows
/// guests. A non-zero exit code is a result, not an error. -Timeout bounds the wait: the program
/// is then killed and a GuestCommandTimeout error is written.</para>
/// <para type="link">Invoke-VMGuestScript</para>
/// <para type="link">Start-VMGuestProcess</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Run a program and read its output">
/// <code>PS C:\&gt; Invoke-VMGuestCommand -VMName web01 uname '-a'</code>
/// <para>Runs uname -a in the guest and waits: the result shows the exit code, standard output and
/// standard error. Quote arguments that start with a dash, or PowerShell takes them for its own.</para>
/// </example>
/// <example title="Check a service on several guests, with a time limit">
/// <code>PS C:\&gt; $r = Invoke-VMGuestCommand -VMName web01, web02 -FilePath sh -ArgumentList '-c', 'test -d /srv' -Timeout 30
/// PS C:\&gt; $r | Where-Object ExitCode -ne 0 | Select-Object VMName, ExitCode, StdErr</code>
/// <para>Runs the check in both guests at once; a program still running after 30 seconds is killed
/// (error GuestCommandTimeout). A non-zero exit code is a result, so filter on ExitCode.</para>
/// </example>
/// <example title="Feed standard input and set the environment">
/// <code>PS C:\&gt; Invoke-VMGuestCommand -VMName web02 sort -InputObject 'pear', 'apple' -Environment @{ LC_ALL = 'C' }</code>
/// <para>Sends two lines to sort's standard input, with LC_ALL added to the agent's environment.</para>
/// </example>
/// <example title="Run in the background">
/// <code>PS C:\&gt; $job = Invoke-VMGuestCommand -VMName web01 sleep 2 -AsJob
/// PS C:\&gt; $job | Wait-Job -Timeout 60 | Receive-Job</code>
/// <para>Returns a job at once; Receive-Job gives the result when the program has ended.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestCommand", DefaultParameterSetName = SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestProcessResult), typeof(GuestJob))]
public sealed class InvokeVMGuestCommandCommand : GuestRunCmdletBase
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

    protected override string? ShouldProcessAction => "Run " + FilePath;

    protected override GuestOperation? CreateOperation()
    {
        GuestProcessStartInfo start = Capture(FilePath, ArgumentList ?? Array.Empty<string>());
        return RunAndWriteResult((engine, timeout, cancel) => engine.RunAsync(start, timeout, cancel));
    }
}
