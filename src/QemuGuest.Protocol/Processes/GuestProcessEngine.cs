using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Processes;

/// <summary>
/// Guest programs for one session, no PowerShell: starting them (our agent's exec-start, else
/// guest-exec, wrapped in sh/env on a stock POSIX agent for a working folder and added
/// variables), waiting with a bound (killing on timeout unless told not to), looking at them,
/// and decoding their output (UTF-8, or a Windows guest's console code page). Exits already
/// collected live on the session's <see cref="GuestSessionFacts"/>: the stock agent reports an
/// exit once and then forgets the process, so a look followed by a wait must not lose it.
/// Failures are <see cref="GuestProcessException"/> with a <see cref="GuestProcessFailureKind"/>;
/// agent and link failures pass through as the protocol's own exceptions.
/// </summary>
public sealed class GuestProcessEngine
{
    /// <summary>How long a kill after Ctrl+C may take: the pipeline is stopping and must not hang on a dead link.</summary>
    private static readonly TimeSpan StopKillTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Bound on asking a Windows guest for its code page.</summary>
    private static readonly TimeSpan CodePageTimeout = TimeSpan.FromSeconds(10);

    private readonly IGuestAgentChannel _channel;
    private readonly GuestAgentCommands _commands;
    private readonly GuestSessionFacts _facts;
    private readonly QgaCallOptions _options;

