using System;

namespace QemuGuest.Protocol.Processes;

/// <summary>A guest process that finished: exit code or signal, and its output decoded as text.</summary>
public sealed class GuestProcessExit
{
    internal GuestProcessExit(long pid, string filePath, int? exitCode, int? signal, string stdOut, string stdErr,
        bool stdOutTruncated, bool stdErrTruncated, TimeSpan duration)
    {
        Pid = pid;
        FilePath = filePath;
        ExitCode = exitCode;
        Signal = signal;
        StdOut = stdOut;
        StdErr = stdErr;
        StdOutTruncated = stdOutTruncated;
        StdErrTruncated = stdErrTruncated;
        Duration = duration;
    }

    public long Pid { get; }

    /// <summary>The program as it was started; empty for a process waited for by id only.</summary>
    public string FilePath { get; }

    /// <summary>Null when a signal ended the process (see <see cref="Signal"/>).</summary>
    public int? ExitCode { get; }

    public int? Signal { get; }

    public string StdOut { get; }

    public string StdErr { get; }

    /// <summary>Only the first part of the output was kept (the agent's 16 MiB cap, or ours).</summary>
    public bool StdOutTruncated { get; }

    public bool StdErrTruncated { get; }

    /// <summary>From start (or from the start of the wait, for a process started elsewhere) to the exit being seen.</summary>
    public TimeSpan Duration { get; }
}
