using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Remoting;
using System.Management.Automation.Runspaces;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Remoting;

/// <summary>
/// <para type="synopsis">Runs a script block in PowerShell in one or more guests and returns its objects: PowerShell Direct, one shot.</para>
/// <para type="description">For each guest, starts PowerShell in server mode through QemuGuest's agent (as
/// New-VMGuestPSSession does), runs the script block there, returns its output as deserialised objects
/// tagged with VMName and PSComputerName, and stops that PowerShell again. Guests are worked on at
/// once, up to -ThrottleLimit. -ArgumentList values are the script block's arguments ($args or its
/// param block); $using:name takes a value from this side, as with Invoke-Command. The guest's
/// error, warning, verbose, debug, information and progress records arrive as such; each error
/// record carries the VMName it came from. A guest that fails (no QemuGuest agent, no PowerShell, a
/// terminating error, PowerShell ending) is an error record for that guest; the others carry on.
/// Ctrl+C stops the script block in every guest and their PowerShell. Needs PowerShell 7.6 or later on
/// this side. Security: whoever can open the VM's agent channel or relay endpoint runs PowerShell
/// as the agent's user in the guest (usually root or SYSTEM); a policy that denies exec denies this.
/// See about_QemuGuest_PSDirect.</para>
/// <para type="link">New-VMGuestPSSession</para>
/// <para type="link">Invoke-Command</para>
/// <para type="link">about_QemuGuest_PSDirect</para>
/// </summary>
/// <example title="Ask several guests at once">
/// <code>PS C:\&gt; Invoke-VMGuestScriptBlock -VMName web01 { Get-Process | Sort-Object WorkingSet64 -Descending | Select-Object -First 3 Name, Id } | Format-Table VMName, Name, Id</code>
/// <para>Returns each guest's three largest processes as objects, with the VM's name on each. Give several
/// names (-VMName web01, web02) or a pattern (web*) to ask them all at once, -ThrottleLimit at a time.</para>
/// </example>
/// <example title="Pass values in">
/// <code>PS C:\&gt; $folder = '/srv'
/// PS C:\&gt; Invoke-VMGuestScriptBlock -VMName web01 -ArgumentList 2 { param($depth) Get-ChildItem $using:folder -Depth $depth | Measure-Object | Select-Object -ExpandProperty Count }</code>
/// <para>-ArgumentList binds the script block's parameters; $using:folder is the local variable's value.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestScriptBlock", DefaultParameterSetName = VMNameParameterSet)]
[OutputType(typeof(PSObject))]
public sealed class InvokeVMGuestScriptBlockCommand : GuestCmdlet
{
    // Names of the wrapper's own parameters in the guest: unlikely to clash with a script's.
    private const string ArgumentsParameter = "__QemuGuestArguments";
    private const string UsingParameterPrefix = "__QemuGuestUsing";

    /// <summary>How long the end of each run may take: the close handshake, then stopping the guest's PowerShell.</summary>
    private static readonly TimeSpan CloseBound = TimeSpan.FromSeconds(15);

    /// <summary>The script block to run in each guest.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNull]
    public ScriptBlock ScriptBlock { get; set; } = null!;

    /// <summary>Arguments of the script block ($args, or its param block in order).</summary>
    [Parameter]
    [Alias("Args")]
    public object[] ArgumentList { get; set; } = Array.Empty<object>();

    /// <summary>PowerShell in the guest: a path, or a name on the agent's PATH; default pwsh.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string PowerShellPath { get; set; } = "pwsh";

    /// <summary>Seconds to wait for each guest's PowerShell to open the session (it may be slow to start in a cold guest).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int OpenTimeoutSec { get; set; } = 120;

    protected override void BeginProcessing()
    {
        PSDirectLoader.RequireSupportedPowerShell(this, "Invoke-VMGuestScriptBlock");
        base.BeginProcessing();
    }

