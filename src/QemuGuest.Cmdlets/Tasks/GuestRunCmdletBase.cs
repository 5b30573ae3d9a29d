using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// Parameters and work shared by the cmdlets that run a guest program and wait for its result
/// (Invoke-VMGuestCommand, Invoke-VMGuestScript): -Timeout, -AsJob, and run-then-write-result.
/// </summary>
public abstract class GuestRunCmdletBase : GuestProcessCmdletBase
{
    /// <summary>Seconds to wait for the program to exit (default: no limit).</summary>
    [Parameter]
    [ValidateRange(1, GuestProcessWait.MaxSeconds)]
    public int Timeout { get; set; }

    /// <summary>
    /// Runs as a background job in this process and returns the job at once: Receive-Job gives
    /// the results and errors, Wait-Job waits, Stop-Job stops it like Ctrl+C. -WhatIf and
    /// -Confirm are answered for the job as a whole, before it starts.
    /// </summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    protected override bool AsJobRequested => AsJob.IsPresent;

    /// <summary>
    /// The work per target: run the program (or script) within -Timeout (then it is killed),
    /// write its result.
    /// </summary>
    internal GuestOperation RunAndWriteResult(Func<GuestProcessEngine, TimeSpan?, CancellationToken, Task<GuestProcessExit>> run)
    {
        TimeSpan? timeout = GuestProcessWait.Limit(Timeout);
        return async context =>
        {
            GuestProcessEngine engine = context.CreateProcessEngine();
            GuestProcessExit exit = await run(engine, timeout, context.CancellationToken).ConfigureAwait(false);
            context.WriteObject(GuestProcessResult.From(exit, engine.TargetName));
        };
    }
}