    public GuestProcessEngine(IGuestAgentChannel channel, GuestSessionFacts facts, QgaCallOptions options, string targetName)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        _commands = new GuestAgentCommands(channel);
        _facts = facts ?? throw new ArgumentNullException(nameof(facts));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        TargetName = targetName ?? throw new ArgumentNullException(nameof(targetName));
    }

    /// <summary>The VM (session) name failures and results report.</summary>
    public string TargetName { get; }

    /// <summary>Starts a program and returns its pid at once.</summary>
    public async Task<long> StartAsync(GuestProcessStartInfo start, CancellationToken cancellationToken)
    {
        AgentProfile profile = await ProfileAsync(cancellationToken).ConfigureAwait(false);
        return await StartAsync(profile, start, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a program and waits for it. When <paramref name="timeout"/> passes first the program
    /// is killed and a <see cref="GuestProcessFailureKind.Timeout"/> failure thrown; when
    /// <paramref name="cancellationToken"/> fires (Ctrl+C) it is killed too, so nothing is left running.
    /// </summary>
    public async Task<GuestProcessExit> RunAsync(GuestProcessStartInfo start, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        AgentProfile profile = await ProfileAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        long pid = await StartAsync(profile, start, cancellationToken).ConfigureAwait(false);
        try
        {
            return await WaitAsync(profile, pid, start.FilePath, timeout, killOnTimeout: true, clock, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await GuestExecRunner.KillAsync(_commands, profile, pid, new QgaCallOptions { Timeout = StopKillTimeout }).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Waits for a process started earlier (by id). When <paramref name="timeout"/> passes first:
    /// with <paramref name="killOnTimeout"/> it is killed, else it keeps running; either way a
    /// <see cref="GuestProcessFailureKind.Timeout"/> failure is thrown.
    /// </summary>
    public async Task<GuestProcessExit> WaitAsync(long pid, TimeSpan? timeout, bool killOnTimeout, CancellationToken cancellationToken)
    {
        AgentProfile profile = await ProfileAsync(cancellationToken).ConfigureAwait(false);
        return await WaitAsync(profile, pid, string.Empty, timeout, killOnTimeout, Stopwatch.StartNew(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One look at a process: running, or exited (its result is kept for a later wait).</summary>
    public async Task<GuestProcessState> GetStateAsync(long pid, CancellationToken cancellationToken)
    {
        if (!_facts.ExitedProcesses.TryGetValue(pid, out ExecOutcome? outcome))
        {
            try
            {
                outcome = await GuestExecRunner.PollAsync(_commands, pid, _options, cancellationToken).ConfigureAwait(false);
            }
            catch (QgaGenericErrorException ex) when (NamesUnknownProcess(ex))
            {
                throw ProcessNotFound(pid, ex);
            }
            if (outcome is not null)
            {
                _facts.ExitedProcesses[pid] = outcome;
            }
        }
        return new GuestProcessState(pid, outcome is not null, ExitCode(outcome));
    }

    /// <summary>
    /// Runs script text as <see cref="RunAsync"/> runs a program: the text goes into a new private
    /// file in the guest (<see cref="GuestScriptFile"/>, written by the transfer engine), its
    /// interpreter runs that file, and the file is removed afterwards whatever happened (exit,
    /// failure, timeout, Ctrl+C or Stop-Job: the removal has its own bound, not the cancelled
    /// token). <paramref name="language"/> null: from the guest OS (<see cref="GuestScriptFile.DefaultLanguage"/>).
    /// </summary>
    public async Task<GuestProcessExit> RunScriptAsync(GuestProcessStartInfo extras, GuestScriptLanguage? language, string text, TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        AgentProfile profile = await ProfileAsync(cancellationToken).ConfigureAwait(false);
        GuestScriptLanguage chosen = language ?? GuestScriptFile.DefaultLanguage(profile.IsWindows);
        GuestTransferEngine files = await GuestTransferEngine.OpenAsync(_channel, _facts, _options, TargetName, cancellationToken).ConfigureAwait(false);
        string path = GuestScriptFile.NewPath(chosen, profile.IsWindows);
        try
        {
            // Removed in finally even when the upload failed: a Ctrl+C during its last step
            // (the rename into place) may leave the file at its final name.
            using (var script = new MemoryStream(await ScriptBytesAsync(profile, chosen, text, cancellationToken).ConfigureAwait(false), writable: false))
            {
                await files.UploadAsync(script, path, new TransferOptions { Mode = GuestScriptFile.Mode }, null, cancellationToken).ConfigureAwait(false);
            }
            return await RunAsync(GuestScriptFile.StartInfo(extras, chosen, path, profile.IsWindows), timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await files.RemoveQuietlyAsync(path).ConfigureAwait(false);
        }
    }

    private async Task<byte[]> ScriptBytesAsync(AgentProfile profile, GuestScriptLanguage language, string text, CancellationToken ct)
    {
        Encoding? console = language == GuestScriptLanguage.Cmd && profile.IsWindows ? await OutputEncodingAsync(profile, ct).ConfigureAwait(false) : null;
        try
        {
            return GuestScriptFile.Encode(language, text, console);
        }
        catch (EncoderFallbackException ex)
        {
            throw new GuestProcessException(GuestProcessFailureKind.ScriptNotEncodable,
                $"The cmd script has '{GuestText.Printable(ex.CharUnknown != '\0' ? ex.CharUnknown.ToString() : new string(new[] { ex.CharUnknownHigh, ex.CharUnknownLow }))}', which the guest's console code page {console?.CodePage} cannot hold (cmd reads a batch file in that code page).",
                TargetName, ex);
        }
    }

    private Task<AgentProfile> ProfileAsync(CancellationToken cancellationToken) =>
        _facts.GetProfileAsync(_channel, _options, cancellationToken);

    private async Task<long> StartAsync(AgentProfile profile, GuestProcessStartInfo start, CancellationToken ct)
    {
        var env = new List<string>(start.Environment.Count);
        foreach (KeyValuePair<string, string> e in start.Environment)
        {
            if (string.IsNullOrEmpty(e.Key) || e.Key.IndexOf('=') >= 0)
            {
                throw new GuestProcessException(GuestProcessFailureKind.InvalidEnvironmentName,
                    $"'{GuestText.Printable(e.Key)}' is not a valid environment variable name.", e.Key);
            }
            env.Add(e.Key + "=" + e.Value);
        }

        string? folder = string.IsNullOrEmpty(start.WorkingDirectory) ? null : start.WorkingDirectory;
        bool needsExtras = env.Count > 0 || folder is not null;
        if (needsExtras && profile.Has(AgentProfile.ExecStart))
        {
            // Our agent: working folder and inherited-plus-given environment natively.
            string? input = start.StandardInput is { Length: > 0 } stdin ? Convert.ToBase64String(stdin) : null;
            GuestExec started = await _commands.GuestExecStartAsync(start.FilePath, start.Arguments, env.Count > 0 ? env : null, input, true,
                folder, null, null, true, null, _options, ct).ConfigureAwait(false);
            return started.Pid;
        }
        if (!profile.CanExec)
        {
            throw new GuestProcessException(GuestProcessFailureKind.AgentFeatureUnavailable,
                "The agent does not offer guest-exec (or its policy disabled it).", TargetName);
        }
        if (needsExtras && profile.IsWindows)
        {
            throw new GuestProcessException(GuestProcessFailureKind.AgentFeatureUnavailable,
                "-Environment and -WorkingDirectory need QemuGuest's agent on Windows guests (the stock agent's guest-exec has neither).", TargetName);
        }
        if (!needsExtras)
        {
            return await GuestExecRunner.StartAsync(_commands, start.FilePath, start.Arguments, null, start.StandardInput, _options, ct).ConfigureAwait(false);
        }

        // Stock agent on POSIX: its env replaces the whole environment and it has no working
        // folder, so wrap: sh changes folder, env adds variables to the agent's environment.
        var wrapped = new List<string>();
        string shell = "env";
        if (folder is not null)
        {
            shell = "sh";
            wrapped.Add("-c");
            wrapped.Add("cd -- \"$1\" || exit 126; shift; exec \"$@\"");
            wrapped.Add("sh");
            wrapped.Add(folder);
            wrapped.Add("env");
        }
        wrapped.AddRange(env);
        wrapped.Add(start.FilePath);
        wrapped.AddRange(start.Arguments);
        return await GuestExecRunner.StartAsync(_commands, shell, wrapped, null, start.StandardInput, _options, ct).ConfigureAwait(false);
    }

    private async Task<GuestProcessExit> WaitAsync(AgentProfile profile, long pid, string filePath, TimeSpan? timeout, bool killOnTimeout,
        Stopwatch clock, CancellationToken ct)
    {
        ExecOutcome? outcome;
        if (!_facts.ExitedProcesses.TryRemove(pid, out outcome))
        {
            try
            {
                outcome = await GuestExecRunner.WaitAsync(_commands, pid, timeout, _options, ct).ConfigureAwait(false);
            }
            catch (QgaGenericErrorException ex) when (NamesUnknownProcess(ex))
            {
                throw ProcessNotFound(pid, ex);
            }
        }
        if (outcome is null)
        {
            string limit = timeout!.Value.TotalSeconds.ToString("0.###", CultureInfo.CurrentCulture);
            if (!killOnTimeout)
            {
                throw new GuestProcessException(GuestProcessFailureKind.Timeout,
                    $"Process {pid} did not exit within {limit} s; it keeps running.", pid);
            }
            bool killed = await GuestExecRunner.KillAsync(_commands, profile, pid, _options).ConfigureAwait(false);
            throw new GuestProcessException(GuestProcessFailureKind.Timeout,
                $"'{GuestText.Printable(filePath)}' (pid {pid}) did not exit within {limit} s; " + (killed ? "it was killed." : "it could not be killed and may still run."), TargetName);
        }
        Encoding encoding = await OutputEncodingAsync(profile, ct).ConfigureAwait(false);
        return new GuestProcessExit(pid, filePath, ExitCode(outcome), outcome.Signal is long sig ? (int)sig : null,
            encoding.GetString(outcome.StdOut), encoding.GetString(outcome.StdErr), outcome.StdOutTruncated, outcome.StdErrTruncated, clock.Elapsed);
    }

    private static int? ExitCode(ExecOutcome? outcome) => outcome?.ExitCode is long code ? (int)code : null;

    // Both agents answer a pid they do not know (never had, or already reported) with
    // GenericError "Invalid parameter 'pid'".
    private static bool NamesUnknownProcess(QgaGenericErrorException ex) =>
        ex.Description.IndexOf("pid", StringComparison.OrdinalIgnoreCase) >= 0;

    private static GuestProcessException ProcessNotFound(long pid, QgaGenericErrorException ex) =>
        new(GuestProcessFailureKind.ProcessNotFound,
            $"The agent knows no process {pid} (the stock agent forgets one once its exit was reported): {GuestText.Printable(ex.Description)}", pid, ex);

    /// <summary>UTF-8 on POSIX guests; on Windows guests the console (OEM) code page that chcp reports, asked once per session.</summary>
    private async Task<Encoding> OutputEncodingAsync(AgentProfile profile, CancellationToken ct)
    {
        if (!profile.IsWindows)
        {
            return new UTF8Encoding(false);
        }
        if (_facts.WindowsEncoding is Encoding cached)
        {
            return cached;
        }
        Encoding encoding = new UTF8Encoding(false);
        try
        {
            ExecOutcome o = await GuestExecRunner.RunToolAsync(_commands, profile, "cmd.exe", new[] { "/c", "chcp" }, "chcp", _options, ct, CodePageTimeout).ConfigureAwait(false);
            if (CodePage(Encoding.ASCII.GetString(o.StdOut)) is int cp && cp != 65001)
            {
                encoding = Encoding.GetEncoding(cp);
            }
        }
        catch (Exception ex) when (ex is QgaException or TransferException or ArgumentException or NotSupportedException)
        {
            // Unknown code page: fall back to UTF-8.
        }
        _facts.WindowsEncoding = encoding;
        return encoding;
    }

    /// <summary>The last number in chcp's output ("Active code page: 850"), whatever the language of the words around it.</summary>
    internal static int? CodePage(string chcpOutput)
    {
        var digits = new StringBuilder();
        for (int i = chcpOutput.Length - 1; i >= 0; i--)
        {
            if (char.IsDigit(chcpOutput[i]))
            {
                digits.Insert(0, chcpOutput[i]);
            }
            else if (digits.Length > 0)
            {
                break;
            }
        }
        return int.TryParse(digits.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int cp) ? cp : null;
    }
}
