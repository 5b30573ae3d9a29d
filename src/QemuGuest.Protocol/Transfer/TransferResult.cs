using System;

namespace QemuGuest.Protocol.Transfer;

/// <summary>One file whose destination is in place.</summary>
public sealed class TransferResult
{
    internal TransferResult(long bytes, long expected, TimeSpan duration, string? hash, bool atomic)
    {
        Bytes = bytes;
        Expected = expected;
        Duration = duration;
        Hash = hash;
        Atomic = atomic;
    }

    public long Bytes { get; }

    /// <summary>The size known before the copy (local length, or what the guest reported); 0 when unknown.</summary>
    public long Expected { get; }

    public TimeSpan Duration { get; }

    /// <summary>SHA-256 (lower-case hex) when both sides were compared; otherwise null.</summary>
    public string? Hash { get; }

    /// <summary>True when the destination appeared in one step (temporary name + rename).</summary>
    public bool Atomic { get; }
}
