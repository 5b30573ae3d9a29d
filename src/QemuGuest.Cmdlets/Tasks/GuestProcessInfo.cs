using System;

namespace QemuGuest.Cmdlets.Tasks;

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
