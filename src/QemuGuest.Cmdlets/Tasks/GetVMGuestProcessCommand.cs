using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Looks at guest programs started with Start-VMGuestProcess: running or exited, and the exit code.</para>
/// <para type="description">The result of an exited program is kept for Wait-VMGuestProcess (the stock agent forgets it once reported).</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "VMGuestProcess", DefaultParameterSetName = SessionParameterSet)]
[OutputType(typeof(GuestProcessInfo))]
public sealed class GetVMGuestProcessCommand : GuestCmdlet
{
    /// <summary>Process ids returned by Start-VMGuestProcess.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Pid")]
    public long[] Id { get; set; } = Array.Empty<long>();

    protected override GuestOperation? CreateOperation()
    {
        long[] ids = Id;
        return async context =>
        {
            GuestProcessEngine engine = context.CreateProcessEngine();
            foreach (long pid in ids)
            {
                try
                {
                    GuestProcessState state = await engine.GetStateAsync(pid, context.CancellationToken).ConfigureAwait(false);
                    context.WriteObject(new GuestProcessInfo
                    {
                        VMName = engine.TargetName,
                        Pid = pid,
                        State = state.Exited ? "Exited" : "Running",
                        ExitCode = state.ExitCode,
                    });
                }
                catch (Exception ex) when (ex is GuestProcessException or QgaCommandException)
                {
                    // One unknown process; the other ids are still looked at.
                    context.WriteError(ErrorTable.ToErrorRecord(ex, pid));
                }
            }
        };
    }
}
