using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Channels;

/// <summary>One connection to the host: a listen socket's client, or the opened device.</summary>
public sealed class AgentConnection : IAsyncDisposable
{
    public AgentConnection(Stream stream, bool isDevice)
    {
        Stream = stream;
        IsDevice = isDevice;
    }

    public Stream Stream { get; }

    /// <summary>
    /// A character device (virtio-serial / isa-serial): a read of 0 bytes means "no host
    /// process attached right now", not "closed"; the session waits and reads again, and the
    /// JSON parser's state carries on (the device never "reconnects").
    /// </summary>
    public bool IsDevice { get; }

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}

/// <summary>
/// Where the agent listens: qemu-ga's GAChannel. <see cref="AcceptAsync"/> returns the next
/// connection; for a device that is the device itself, opened again after it failed.
/// Opening errors throw <see cref="AgentChannelException"/> (the service decides whether to
/// retry, per -r).
/// </summary>
public interface IAgentChannel : IAsyncDisposable
{
    /// <summary>For log messages ("unix-listen /run/qga.sock").</summary>
    string Description { get; }

    /// <summary>Binds / checks the channel; throws <see cref="AgentChannelException"/> when unavailable.</summary>
    void Open();

    ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken);
}

/// <summary>The channel cannot be opened or broke (e.g. the virtio port vanished).</summary>
public sealed class AgentChannelException : Exception
{
    public AgentChannelException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
