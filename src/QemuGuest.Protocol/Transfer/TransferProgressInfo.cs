using System;

namespace QemuGuest.Protocol.Transfer;

/// <summary>Bytes moved so far for one file; <see cref="Total"/> is 0 when unknown.</summary>
public readonly struct TransferProgressInfo
{
    public TransferProgressInfo(long done, long total, TimeSpan elapsed)
    {
        Done = done;
        Total = total;
        Elapsed = elapsed;
    }

    public long Done { get; }

    public long Total { get; }

    public TimeSpan Elapsed { get; }
}
