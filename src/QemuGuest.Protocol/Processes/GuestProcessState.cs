namespace QemuGuest.Protocol.Processes;

/// <summary>One look at a guest process: still running, or exited with this code.</summary>
public sealed class GuestProcessState
{
    internal GuestProcessState(long pid, bool exited, int? exitCode)
    {
        Pid = pid;
        Exited = exited;
        ExitCode = exitCode;
    }

    public long Pid { get; }

    public bool Exited { get; }

    /// <summary>Null while running, and when a signal ended the process.</summary>
    public int? ExitCode { get; }
}
