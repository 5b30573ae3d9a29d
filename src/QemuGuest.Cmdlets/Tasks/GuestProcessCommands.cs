using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>A guest program that finished: exit code (or signal) and its output as text.</summary>
public sealed class GuestProcessResult
{
    public string VMName { get; internal set; } = string.Empty;

    public long Pid { get; internal set; }

    public string FilePath { get; internal set; } = string.Empty;

    /// <summary>The exit code; null when a signal ended the process (see Signal).</summary>
    public int? ExitCode { get; internal set; }

    public int? Signal { get; internal set; }

    public string StdOut { get; internal set; } = string.Empty;

    public string StdErr { get; internal set; } = string.Empty;

    /// <summary>The agent kept only the first part of the output (16 MiB per stream for the stock agent).</summary>
    public bool StdOutTruncated { get; internal set; }

    public bool StdErrTruncated { get; internal set; }

    /// <summary>From start (or from the wait, for processes started elsewhere) to the exit being seen.</summary>
    public TimeSpan Duration { get; internal set; }
}

/// <summary>A guest program started by Start-VMGuestProcess.</summary>
public sealed class GuestProcessInfo
{
    public string VMName { get; internal set; } = string.Empty;

    public long Pid { get; internal set; }

    public string FilePath { get; internal set; } = string.Empty;

    public string[] ArgumentList { get; internal set; } = Array.Empty<string>();

    public DateTime StartTime { get; internal set; }

    /// <summary>Exited / Running (as of the last look).</summary>
    public string State { get; internal set; } = "Running";

    public int? ExitCode { get; internal set; }
}

/// <summary>
/// Shared by the process cmdlets: building the guest-exec call (environment, working folder),
/// waiting with a bound, decoding output, remembering exits (the stock agent forgets a process
/// once it reported its exit, so Get- followed by Wait- must not lose it).
/// </summary>
internal static class GuestProcesses
{
    public static ConcurrentDictionary<long, ExecOutcome> Exited(GuestOperationContext context) => context.Session.Facts.ExitedProcesses;

    public static byte[]? InputBytes(object? input)
    {
        object? value = input is PSObject ps ? ps.BaseObject : input;
        return value switch
        {
            null => null,
            byte[] bytes => bytes,
            string s => new UTF8Encoding(false).GetBytes(s),
            IEnumerable e => new UTF8Encoding(false).GetBytes(JoinLines(e)),
            _ => new UTF8Encoding(false).GetBytes(LanguagePrimitives.ConvertTo<string>(value)),
        };
    }

    private static string JoinLines(IEnumerable items)
    {
        var sb = new StringBuilder();
        foreach (var item in items)
        {
            sb.Append(item is PSObject p ? p.BaseObject : item).Append('\n');
        }
        return sb.ToString();
    }

    public static async Task<long> StartAsync(GuestOperationContext context, AgentProfile profile, string path, string[] args,
        IDictionary? environment, string? workingDirectory, byte[]? stdin)
    {
        var commands = new GuestAgentCommands(context.Channel);
        CancellationToken ct = context.CancellationToken;
        string? target = context.Session.TargetName;
        var env = new List<string>();
        if (environment is not null)
        {
            foreach (DictionaryEntry e in environment)
            {
                string key = LanguagePrimitives.ConvertTo<string>(e.Key);
                if (key.Length == 0 || key.IndexOf('=') >= 0)
                {
                    throw ErrorTable.Fail(ErrorTable.InvalidArgument, ErrorCategory.InvalidArgument, $"'{key}' is not a valid environment variable name.", key);
                }
                env.Add(key + "=" + LanguagePrimitives.ConvertTo<string>(e.Value));
            }
        }

        bool needsExtras = env.Count > 0 || !string.IsNullOrEmpty(workingDirectory);
        if (needsExtras && profile.Has(AgentProfile.ExecStart))
        {
            // Our agent: working folder and inherited-plus-given environment natively.
            string? input = stdin is { Length: > 0 } ? Convert.ToBase64String(stdin) : null;
            var started = await commands.GuestExecStartAsync(path, args, env.Count > 0 ? env : null, input, true,
                string.IsNullOrEmpty(workingDirectory) ? null : workingDirectory, null, null, true, context.CallOptions, ct).ConfigureAwait(false);
            return started.Pid;
        }
        if (!profile.CanExec)
        {
            throw ErrorTable.Fail(ErrorTable.AgentFeatureUnavailable, ErrorCategory.NotImplemented,
                "The agent does not offer guest-exec (or its policy disabled it).", target);
        }
        if (needsExtras && profile.IsWindows)
        {
            throw ErrorTable.Fail(ErrorTable.AgentFeatureUnavailable, ErrorCategory.NotImplemented,
                "-Environment and -WorkingDirectory need QemuGuest's agent on Windows guests (the stock agent's guest-exec has neither).", target);
        }
        if (needsExtras)
        {
            // Stock agent on POSIX: its env replaces the whole environment and it has no working
            // folder, so wrap: sh changes folder, env adds variables to the agent's environment.
            var wrapped = new List<string>();
            string shell = "env";
            if (!string.IsNullOrEmpty(workingDirectory))
            {
                shell = "sh";
                wrapped.Add("-c");
                wrapped.Add("cd -- \"$1\" || exit 126; shift; exec \"$@\"");
                wrapped.Add("sh");
                wrapped.Add(workingDirectory!);
                wrapped.Add("env");
            }
            wrapped.AddRange(env);
            wrapped.Add(path);
            wrapped.AddRange(args);
            return await GuestExecRunner.StartAsync(commands, shell, wrapped, null, stdin, context.CallOptions, ct).ConfigureAwait(false);
        }
        return await GuestExecRunner.StartAsync(commands, path, args, null, stdin, context.CallOptions, ct).ConfigureAwait(false);
    }

