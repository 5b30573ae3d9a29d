using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transports;

/// <summary>
/// Opens one duplex byte stream to a guest agent (or, for the agent, to its host). Each call
/// to <see cref="ConnectAsync"/> opens a new connection; the caller owns and disposes the
/// stream. Disposing the stream must unblock pending reads and writes.
/// </summary>
public interface IGuestAgentTransport
{
    /// <summary>Where this transport connects to, for messages (e.g. <c>unix:/run/qga.sock</c>).</summary>
    string Endpoint { get; }

    Task<Stream> ConnectAsync(CancellationToken cancellationToken);
}
