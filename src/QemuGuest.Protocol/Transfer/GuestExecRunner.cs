using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Protocol.Transfer;

/// <summary>A finished guest process: exit code or signal, raw output bytes.</summary>
public sealed class ExecOutcome
{
    public long? ExitCode { get; set; }

    public long? Signal { get; set; }

    public byte[] StdOut { get; set; } = Array.Empty<byte>();

    public byte[] StdErr { get; set; } = Array.Empty<byte>();

    public bool StdOutTruncated { get; set; }

    public bool StdErrTruncated { get; set; }
}

/// <summary>
/// Starts guest programs with guest-exec and waits for them with guest-exec-status, polling
/// with a growing interval (10 ms up to 250 ms), every wait bounded.
/// </summary>
public static class GuestExecRunner
{
    public static async Task<long> StartAsync(GuestAgentCommands commands, string path, IReadOnlyList<string>? args, IReadOnlyList<string>? env,
        byte[]? stdin, QgaCallOptions options, CancellationToken cancellationToken)
    {
        string? input = stdin is { Length: > 0 } ? Convert.ToBase64String(stdin) : null;
        GuestExec started = await commands.GuestExecAsync(path, args, env, input, true, options, cancellationToken).ConfigureAwait(false);
        return started.Pid;
    }

    /// <summary>
    /// One status poll; null while running. The stock agent forgets a process after reporting
    /// its exit once. Output is decoded once, straight from the reply, and bounded per stream
    /// (<see cref="GuestExecIO.MaxOutputBytes"/>; beyond it the Truncated flag is set).
    /// </summary>
    public static async Task<ExecOutcome?> PollAsync(GuestAgentCommands commands, long pid, QgaCallOptions options, CancellationToken cancellationToken)
    {
        GuestExecResult status = await GuestExecIO.StatusAsync(commands.Channel, pid, GuestExecIO.MaxOutputBytes, options, cancellationToken).ConfigureAwait(false);
        if (!status.Exited)
        {
            return null;
        }
        return new ExecOutcome
        {
            ExitCode = status.ExitCode,
            Signal = status.Signal,
            StdOut = status.StdOut,
            StdErr = status.StdErr,
            StdOutTruncated = status.StdOutTruncated,
            StdErrTruncated = status.StdErrTruncated,
        };
    }

    /// <summary>Waits for the process; null when <paramref name="timeout"/> passes first (the process is left running).</summary>
    public static async Task<ExecOutcome?> WaitAsync(GuestAgentCommands commands, long pid, TimeSpan? timeout, QgaCallOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int delay = 10;
        while (true)
        {
            ExecOutcome? outcome = await PollAsync(commands, pid, options, cancellationToken).ConfigureAwait(false);
            if (outcome is not null)
            {
                return outcome;
            }
            if (timeout is TimeSpan t && clock.Elapsed >= t)
            {
                return null;
            }
            int wait = delay;
            if (timeout is TimeSpan t2)
            {
                wait = (int)Math.Max(1, Math.Min(delay, (t2 - clock.Elapsed).TotalMilliseconds));
            }
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 250);
        }
    }

    /// <summary>Kills a guest process: our agent's exec-kill, else kill -KILL (POSIX) / taskkill (Windows) through guest-exec.</summary>
    public static async Task<bool> KillAsync(GuestAgentCommands commands, AgentProfile profile, long pid, QgaCallOptions options)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            bool killed = false;
            if (profile.Has(AgentProfile.ExecKill))
            {
                try
                {
                    // SIGKILL (Windows: TerminateProcess); "tree" only applies to exec-start children.
                    await commands.GuestExecKillAsync(pid, 9, null, options, cts.Token).ConfigureAwait(false);
                    killed = true;
                }
                catch (QgaCommandException)
                {
                    // Fall back to the guest's own tools below.
                }
            }
            if (!killed && profile.CanExec)
            {
                string id = pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
                long killer = profile.IsWindows
                    ? await StartAsync(commands, "taskkill.exe", new[] { "/F", "/T", "/PID", id }, null, null, options, cts.Token).ConfigureAwait(false)
                    : await StartAsync(commands, "kill", new[] { "-KILL", id }, null, null, options, cts.Token).ConfigureAwait(false);
                await WaitAsync(commands, killer, TimeSpan.FromSeconds(5), options, cts.Token).ConfigureAwait(false);
            }
            else if (!killed)
            {
                return false;
            }
            // Reap it so the agent forgets it.
            await WaitAsync(commands, pid, TimeSpan.FromSeconds(3), options, cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is QgaException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Runs a helper tool (mv, mkdir, sha256sum, find...) and returns its outcome; a non-zero exit is an error.</summary>
    public static async Task<ExecOutcome> RunToolAsync(GuestAgentCommands commands, AgentProfile profile, string path, string[] args, string target,
        QgaCallOptions options, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? env = null)
    {
        if (!profile.CanExec)
        {
            throw new TransferException(TransferFailureKind.AgentFeatureUnavailable,
                $"This needs guest-exec, which the agent does not offer (or has disabled), or QemuGuest's agent extensions.", target);
        }
        long pid = await StartAsync(commands, path, args, env, null, options, cancellationToken).ConfigureAwait(false);
        ExecOutcome? outcome = await WaitAsync(commands, pid, timeout ?? TimeSpan.FromMinutes(10), options, cancellationToken).ConfigureAwait(false);
        if (outcome is null)
        {
            await KillAsync(commands, profile, pid, options).ConfigureAwait(false);
            throw new TransferException(TransferFailureKind.GuestCommandTimeout, $"'{path}' did not finish in the guest in time.", target);
        }
        return outcome;
    }
}