    protected override GuestOperation? CreateOperation()
    {
        // Read this side's values now, on the pipeline thread, in the caller's scope.
        var (script, usingValues) = GuestScriptText.Prepare(ScriptBlock, EvaluateUsing);
        object[] arguments = ArgumentList ?? Array.Empty<object>();
        string program = PowerShellPath;
        TimeSpan openTimeout = TimeSpan.FromSeconds(OpenTimeoutSec);
        return async context =>
        {
            var session = context.Session;
            GuestStdioStream stdio = await GuestStdioStream.StartAsync(session.Channel, session.Facts, context.CallOptions, session.TargetName, program,
                PSDirectLoader.ServerArguments, null, context.CancellationToken).ConfigureAwait(false);
            // No host: the guest's PowerShell then shows nothing itself and sends every record
            // (Write-Host's too) as a stream record, which reaches the caller once, tagged with the
            // VM. Prompting in the guest (Read-Host) is an error: use New-VMGuestPSSession for that.
            Runspace runspace;
            try
            {
                // Ctrl+C while the guest's PowerShell starts: ending the program ends the opening.
                using (context.CancellationToken.Register(() => Task.Run(stdio.Dispose)))
                {
                    runspace = await Task.Run(() => PSDirectLoader.OpenRunspace(stdio, session.TargetName, stdio.DescribeEnd, null, openTimeout)).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                stdio.Dispose();
                context.CancellationToken.ThrowIfCancellationRequested();
                throw ErrorTable.Fail(ErrorTable.GuestPSSessionFailed, ErrorCategory.OpenError,
                    "Could not open a PowerShell session in " + session.TargetName + ": " + ex.Message, session.TargetName, ex);
            }

            try
            {
                await RunAsync(runspace, script, arguments, usingValues, context).ConfigureAwait(false);
            }
            finally
            {
                await Task.Run(() => Close(runspace, stdio)).ConfigureAwait(false);
            }
        };
    }

    private object? EvaluateUsing(UsingExpressionAst expression, string localText, string variableName)
    {
        if (expression.SubExpression is VariableExpressionAst)
        {
            PSVariable? variable = SessionState.PSVariable.Get(variableName);
            if (variable is null)
            {
                ThrowTerminatingError(ErrorTable.Create(ErrorTable.UsingVariableUndefined, ErrorCategory.InvalidOperation,
                    "The script block uses $using:" + variableName + ", but there is no variable '" + variableName + "' here.", variableName));
            }
            return variable!.Value;
        }
        // $using:x.Name, $using:x[0]: the expression, with the local variable, evaluated here.
        var values = InvokeCommand.InvokeScript(false, ScriptBlock.Create(localText), null);
        return values.Count switch
        {
            0 => null,
            1 => values[0],
            _ => values.ToArray(),
        };
    }

    private static async Task RunAsync(Runspace runspace, string script, object[] arguments, IReadOnlyList<object?> usingValues, GuestOperationContext context)
    {
        string target = context.Session.TargetName;
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript(script).AddParameter(ArgumentsParameter, arguments);
        for (int i = 0; i < usingValues.Count; i++)
        {
            ps.AddParameter(UsingParameterPrefix + i, usingValues[i]);
        }

        // Each record goes to the pipeline thread as it arrives (the queue there is bounded, so a
        // guest that talks faster than the caller reads waits); ReadAll keeps nothing here.
        var output = new PSDataCollection<PSObject>();
        output.DataAdded += (_, _) =>
        {
            foreach (PSObject item in output.ReadAll())
            {
                if (item is null)
                {
                    continue;
                }
                if (item.Properties["PSComputerName"] is null)
                {
                    item.Properties.Add(new PSNoteProperty("PSComputerName", target));
                }
                context.WriteObject(item);
            }
        };
        ps.Streams.Error.DataAdded += (_, _) => Forward(ps.Streams.Error, context.WriteError);
        ps.Streams.Warning.DataAdded += (_, _) => Forward(ps.Streams.Warning, r => context.WriteWarning(r.Message));
        ps.Streams.Verbose.DataAdded += (_, _) => Forward(ps.Streams.Verbose, r => context.WriteVerbose(r.Message));
        ps.Streams.Debug.DataAdded += (_, _) => Forward(ps.Streams.Debug, r => context.WriteDebug(r.Message));
        ps.Streams.Information.DataAdded += (_, _) => Forward(ps.Streams.Information, context.WriteInformation);
        ps.Streams.Progress.DataAdded += (_, _) => Forward(ps.Streams.Progress, context.WriteProgress);

        IAsyncResult running = ps.BeginInvoke<PSObject, PSObject>(null, output);
        // Ctrl+C stops the guest's pipeline the way Invoke-Command does; EndInvoke then reports the stop.
        using (context.CancellationToken.Register(() => ps.BeginStop(null, null)))
        {
            try
            {
                await Task.Factory.FromAsync(running, ps.EndInvoke).ConfigureAwait(false);
            }
            catch (PipelineStoppedException) when (context.CancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(context.CancellationToken);
            }
            catch (RuntimeException ex) when (ex.ErrorRecord is { } record && runspace.RunspaceStateInfo.State == RunspaceState.Opened)
            {
                // A terminating error of the script block in the guest: reported as the guest's
                // record (its ErrorId and message), for this VM only.
                context.WriteError(new ErrorRecord(record, ex));
                return;
            }
            catch (Exception ex) when (runspace.RunspaceStateInfo.State != RunspaceState.Opened)
            {
                string reason = runspace.RunspaceStateInfo.Reason?.Message ?? ex.Message;
                throw ErrorTable.Fail(ErrorTable.GuestPSSessionBroken, ErrorCategory.ConnectionError,
                    "PowerShell in " + target + " ended while the script block ran: " + reason, target, ex);
            }
        }
    }

    private static void Forward<T>(PSDataCollection<T> stream, Action<T> write)
    {
        foreach (T record in stream.ReadAll())
        {
            write(record);
        }
    }

    /// <summary>
    /// Ends the guest's PowerShell: the close handshake while it answers, then the program itself
    /// (standard input closed, its process group killed), each bounded, so no process is left.
    /// </summary>
    private static void Close(Runspace runspace, GuestStdioStream stdio)
    {
        using var closed = new ManualResetEventSlim();
        runspace.StateChanged += (_, e) =>
        {
            if (e.RunspaceStateInfo.State is RunspaceState.Closed or RunspaceState.Broken)
            {
                closed.Set();
            }
        };
        if (runspace.RunspaceStateInfo.State == RunspaceState.Opened)
        {
            try
            {
                runspace.CloseAsync();
                closed.Wait(CloseBound);
            }
            catch (Exception ex) when (ex is InvalidRunspaceStateException or PSRemotingTransportException)
            {
                // Already broken: the program is ended below either way.
            }
        }
        stdio.Dispose();
        runspace.Dispose();
    }
}

/// <summary>
/// The text a guest runs for a script block: Invoke-Command's $using: without its private
/// protocol. Each $using: expression becomes a parameter of a wrapper that calls the script block
/// with the caller's arguments, so only public PowerShell API is needed on both sides.
/// </summary>
internal static class GuestScriptText
{
    /// <summary>
    /// Returns the wrapper's text and the value of each $using: expression, in the order of the
    /// wrapper's parameters. <paramref name="evaluate"/> gets the expression, its text with the
    /// local variable in place of $using:, and the variable's name.
    /// </summary>
    internal static (string Script, IReadOnlyList<object?> UsingValues) Prepare(ScriptBlock scriptBlock, Func<UsingExpressionAst, string, string, object?> evaluate)
    {
        Ast ast = scriptBlock.Ast;
        string text = ast.Extent.Text;
        int origin = ast.Extent.StartOffset;
        var usings = ast.FindAll(a => a is UsingExpressionAst, searchNestedScriptBlocks: true)
            .Cast<UsingExpressionAst>()
            .OrderBy(u => u.Extent.StartOffset)
            .ToList();

        var values = new List<object?>(usings.Count);
        var body = new StringBuilder(text.Length + 64);
        int copied = 0;
        foreach (UsingExpressionAst u in usings)
        {
            int start = u.Extent.StartOffset - origin;
            if (start < copied)
            {
                continue;
            }
            VariableExpressionAst variable = UsingExpressionAst.ExtractUsingVariable(u);
            string name = variable.VariablePath.UserPath;
            int colon = name.IndexOf(':');
            name = colon >= 0 ? name.Substring(colon + 1) : name;

            string sub = u.SubExpression.Extent.Text;
            int varStart = variable.Extent.StartOffset - u.SubExpression.Extent.StartOffset;
            string local = sub.Substring(0, varStart) + "${" + name.Replace("`", "``").Replace("}", "`}") + "}" + sub.Substring(varStart + variable.Extent.Text.Length);

            body.Append(text, copied, start - copied);
            body.Append("$" + "__QemuGuestUsing" + values.Count);
            values.Add(evaluate(u, local, name));
            copied = start + u.Extent.Text.Length;
        }
        body.Append(text, copied, text.Length - copied);

        string block = body.ToString();
        // A script block literal's text has its braces; one made by ScriptBlock.Create has none.
        if (ast.Parent is not ScriptBlockExpressionAst)
        {
            block = "{\n" + block + "\n}";
        }
        var wrapper = new StringBuilder();
        wrapper.Append("param($__QemuGuestArguments");
        for (int i = 0; i < values.Count; i++)
        {
            wrapper.Append(", $__QemuGuestUsing").Append(i);
        }
        wrapper.Append(")\n& ").Append(block).Append(" @__QemuGuestArguments\n");
        return (wrapper.ToString(), values);
    }
}
