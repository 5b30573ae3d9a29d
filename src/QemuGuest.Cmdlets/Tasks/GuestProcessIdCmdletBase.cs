using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// The -Id parameter and the per-id loop shared by the cmdlets that work on guest programs
/// already started (Get-VMGuestProcess, Wait-VMGuestProcess).
/// </summary>
public abstract class GuestProcessIdCmdletBase : GuestCmdlet
{
    /// <summary>Process ids returned by Start-VMGuestProcess (or guest-exec).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Pid")]
    public long[] Id { get; set; } = Array.Empty<long>();

    /// <summary>
    /// The work per target: <paramref name="perId"/> for each id in turn, writing what it
    /// returns. A failure of one id (unknown, slow) is its error record; the other ids are
    /// still worked on.
    /// </summary>
    internal GuestOperation ForEachId(Func<GuestProcessEngine, long, CancellationToken, Task<object>> perId)
    {
        long[] ids = Id;
        return async context =>
        {
            GuestProcessEngine engine = context.CreateProcessEngine();
            foreach (long pid in ids)
            {
                try
                {
                    context.WriteObject(await perId(engine, pid, context.CancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is GuestProcessException or QgaCommandException)
                {
                    context.WriteError(ErrorTable.ToErrorRecord(ex, pid));
                }
            }
        };
    }
}