    /// <summary>Waits for a guest process; on timeout kills it and throws GuestCommandTimeout.</summary>
    public static async Task<GuestProcessResult> WaitAsync(GuestOperationContext context, AgentProfile profile, long pid, string filePath, TimeSpan? timeout, Stopwatch clock)
    {
        var commands = new GuestAgentCommands(context.Channel);
        string target = context.Session.TargetName;
        ExecOutcome? outcome;
        if (Exited(context).TryRemove(pid, out var remembered))
        {
            outcome = remembered;
        }
        else
        {
            try
            {
                outcome = await GuestExecRunner.WaitAsync(commands, pid, timeout, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
            }
            catch (QgaGenericErrorException ex) when (ex.Description.IndexOf("PID", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                throw ErrorTable.Fail(ErrorTable.GuestProcessNotFound, ErrorCategory.ObjectNotFound,
                    $"The agent knows no process {pid} (the stock agent forgets one once its exit was reported).", pid, ex);
            }
        }
        if (outcome is null)
        {
            bool killed = await GuestExecRunner.KillAsync(commands, profile, pid, context.CallOptions).ConfigureAwait(false);
            throw ErrorTable.Fail(ErrorTable.GuestCommandTimeout, ErrorCategory.OperationTimeout,
                $"'{filePath}' (pid {pid}) did not exit within {timeout!.Value.TotalSeconds:0.###} s; " + (killed ? "it was killed." : "it could not be killed and may still run."), target);
        }
        Encoding encoding = await OutputEncodingAsync(context, profile).ConfigureAwait(false);
        return new GuestProcessResult
        {
            VMName = target,
            Pid = pid,
            FilePath = filePath,
            ExitCode = outcome.ExitCode is long code ? (int)code : null,
            Signal = outcome.Signal is long sig ? (int)sig : null,
            StdOut = encoding.GetString(outcome.StdOut),
            StdErr = encoding.GetString(outcome.StdErr),
            StdOutTruncated = outcome.StdOutTruncated,
            StdErrTruncated = outcome.StdErrTruncated,
            Duration = clock.Elapsed,
        };
    }

    /// <summary>UTF-8 on POSIX guests; on Windows guests the console (OEM) code page that chcp reports.</summary>
    private static async Task<Encoding> OutputEncodingAsync(GuestOperationContext context, AgentProfile profile)
    {
        if (!profile.IsWindows)
        {
            return new UTF8Encoding(false);
        }
        if (context.Session.Facts.WindowsEncoding is Encoding cached)
        {
            return cached;
        }
        Encoding encoding = new UTF8Encoding(false);
        try
        {
            var commands = new GuestAgentCommands(context.Channel);
            var o = await GuestExecRunner.RunToolAsync(commands, profile, "cmd.exe", new[] { "/c", "chcp" }, "chcp", context.CallOptions, context.CancellationToken, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            string text = Encoding.ASCII.GetString(o.StdOut);
            var digits = new StringBuilder();
            for (int i = text.Length - 1; i >= 0; i--)
            {
                if (char.IsDigit(text[i]))
                {
                    digits.Insert(0, text[i]);
                }
                else if (digits.Length > 0)
                {
                    break;
                }
            }
            if (int.TryParse(digits.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int cp) && cp != 65001)
            {
                encoding = Encoding.GetEncoding(cp);
            }
        }
        catch (Exception ex) when (ex is QgaException or TransferException or ArgumentException or NotSupportedException)
        {
            // Unknown code page: fall back to UTF-8.
        }
        context.Session.Facts.WindowsEncoding = encoding;
        return encoding;
    }
}

/// <summary>Parameters shared by the cmdlets that start guest programs.</summary>
public abstract class GuestProcessCmdletBase : GuestCmdlet
{
    /// <summary>Standard input for the program: a string (sent as UTF-8), string[] (one line each) or byte[].</summary>
    [Parameter]
    public object? InputObject { get; set; }

    /// <summary>Variables added to the agent's environment (NAME = value).</summary>
    [Parameter]
    public IDictionary? Environment { get; set; }

    /// <summary>The folder the program starts in (QemuGuest's agent; POSIX guests with a stock agent through sh).</summary>
    [Parameter]
    public string? WorkingDirectory { get; set; }

    internal sealed class StartSpec
    {
        public string Path = string.Empty;
        public string[] Args = Array.Empty<string>();
        public IDictionary? Environment;
        public string? WorkingDirectory;
        public byte[]? Stdin;
    }

    internal StartSpec Capture(string path, string[] args) => new()
    {
        Path = path,
        Args = args,
        Environment = Environment is null ? null : new Hashtable(Environment),
        WorkingDirectory = WorkingDirectory,
        Stdin = GuestProcesses.InputBytes(InputObject),
    };
}

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
        var spec = Capture(FilePath, ArgumentList ?? Array.Empty<string>());
        TimeSpan? timeout = Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null;
        return context => GuestProcessTasks.RunAndWaitAsync(context, spec, timeout);
    }
}

/// <summary>
/// <para type="synopsis">Runs script text in the guest with bash, sh, PowerShell or cmd, and waits for it.</para>
/// <para type="description">Bash and Sh run the text with -c; PowerShell runs it with -EncodedCommand
/// (pwsh on Linux, powershell.exe on Windows); Cmd runs it with cmd.exe /c. Results as for Invoke-VMGuestCommand.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "VMGuestScript", DefaultParameterSetName = SessionParameterSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(GuestProcessResult))]
public sealed class InvokeVMGuestScriptCommand : GuestProcessCmdletBase
{
    public enum GuestScriptType
    {
        Bash,
        Sh,
        PowerShell,
        Cmd,
    }

