using System;
using System.IO;
using System.IO.Pipes;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transports;

/// <summary>
/// A Windows named pipe (<c>-chardev pipe,path=NAME</c> makes QEMU serve <c>\\.\pipe\NAME</c>).
/// On Linux and macOS .NET maps pipe names to unix sockets (<c>/tmp/CoreFxPipe_NAME</c>).
/// </summary>
public sealed class NamedPipeTransport : IGuestAgentTransport
{
    public NamedPipeTransport(string pipeName, string serverName = ".")
    {
        if (string.IsNullOrEmpty(pipeName))
        {
            throw new ArgumentException("A pipe name is required.", nameof(pipeName));
        }

        PipeName = pipeName;
        ServerName = string.IsNullOrEmpty(serverName) ? "." : serverName;
    }

    public string PipeName { get; }

    public string ServerName { get; }

    public string Endpoint => ServerName == "." ? "pipe:" + PipeName : $"pipe:\\\\{ServerName}\\pipe\\{PipeName}";

    public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var pipe = new NamedPipeClientStream(ServerName, PipeName, PipeDirection.InOut, PipeOptions.Asynchronous);
        try
        {
            await pipe.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return pipe;
        }
        catch
        {
            pipe.Dispose();
            throw;
        }
    }
}

/// <summary>
/// A character device opened read/write: the guest end of virtio-serial
/// (<c>/dev/virtio-ports/org.qemu.guest_agent.0</c>, <c>\\.\Global\org.qemu.guest_agent.0</c>)
/// or an isa-serial port (<c>/dev/ttyS1</c>). Used by the agent; a FIFO or pty works too.
/// </summary>
public sealed class CharacterDeviceTransport : IGuestAgentTransport
{
    public CharacterDeviceTransport(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ArgumentException("A device path is required.", nameof(path));
        }

        Path = path;
    }

    public string Path { get; }

    public string Endpoint => "serial:" + Path;

    public Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // bufferSize 1: no FileStream buffering (0 is not accepted by .NET Framework).
        Stream stream = new FileStream(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 1, FileOptions.Asynchronous);
        return Task.FromResult(stream);
    }
}
