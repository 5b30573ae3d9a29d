using System;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Channels;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// virtio-serial and isa-serial on Linux: the character device, opened O_RDWR|O_NOCTTY.
/// isa-serial puts the line in raw mode at 38400 baud (qemu-ga's termios setup).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class LinuxDeviceChannel : IAgentChannel
{
    private const uint B38400 = 0xF;
    private const int TCSANOW = 0;
    private readonly string _path;
    private readonly bool _serial;

    public LinuxDeviceChannel(string path, bool serial)
    {
        _path = path;
        _serial = serial;
    }

    public string Description => (_serial ? "isa-serial " : "virtio-serial ") + _path;

    // The descriptor Open() probed with, handed to the first AcceptAsync. Closing it instead
    // lost the host's first request after an agent restart: the host sends as soon as the port
    // is open, and the guest kernel discards a virtio-serial port's unread data on close.
    private int _probed = -1;

    public void Open()
    {
        int fd = OpenDevice();
        int previous = Interlocked.Exchange(ref _probed, fd);
        if (previous >= 0)
        {
            Libc.Close(previous);
        }
    }

    public ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        int fd = Interlocked.Exchange(ref _probed, -1);
        if (fd < 0)
        {
            fd = OpenDevice();
        }

        return ValueTask.FromResult(new AgentConnection(new FdStream(fd, isSocket: false), isDevice: true));
    }

    public ValueTask DisposeAsync()
    {
        int fd = Interlocked.Exchange(ref _probed, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }

        return ValueTask.CompletedTask;
    }

    private int OpenDevice()
    {
        int fd = Libc.Open(_path, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new AgentChannelException("error opening channel '" + _path + "': " + Libc.LastError());
        }

        if (_serial)
        {
            byte* termios = stackalloc byte[256];
            if (Libc.Tcgetattr(fd, termios) == 0)
            {
                Libc.Cfmakeraw(termios);
                Libc.Cfsetspeed(termios, B38400);
                Libc.Tcsetattr(fd, TCSANOW, termios);
            }
        }

        return fd;
    }
}

/// <summary>
/// A listening socket given as a file descriptor: systemd socket activation (fd 3, unix or
/// vsock), or the vsock-listen socket we create ourselves (CID:PORT). Accepts with accept4.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class LinuxFdListenChannel : IAgentChannel
{
    private int _fd;
    private readonly string _description;
    private readonly Func<int>? _create;

    private LinuxFdListenChannel(int fd, string description, Func<int>? create)
    {
        _fd = fd;
        _description = description;
        _create = create;
    }

    public string Description => _description;

    /// <summary>The first socket-activation fd (3).</summary>
    public static LinuxFdListenChannel FromActivation(string method) => new(3, method + " (socket activation)", null);

    /// <summary>vsock-listen on "CID:PORT" (qemu-ga's syntax; CID -1 = any).</summary>
    public static LinuxFdListenChannel Vsock(string address)
    {
        int colon = address.IndexOf(':');
        if (colon <= 0 ||
            !long.TryParse(address.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long cid) ||
            !uint.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint port))
        {
            throw new AgentChannelException("error parsing vsock address '" + address + "'");
        }

        return new LinuxFdListenChannel(-1, "vsock-listen " + address, () => CreateVsock(unchecked((uint)cid), port));
    }

    /// <summary>
    /// The method qemu-ga derives from an activated socket's family: unix-listen or
    /// vsock-listen; null for anything else.
    /// </summary>
    public static unsafe string? ActivationMethod()
    {
        byte* addr = stackalloc byte[128];
        int len = 128;
        if (Libc.Getsockname(3, addr, &len) != 0)
        {
            return null;
        }

        ushort family = *(ushort*)addr;
        return family switch
        {
            Libc.AF_UNIX => "unix-listen",
            Libc.AF_VSOCK => "vsock-listen",
            _ => null,
        };
    }

    /// <summary>sd_listen_fds: LISTEN_PID must be ours; returns LISTEN_FDS (0 when not activated).</summary>
    public static int ListenFds()
    {
        string? pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        string? fds = Environment.GetEnvironmentVariable("LISTEN_FDS");
        if (pid is null || fds is null ||
            !int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p != Libc.Getpid() ||
            !int.TryParse(fds, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            return 0;
        }

        return n;
    }

    public void Open()
    {
        if (_fd < 0 && _create is not null)
        {
            _fd = _create();
        }
    }

    public async ValueTask<AgentConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        Open();
        int listenFd = _fd;
        using var registration = cancellationToken.Register(static s => Libc.Shutdown((int)s!, Libc.SHUT_RDWR), listenFd);
        int client = await Task.Factory.StartNew(
            static s =>
            {
                int lfd = (int)s!;
                while (true)
                {
                    int c = AcceptOne(lfd);
                    if (c >= 0 || Marshal.GetLastPInvokeError() != Libc.EINTR)
                    {
                        return c < 0 ? -Marshal.GetLastPInvokeError() : c;
                    }
                }
            },
            listenFd,
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (client < 0)
        {
            throw new AgentChannelException("accept failed on " + _description + ": " + Libc.StrError(-client));
        }

        return new AgentConnection(new FdStream(client, isSocket: true), isDevice: false);
    }

    private static unsafe int AcceptOne(int fd) => Libc.Accept4(fd, null, null, Libc.SOCK_CLOEXEC);

    public ValueTask DisposeAsync()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }

        return ValueTask.CompletedTask;
    }

    private static unsafe int CreateVsock(uint cid, uint port)
    {
        int fd = Libc.Socket(Libc.AF_VSOCK, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new AgentChannelException("Failed to create vsock socket: " + Libc.LastError());
        }

        var sa = new Libc.SockaddrVm { Family = Libc.AF_VSOCK, Port = port, Cid = cid };
        if (Libc.Bind(fd, &sa, sizeof(Libc.SockaddrVm)) != 0 || Libc.Listen(fd, 1) != 0)
        {
            string err = Libc.LastError();
            Libc.Close(fd);
            throw new AgentChannelException("Failed to listen on vsock " + cid + ":" + port + ": " + err);
        }

        return fd;
    }
}
