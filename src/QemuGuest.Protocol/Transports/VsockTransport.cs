using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
#if NET
// Only the net10.0 code below uses these.
using System.Net.Sockets;
using System.Runtime.InteropServices;
#endif

namespace QemuGuest.Protocol.Transports;

/// <summary>
/// AF_VSOCK (<c>-device vhost-vsock-pci</c> + <c>qemu-ga -m vsock-listen -p CID:PORT</c>).
/// Linux and the net10.0 build only: .NET's Socket rejects address family 40, so the socket
/// is created and connected through libc and then wrapped; elsewhere ConnectAsync throws
/// <see cref="PlatformNotSupportedException"/>.
/// </summary>
public sealed class VsockTransport : IGuestAgentTransport
{
    /// <summary>VMADDR_CID_HOST: the host, as seen from a guest.</summary>
    public const uint HostCid = 2;

    public VsockTransport(uint cid, uint port)
    {
        Cid = cid;
        Port = port;
    }

    public uint Cid { get; }

    public uint Port { get; }

    public string Endpoint => $"vsock:{Cid}:{Port}";

    public Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
#if NET
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("vsock is only supported on Linux.");
        }

        return Native.ConnectAsync(Cid, Port, cancellationToken);
#else
        throw new PlatformNotSupportedException("vsock needs the net10.0 build of QemuGuest.Protocol on Linux.");
#endif
    }

#if NET
    private static class Native
    {
        private const int AfVsock = 40;
        private const int SockStream = 1;
        private const int ShutRdWr = 2;

        public static async Task<Stream> ConnectAsync(uint cid, uint port, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int fd = socket(AfVsock, SockStream, 0);
            if (fd < 0)
            {
                throw new SocketException(Marshal.GetLastPInvokeError());
            }

            var handle = new SafeSocketHandle((IntPtr)fd, ownsHandle: true);
            try
            {
                using (cancellationToken.Register(() => shutdown(fd, ShutRdWr)))
                {
                    int error = await Task.Run(() => Connect(fd, cid, port), CancellationToken.None).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    if (error != 0)
                    {
                        throw new SocketException(error);
                    }
                }

                return new NetworkStream(new Socket(handle), ownsSocket: true);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        private static unsafe int Connect(int fd, uint cid, uint port)
        {
            // struct sockaddr_vm { sa_family_t family; unsigned short reserved1; unsigned int port; unsigned int cid; unsigned char flags; unsigned char zero[3]; }
            byte* address = stackalloc byte[16];
            new Span<byte>(address, 16).Clear();
            *(ushort*)address = AfVsock;
            *(uint*)(address + 4) = port;
            *(uint*)(address + 8) = cid;
            return connect(fd, address, 16) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int socket(int domain, int type, int protocol);

        [DllImport("libc", SetLastError = true)]
        private static extern unsafe int connect(int fd, byte* address, int length);

        [DllImport("libc", SetLastError = true)]
        private static extern int shutdown(int fd, int how);
    }
#endif
}
