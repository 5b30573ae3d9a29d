using System;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Channels;

/// <summary>
/// unix-listen: binds PATH (replacing a stale socket file, like QEMU's unix_listen), serves one
/// client at a time (others wait in the backlog), and removes the socket file on dispose.
/// </summary>
public sealed class UnixListenChannel : IAgentChannel
{
    private readonly string _path;
    private Socket? _listener;

    public UnixListenChannel(string path)
    {
        _path = path;
    }

    public string Description => "unix-listen " + _path;

    public void Open()
    {
        if (_listener is not null)
        {
            return;
        }

        try
        {
            if (File.Exists(_path))
            {
                File.Delete(_path);
            }

            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                // 0600 whatever the umask: a socket's mode decides who may talk to a root agent, and
                // bind(2) takes no mode. The umask is process-wide, so only for this one call.
                if (OperatingSystem.IsLinux())
                {
                    Platform.Linux.PosixFs.WithUmask(0x7F /* 0177 */, () => socket.Bind(new UnixDomainSocketEndPoint(_path)));
                }
                else
                {
                    socket.Bind(new UnixDomainSocketEndPoint(_path));
                }

                socket.Listen(1);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _listener = socket;
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            throw new AgentChannelException("Failed to bind socket to " + _path + ": " + ex.Message, ex);
        }
    }

    public async ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        Open();
        try
        {
            Socket client = await _listener!.AcceptAsync(cancellationToken).ConfigureAwait(false);
            return new AgentConnection(new NetworkStream(client, ownsSocket: true), isDevice: false);
        }
        catch (SocketException ex)
        {
            throw new AgentChannelException("accept failed on " + _path + ": " + ex.Message, ex);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_listener is not null)
        {
            _listener.Dispose();
            _listener = null;
            try
            {
                File.Delete(_path);
            }
            catch (IOException)
            {
            }
        }

        return ValueTask.CompletedTask;
    }
}
