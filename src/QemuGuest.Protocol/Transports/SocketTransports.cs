using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transports;

/// <summary>
/// A unix domain stream socket: QEMU's <c>-chardev socket,path=...,server=on</c> for a VM's
/// agent port, or <c>qemu-ga -m unix-listen -p PATH</c>. Works on Linux, macOS and Windows 10
/// 1803+ (also from the netstandard2.0 build on .NET Framework, through a small sockaddr_un
/// endpoint of our own).
/// </summary>
public sealed class UnixSocketTransport : IGuestAgentTransport
{
    public UnixSocketTransport(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ArgumentException("A unix socket path is required.", nameof(path));
        }

        Path = path;
    }

    public string Path { get; }

    public string Endpoint => "unix:" + Path;

    public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await SocketConnect.ConnectAsync(socket, UnixSocketEndPoint.Create(Path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException ex) when (!File.Exists(Path))
        {
            // .NET reports a missing socket file (ENOENT) as "Cannot assign requested address",
            // which sends users looking at the network; say what is wrong and where.
            socket.Dispose();
            throw new FileNotFoundException("The socket " + Path + " does not exist (is the VM running, with its agent chardev at that path?).", Path, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a connection with a blocking connect, bounded by <paramref name="timeout"/>, for a
    /// reader on a thread of its own that only ever reads and writes synchronously (the relay's
    /// guest link). On Unix, .NET keeps a socket that ran any asynchronous operation (the connect
    /// of <see cref="ConnectAsync"/> included) non-blocking for good and emulates a blocking read
    /// through its event thread, which then wakes the reader: one more thread hand-off for every
    /// reply. A socket that never did stays in the kernel's blocking mode, where the read waits
    /// in the kernel and the reply wakes the reader itself.
    /// </summary>
    public Stream ConnectBlocking(TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // SO_SNDTIMEO also bounds connect(2), which waits while the listener's backlog is full.
            socket.SendTimeout = (int)Math.Max(1, Math.Min(int.MaxValue, timeout.TotalMilliseconds));
            socket.Connect(UnixSocketEndPoint.Create(Path));
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException ex) when (!File.Exists(Path))
        {
            socket.Dispose();
            throw new FileNotFoundException("The socket " + Path + " does not exist (is the VM running, with its agent chardev at that path?).", Path, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>TCP (<c>-chardev socket,host=...,port=...,server=on</c>), Nagle off.</summary>
public sealed class TcpTransport : IGuestAgentTransport
{
    public TcpTransport(string host, int port)
    {
        if (string.IsNullOrEmpty(host))
        {
            throw new ArgumentException("A host is required.", nameof(host));
        }

        if (port is < 1 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, "A TCP port is 1..65535.");
        }

        Host = host;
        Port = port;
    }

    public string Host { get; }

    public int Port { get; }

    public string Endpoint => "tcp:" + (Host.IndexOf(':') >= 0 ? "[" + Host + "]" : Host) + ":" + Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            EndPoint endPoint = IPAddress.TryParse(Host, out IPAddress? address) ? new IPEndPoint(address, Port) : new DnsEndPoint(Host, Port);
            await SocketConnect.ConnectAsync(socket, endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

internal static class SocketConnect
{
    public static async Task ConnectAsync(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
#if NET
        await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
#else
        cancellationToken.ThrowIfCancellationRequested();
        using (cancellationToken.Register(static s => ((Socket)s!).Dispose(), socket))
        {
            try
            {
                await Task.Factory.FromAsync(socket.BeginConnect, socket.EndConnect, endPoint, null).ConfigureAwait(false);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
#endif
    }
}

/// <summary>
/// sockaddr_un for runtimes without <c>System.Net.Sockets.UnixDomainSocketEndPoint</c>
/// (.NET Framework): family, then the NUL-terminated UTF-8 path.
/// </summary>
internal sealed class UnixSocketEndPoint : EndPoint
{
    // sun_path is 108 bytes on Linux, 104 on macOS/BSD; Windows uses 108.
    private const int MaxPathBytes = 107;
    private static readonly Type? BuiltIn = Type.GetType("System.Net.Sockets.UnixDomainSocketEndPoint, System.Net.Sockets", throwOnError: false);

    public UnixSocketEndPoint(string path)
    {
        int length = Encoding.UTF8.GetByteCount(path);
        if (length > MaxPathBytes)
        {
            throw new ArgumentException($"Unix socket path '{path}' is {length} bytes; the limit is {MaxPathBytes}.", nameof(path));
        }

        Path = path;
    }

    public string Path { get; }

    public override AddressFamily AddressFamily => AddressFamily.Unix;

    /// <summary>The runtime's own endpoint where it has one (.NET Core), ours otherwise.</summary>
    public static EndPoint Create(string path)
    {
#if NET
        return new UnixDomainSocketEndPoint(path);
#else
        if (BuiltIn is not null)
        {
            return (EndPoint)Activator.CreateInstance(BuiltIn, path)!;
        }

        return new UnixSocketEndPoint(path);
#endif
    }

    public override SocketAddress Serialize()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(Path);
        var address = new SocketAddress(AddressFamily.Unix, 2 + bytes.Length + 1);
        for (int i = 0; i < bytes.Length; i++)
        {
            address[2 + i] = bytes[i];
        }

        address[2 + bytes.Length] = 0;
        return address;
    }

    public override EndPoint Create(SocketAddress socketAddress)
    {
        int end = 2;
        while (end < socketAddress.Size && socketAddress[end] != 0)
        {
            end++;
        }

        var bytes = new byte[end - 2];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = socketAddress[2 + i];
        }

        return new UnixSocketEndPoint(Encoding.UTF8.GetString(bytes));
    }

    public override string ToString() => Path;
}