    /// <summary>The script's text.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string ScriptText { get; set; } = string.Empty;

    /// <summary>The interpreter (default Bash).</summary>
    [Parameter]
    public GuestScriptType ScriptType { get; set; } = GuestScriptType.Bash;

    /// <summary>Seconds to wait for the script to finish (default: no limit).</summary>
    [Parameter]
    [ValidateRange(1, 31 * 86400)]
    public int Timeout { get; set; }

    protected override string? ShouldProcessAction => $"Run a {ScriptType} script";

    protected override GuestOperation? CreateOperation()
    {
        string text = ScriptText;
        GuestScriptType type = ScriptType;
        TimeSpan? timeout = Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null;
        var baseSpec = Capture(string.Empty, Array.Empty<string>());
        return async context =>
        {
            var profile = await context.Session.Facts.GetProfileAsync(context.Channel, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
            string encoded = Convert.ToBase64String(Encoding.Unicode.GetBytes(text));
            (baseSpec.Path, baseSpec.Args) = type switch
            {
                GuestScriptType.Bash => ("bash", new[] { "-c", text }),
                GuestScriptType.Sh => ("sh", new[] { "-c", text }),
                GuestScriptType.Cmd => ("cmd.exe", new[] { "/c", text }),
                _ => profile.IsWindows
                    ? ("powershell.exe", new[] { "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded })
                    : ("pwsh", new[] { "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded }),
            };
            await GuestProcessTasks.RunAndWaitAsync(context, baseSpec, timeout).ConfigureAwait(false);
        };
    }
}

internal static class GuestProcessTasks
{
    public static async Task RunAndWaitAsync(GuestOperationContext context, GuestProcessCmdletBase.StartSpec spec, TimeSpan? timeout)
    {
        var profile = await context.Session.Facts.GetProfileAsync(context.Channel, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        long pid = await GuestProcesses.StartAsync(context, profile, spec.Path, spec.Args, spec.Environment, spec.WorkingDirectory, spec.Stdin).ConfigureAwait(false);
        try
        {
            context.WriteObject(await GuestProcesses.WaitAsync(context, profile, pid, spec.Path, timeout, clock).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: do not leave the program running.
            await GuestExecRunner.KillAsync(new GuestAgentCommands(context.Channel), profile, pid, new QgaCallOptions { Timeout = TimeSpan.FromSeconds(5) }).ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>
/// <para type="synopsis">Starts a program in the guest and returns at once with its process id.</para>
/// <para type="description">Use Wait-VMGuestProcess to collect its exit code and output, Get-VMGuestProcess to look at it.</para>
/// </summary>
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
        var spec = Capture(FilePath, ArgumentList ?? Array.Empty<string>());
        return async context =>
        {
            var profile = await context.Session.Facts.GetProfileAsync(context.Channel, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
            long pid = await GuestProcesses.StartAsync(context, profile, spec.Path, spec.Args, spec.Environment, spec.WorkingDirectory, spec.Stdin).ConfigureAwait(false);
            context.WriteObject(new GuestProcessInfo
            {
                VMName = context.Session.TargetName,
                Pid = pid,
                FilePath = spec.Path,
                ArgumentList = spec.Args,
                StartTime = DateTime.Now,
            });
        };
    }
}

/// <summary>
/// <para type="synopsis">Waits for guest programs started with Start-VMGuestProcess and returns their results.</para>
/// <para type="description">Pipe Start-VMGuestProcess's output into it, or give -Id. -Timeout bounds the
/// wait; on timeout the program keeps running (unless -Kill) and a GuestCommandTimeout error is written.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Wait, "VMGuestProcess", DefaultParameterSetName = SessionParameterSet)]
[OutputType(typeof(GuestProcessResult))]
public sealed class WaitVMGuestProcessCommand : GuestCmdlet
{
    /// <summary>Process ids returned by Start-VMGuestProcess (or guest-exec).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Pid")]
    public long[] Id { get; set; } = Array.Empty<long>();

    /// <summary>Seconds to wait (default: no limit).</summary>
    [Parameter]
    [ValidateRange(1, 31 * 86400)]
    public int Timeout { get; set; }

    /// <summary>Kill a program that is still running when -Timeout passes.</summary>
    [Parameter]
    public SwitchParameter Kill { get; set; }

    protected override GuestOperation? CreateOperation()
    {
        long[] ids = Id;
        TimeSpan? timeout = Timeout > 0 ? TimeSpan.FromSeconds(Timeout) : null;
        bool kill = Kill.IsPresent;
        return async context =>
        {
            var profile = await context.Session.Facts.GetProfileAsync(context.Channel, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
            var commands = new GuestAgentCommands(context.Channel);
            foreach (long pid in ids)
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    if (!kill && timeout is not null && !GuestProcesses.Exited(context).ContainsKey(pid))
                    {
                        var outcome = await GuestExecRunner.WaitAsync(commands, pid, timeout, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
                        if (outcome is null)
                        {
                            throw ErrorTable.Fail(ErrorTable.GuestCommandTimeout, ErrorCategory.OperationTimeout,
                                $"Process {pid} did not exit within {timeout.Value.TotalSeconds:0.###} s; it keeps running.", pid);
                        }
                        GuestProcesses.Exited(context)[pid] = outcome;
                    }
                    context.WriteObject(await GuestProcesses.WaitAsync(context, profile, pid, string.Empty, timeout, clock).ConfigureAwait(false));
                }
                catch (GuestTaskException ex)
                {
                    context.WriteError(ErrorTable.ToErrorRecord(ex, pid));
                }
                catch (TransferException ex)
                {
                    context.WriteError(ErrorTable.ToErrorRecord(ex, pid));
                }
                catch (QgaCommandException ex)
                {
                    context.WriteError(ErrorTable.ToErrorRecord(ex, pid));
                }
            }
        };
    }
}

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
            var commands = new GuestAgentCommands(context.Channel);
            var exited = GuestProcesses.Exited(context);
            foreach (long pid in ids)
            {
                try
                {
                    if (!exited.TryGetValue(pid, out var outcome))
                    {
                        outcome = await GuestExecRunner.PollAsync(commands, pid, context.CallOptions, context.CancellationToken).ConfigureAwait(false);
                        if (outcome is not null)
                        {
                            exited[pid] = outcome;
                        }
                    }
                    context.WriteObject(new GuestProcessInfo
                    {
                        VMName = context.Session.TargetName,
                        Pid = pid,
                        State = outcome is null ? "Running" : "Exited",
                        ExitCode = outcome?.ExitCode is long c ? (int)c : null,
                    });
                }
                catch (QgaGenericErrorException ex)
                {
                    context.WriteError(ErrorTable.ToErrorRecord(ErrorTable.Fail(ErrorTable.GuestProcessNotFound, ErrorCategory.ObjectNotFound,
                        $"The agent knows no process {pid}: {GuestText.Printable(ex.Description)}", pid, ex), pid));
                }
            }
        };
    }
}
