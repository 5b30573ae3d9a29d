using System;
using System.Management.Automation;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Runs script text in the guest with bash, sh, PowerShell or cmd, and waits for it.</para>
/// <para type="description">The text is written to a new file in the guest's temporary folder (/tmp, or
/// C:\Windows\Temp), under a random name, created exclusively and readable by the agent's user only
/// (0700); the interpreter runs that file, so a script of any size works, and the file is removed
/// afterwards, also after a failure, a timeout, Ctrl+C or Stop-Job. Without -ScriptType the guest's
/// OS decides: PowerShell on Windows (powershell.exe), Bash elsewhere. PowerShell on Linux is pwsh;
/// Cmd (or PowerCLI's name, Bat) is cmd.exe. Standard input comes from -InputObject or the pipeline.
/// Results as for Invoke-VMGuestCommand.</para>
/// <para type="link">Invoke-VMGuestCommand</para>
/// <para type="link">about_QemuGuest</para>
/// </summary>
/// <example title="Run a shell script">
/// <code>PS C:\&gt; Invoke-VMGuestScript -VMName web01 'df -h / &amp;&amp; uptime'</code>
/// <para>Runs the text with bash -c in the guest and returns its exit code and output.</para>
/// </example>
/// <example title="A longer script, with sh, on several guests">
/// <code>PS C:\&gt; $script = @'
/// for d in /srv /tmp; do
///   printf '%s %s\n' "$d" "$(ls -A "$d" | wc -l)"
/// done
/// '@
/// PS C:\&gt; Invoke-VMGuestScript -VMName web01, web02 -ScriptText $script -ScriptType Sh -Timeout 60 | Format-Table VMName, ExitCode, StdOut</code>
/// <para>Counts the entries of two folders in each guest with sh; -Timeout bounds each run.</para>
/// </example>
/// <example title="Feed the script lines from the pipeline">
/// <code>PS C:\&gt; 'b', 'a' | Invoke-VMGuestScript -VMName web01 'sort; echo "sorted by $0"'</code>
/// <para>The piped lines are the script's standard input; $0 is the script's temporary file.</para>
/// </example>
/// <example title="Run in the background">
/// <code>PS C:\&gt; Invoke-VMGuestScript -VMName web02 'sleep 1; hostname' -AsJob | Wait-Job -Timeout 60 | Receive-Job</code>
/// <para>Starts the script as a job and collects its result.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestScript", DefaultParameterSetName = SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestProcessResult), typeof(GuestJob))]
public sealed class InvokeVMGuestScriptCommand : GuestRunCmdletBase
{
    public enum GuestScriptType
    {
        Bash,
        Sh,
        PowerShell,
        Cmd,

        /// <summary>PowerCLI's Invoke-VMScript name for cmd.exe scripts.</summary>
        Bat = Cmd,
    }

    /// <summary>The script's text.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string ScriptText { get; set; } = string.Empty;

    /// <summary>The interpreter: Bash, Sh, PowerShell, Cmd (alias Bat). Default: PowerShell on Windows guests, Bash on others.</summary>
    [Parameter]
    public GuestScriptType ScriptType { get; set; } = GuestScriptType.Bash;

    private bool ScriptTypeGiven => MyInvocation.BoundParameters.ContainsKey(nameof(ScriptType));

    protected override string? ShouldProcessAction => ScriptTypeGiven ? $"Run a {Language(ScriptType)} script" : "Run a script";

    protected override GuestOperation? CreateOperation()
    {
        string text = ScriptText;
        GuestScriptLanguage? language = ScriptTypeGiven ? Language(ScriptType) : null;
        GuestProcessStartInfo extras = Capture(string.Empty, Array.Empty<string>());
        return RunAndWriteResult((engine, timeout, cancel) => engine.RunScriptAsync(extras, language, text, timeout, cancel));
    }

    // The parameter's type stays this cmdlet's own (scripts may name it); the engine has its own.
    private static GuestScriptLanguage Language(GuestScriptType type) => type switch
    {
        GuestScriptType.Bash => GuestScriptLanguage.Bash,
        GuestScriptType.Sh => GuestScriptLanguage.Sh,
        GuestScriptType.Cmd => GuestScriptLanguage.Cmd,
        GuestScriptType.PowerShell => GuestScriptLanguage.PowerShell,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
