using System;
using System.IO;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Channels;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// virtio-serial (\\.\Global\org.qemu.guest_agent.0) and isa-serial (COM1) on Windows: the
/// device opened with CreateFile (overlapped) through FileStream. Untested on Windows (CI only
/// compiles it): see docs/agent-windows.md.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class WindowsDeviceChannel : IAgentChannel
{
    private readonly string _path;
    private readonly bool _serial;

    public WindowsDeviceChannel(string path, bool serial)
    {
        _path = path;
        _serial = serial;
    }

    public string Description => (_serial ? "isa-serial " : "virtio-serial ") + _path;

    public void Open()
    {
        using FileStream probe = OpenDevice();
    }

    public ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AgentConnection(OpenDevice(), isDevice: true));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private FileStream OpenDevice()
    {
        try
        {
            var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.Asynchronous);
            return new FileStream(handle, FileAccess.ReadWrite, 0, isAsync: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AgentChannelException("error opening channel '" + _path + "': " + ex.Message, ex);
        }
    }
}
