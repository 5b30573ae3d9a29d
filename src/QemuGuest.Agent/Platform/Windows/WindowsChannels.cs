using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;
using QemuGuest.Agent.Channels;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// virtio-serial (\\.\Global\org.qemu.guest_agent.0) and isa-serial (COM1) on Windows: the
/// device opened overlapped (as qemu-ga's channel-win32.c) through FileStream, which completes
/// its reads and writes on the thread pool's I/O completion port (as .NET's SerialPort). A COM
/// port is also given its line settings and qemu-ga's read timeouts, so that a read waits for
/// the first byte and returns what has arrived. Under Wine (build.ps1 Test, row "Windows agent
/// under Wine") this runs for real over isa-serial; virtio-serial has no Wine device. See
/// docs/agent-windows.md.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class WindowsDeviceChannel : IAgentChannel
{
    private readonly string _path;
    private readonly bool _serial;

    // The device Open() probed with, handed to the first AcceptAsync, as on Linux: a COM port
    // is exclusive, and closing it between the probe and the first read would drop what the
    // host sent in between.
    private FileStream? _probed;

    public WindowsDeviceChannel(string path, bool serial)
    {
        _path = path;
        _serial = serial;
    }

    public string Description => (_serial ? "isa-serial " : "virtio-serial ") + _path;

    public void Open() => Interlocked.Exchange(ref _probed, OpenDevice())?.Dispose();

    public ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AgentConnection(Interlocked.Exchange(ref _probed, null) ?? OpenDevice(), isDevice: true));

    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _probed, null)?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// qemu-ga's isa-serial name: "-p COM1" opens \\.\COM1 (COM10 and above exist only under
    /// that prefix). A name that already is a device path is used as given.
    /// </summary>
    internal static string SerialDevicePath(string path) =>
        path.StartsWith(@"\\", StringComparison.Ordinal) ? path : @"\\.\" + path;

    private FileStream OpenDevice()
    {
        string path = _serial ? SerialDevicePath(_path) : _path;
        var handle = new SafeFileHandle(
            Win32Native.CreateFile(path, Win32Native.GENERIC_READ | Win32Native.GENERIC_WRITE, 0, 0, Win32Native.OPEN_EXISTING, Win32Native.FILE_FLAG_OVERLAPPED, 0),
            ownsHandle: true);
        if (handle.IsInvalid)
        {
            int error = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new AgentChannelException("error opening channel '" + path + "': " + Win32Native.ErrorText(error));
        }

        if (_serial)
        {
            ConfigureSerialPort(handle, path);
        }

        return new FileStream(handle, FileAccess.ReadWrite, 0, isAsync: true);
    }

    /// <summary>
    /// 38400 8N1 without flow control (the termios setup of the Linux channel), and the read
    /// timeouts of qemu-ga: no total timeout, a 1 ms gap between bytes ends a read once one
    /// byte has arrived. Without them the port keeps whatever an earlier program left: Wine's
    /// fresh port failed every write with ERROR_NOT_READY, and a port left with hardware flow
    /// control would wait for a CTS the virtual UART may never raise.
    /// </summary>
    private static void ConfigureSerialPort(SafeFileHandle handle, string path)
    {
        var dcb = new Dcb { DCBlength = (uint)Marshal.SizeOf<Dcb>() };
        bool configured = Win32Native.GetCommState(handle, ref dcb);
        if (configured)
        {
            dcb.BaudRate = 38400;
            dcb.ByteSize = 8;
            dcb.Parity = Dcb.NoParity;
            dcb.StopBits = Dcb.OneStopBit;
            dcb.Flags = Dcb.FlagBinary | Dcb.DtrControlEnable | Dcb.RtsControlEnable;
            configured = Win32Native.SetCommState(handle, ref dcb);
        }

        var timeouts = new CommTimeouts { ReadIntervalTimeout = 1 };
        if (!configured || !Win32Native.SetCommTimeouts(handle, ref timeouts))
        {
            int error = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new AgentChannelException("error setting up com port '" + path + "': " + Win32Native.ErrorText(error));
        }
    }
}
