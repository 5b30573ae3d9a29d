using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

// The PowerShell shape of every command, decided once from the checked schema and the overlay
// (schema/qga.powershell.json), and read by the "cmdlets" and "help" backends. Value-equal, so
// it can sit inside the cached GenerationModel.

/// <summary>The whole plan: one cmdlet per schema command, in schema order.</summary>
internal sealed record CmdletPlan(EquatableArray<CmdletInfo> Cmdlets)
{
    public CmdletInfo? Find(string command)
    {
        foreach (var c in Cmdlets)
        {
            if (c.Command == command)
            {
                return c;
            }
        }
        return null;
    }
}
