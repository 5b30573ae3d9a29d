using System;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>What one Sync-VMGuestItem did in one guest.</summary>
public sealed class GuestSyncResult
{
    public string VMName { get; internal set; } = string.Empty;

    /// <summary>LocalToGuest or GuestToLocal.</summary>
    public string Direction { get; internal set; } = string.Empty;

    public string LocalPath { get; internal set; } = string.Empty;

    public string GuestPath { get; internal set; } = string.Empty;

    /// <summary>The files copied, as paths relative to the synced folders ('/'-separated).</summary>
    public string[] Copied { get; internal set; } = Array.Empty<string>();

    /// <summary>Files found the same on both sides, left alone.</summary>
    public int Skipped { get; internal set; }

    /// <summary>The files and folders removed from the target (-Delete), relative to it.</summary>
    public string[] Deleted { get; internal set; } = Array.Empty<string>();

    /// <summary>Bytes of file content moved (the copied files' sizes together).</summary>
    public long BytesMoved { get; internal set; }

    /// <summary>Items that failed; each was reported as an error.</summary>
    public int Failed { get; internal set; }

    /// <summary>Files whose SHA-256 was compared on both sides (equal size, other time, or -Checksum).</summary>
    public int Hashed { get; internal set; }

    public TimeSpan Duration { get; internal set; }
}
