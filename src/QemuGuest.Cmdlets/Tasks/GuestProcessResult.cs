using System;
using QemuGuest.Protocol.Processes;

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

    /// <summary>
    /// The program's standard output, as PowerCLI's script result gives its ScriptOutput: "$r" and
    /// string parameters get what the program printed. Raw, as the property: the views show it escaped.
    /// </summary>
    public override string ToString() => StdOut;

    internal static GuestProcessResult From(GuestProcessExit exit, string vmName) => new()
    {
        VMName = vmName,
        Pid = exit.Pid,
        FilePath = exit.FilePath,
        ExitCode = exit.ExitCode,
        Signal = exit.Signal,
        StdOut = exit.StdOut,
        StdErr = exit.StdErr,
        StdOutTruncated = exit.StdOutTruncated,
        StdErrTruncated = exit.StdErrTruncated,
        Duration = exit.Duration,
    };
}
