using System.Collections;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Facade;

namespace QemuGuest.Cmdlets.Rpc;

/// <summary>
/// <para type="synopsis">Runs any guest agent command by name.</para>
/// <para type="description">Sends COMMAND with ARGUMENTS (a hashtable of the command's
/// argument names as the protocol spells them, e.g. @{ path = '/etc/hostname'; mode = 'r' })
/// and returns the agent's reply as objects. For commands the module has a cmdlet for, prefer
/// that cmdlet: it has typed parameters and formatted output.</para>
/// <para type="link">Get-VMGuestAgent</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Run a command by its wire name">
/// <code>PS C:\&gt; Invoke-VMGuestRpc -VMName web01 guest-get-host-name</code>
/// <para>Returns the reply of guest-get-host-name as an object with a host-name property.</para>
/// </example>
/// <example title="Pass arguments and handle commands without a reply">
/// <code>PS C:\&gt; Invoke-VMGuestRpc -VMName web01 guest-file-open @{ path = '/etc/hostname' }
/// PS C:\&gt; Invoke-VMGuestRpc -VMName web01 guest-shutdown @{ mode = 'reboot' } -NoResponse -WhatIf</code>
/// <para>The first line opens a file and returns its handle; the second shows what a reboot
/// request would do (guest-shutdown sends no reply on success, hence -NoResponse).</para>
/// </example>
/// <returns>The agent's reply: objects (PSCustomObject) for JSON objects, arrays enumerated, scalars as they are.</returns>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestRpc", DefaultParameterSetName = SessionParameterSet,
    SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PSObject))]
public sealed class InvokeVMGuestRpcCommand : GuestCmdlet
{
    /// <summary>The command's wire name, e.g. guest-info.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = string.Empty;

    /// <summary>The command's arguments by wire name.</summary>
    [Parameter(Position = 1)]
    public IDictionary? Arguments { get; set; }

    /// <summary>For commands that send no reply on success (guest-shutdown, guest-suspend-*).</summary>
    [Parameter]
    public SwitchParameter NoResponse { get; set; }

    protected override string? ShouldProcessAction => "Run guest agent command " + Command;

    protected override GuestOperation? CreateOperation()
    {
        string command = Command;
        var args = Arguments is null ? null : (IDictionary?)PlainValues.From(Arguments);
        bool noResponse = NoResponse.IsPresent;
        return async context =>
        {
            if (noResponse)
            {
                await DynamicRpc.InvokeWithoutResponseAsync(context.Channel, command, args, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
                return;
            }
            object? result = await DynamicRpc.InvokeAsync(context.Channel, command, args, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
            context.WriteObject(PlainValues.ToPowerShell(result));
        };
    }
}
