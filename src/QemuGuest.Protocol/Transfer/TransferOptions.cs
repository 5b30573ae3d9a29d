namespace QemuGuest.Protocol.Transfer;

/// <summary>How one file moves: block size, overwrite, verify, read limit.</summary>
public sealed class TransferOptions
{
    /// <summary>Bytes per guest-file-read/-write wished for; capped by what the agent allows.</summary>
    public int ChunkSize { get; set; } = AgentProfile.DefaultChunkSize;

    /// <summary>Overwrite an existing destination and create its missing folders.</summary>
    public bool Force { get; set; }

    /// <summary>Compare SHA-256 of both sides before the destination is committed.</summary>
    public bool Verify { get; set; }

    /// <summary>
    /// Out of the guest: the most bytes read from one file. 0: the size the guest reported,
    /// or <see cref="GuestTransferEngine.UnknownSizeLimit"/> when it reported 0.
    /// </summary>
    public long MaxBytes { get; set; }

    /// <summary>Into the guest from a stream: permission bits for the new file, when the agent can set them first.</summary>
    public int? Mode { get; set; }

    /// <summary>
    /// The modification time (nanoseconds since 1970 UTC) the destination gets before it is
    /// committed, or null to leave it at the time of the copy. A sync gives each copied file its
    /// source's time, so the next sync finds size and time equal without hashing.
    /// </summary>
    public long? LastWriteNanoseconds { get; set; }
}
