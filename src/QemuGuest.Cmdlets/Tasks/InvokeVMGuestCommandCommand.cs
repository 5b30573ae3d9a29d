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
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestCommand", DefaultParameterSetName = SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestProcessResult))]
public sealed class InvokeVMGuestCommandCommand : GuestProcessCmdletBase
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

    /// <summary>Seconds to wait for the program to exit (default: no limit).</summary>
    [Parameter]
    [ValidateRange(1, 31 * 86400)]
    public int Timeout { get; set; }

    protected override string? ShouldProcessAction => "Run " + FilePath;

    protected override GuestOperation? CreateOperation()
    {
        GuestProcessStartInfo start = Capture(FilePath, ArgumentList ?? Array.Empty<string>());
        TimeSpan? timeout = Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null;
        return async context =>
        {
            GuestProcessEngine engine = context.CreateProcessEngine();
            GuestProcessExit exit = await engine.RunAsync(start, timeout, context.CancellationToken).ConfigureAwait(false);
            context.WriteObject(GuestProcessResult.From(exit, engine.TargetName));
        };
    }
}
