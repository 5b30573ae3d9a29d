using System;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Channels;

/// <summary>
/// A channel stream whose reads can end after a time without input although the stream itself
/// ignores cancellation once a read has started (Linux read(2) on a device or socket). Streams
/// that honour cancellation (sockets, Windows' overlapped FileStream) need not implement it:
/// the session cancels their read instead.
/// </summary>
internal interface ITimedReadStream
{
    /// <summary>Reads as Stream.ReadAsync does, or returns -1 when nothing could be read within <paramref name="timeout"/>.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, TimeSpan timeout, CancellationToken cancellationToken);
}
