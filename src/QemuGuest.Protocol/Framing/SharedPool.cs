namespace QemuGuest.Protocol.Framing;

/// <summary>
/// What may go back to <see cref="System.Buffers.ArrayPool{T}.Shared"/>: the shared pool keeps
/// every array it is given (up to 1 GiB, per core) with nothing to trim it, so one 64 MiB reply
/// returned to it stayed in the agent for good (RSS 476 MiB after a few 8 MiB and one 48 MiB
/// guest-file-read). Larger buffers, and anything sized by one (JsonDocument's row table), are
/// left to the GC. One rule for the framing reader and writer and the agent's request documents.
/// </summary>
public static class SharedPool
{
    /// <summary>Largest buffer rented from or returned to the shared pool, in bytes.</summary>
    public const int MaxPooledBytes = 1024 * 1024;
}
