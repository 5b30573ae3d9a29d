using System;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>One copied file, returned by Copy-VMGuestFile -PassThru.</summary>
public sealed class GuestFileCopyResult
{
    public string VMName { get; internal set; } = string.Empty;

    /// <summary>LocalToGuest or GuestToLocal.</summary>
    public string Direction { get; internal set; } = string.Empty;

    public string Source { get; internal set; } = string.Empty;

    public string Destination { get; internal set; } = string.Empty;

    public long Bytes { get; internal set; }

    public TimeSpan Duration { get; internal set; }

    public double BytesPerSecond => Duration.TotalSeconds > 0 ? Bytes / Duration.TotalSeconds : 0;

    /// <summary>SHA-256 of the content (lower-case hex) when -Verify compared both sides; otherwise null.</summary>
    public string? Hash { get; internal set; }

    public bool Verified { get; internal set; }

    /// <summary>True when the destination appeared in one step (temporary name + rename); false for an in-place write.</summary>
    public bool Atomic { get; internal set; }
}
