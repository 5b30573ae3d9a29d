using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// The libc calls the Linux handlers and channels use: source-generated (LibraryImport), all
/// blittable, so NativeAOT needs no runtime marshalling. Errors: check the return value, then
/// <see cref="Marshal.GetLastPInvokeError"/> and <see cref="StrError"/>.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_NOCTTY = 0x100;
    public const int O_TRUNC = 0x200;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ENOTTY = 25;
    public const int EOPNOTSUPP = 95;

    public const int SEEK_SET = 0;
    public const int SEEK_CUR = 1;
    public const int SEEK_END = 2;

    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int AF_PACKET = 17;
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SHUT_RDWR = 2;

    public const int CLOCK_REALTIME = 0;

    public const short POLLIN = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    // <linux/fs.h>
    public const ulong FIFREEZE = 0xC0045877;
    public const ulong FITHAW = 0xC0045878;
    public const ulong FITRIM = 0xC0185879;

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Statvfs
    {
        public ulong Bsize;
        public ulong Frsize;
        public ulong Blocks;
        public ulong Bfree;
        public ulong Bavail;
        public ulong Files;
        public ulong Ffree;
        public ulong Favail;
        public ulong Fsid;
        public ulong Flag;
        public ulong Namemax;
        public fixed int Spare[6];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct FstrimRange
    {
        public ulong Start;
        public ulong Len;
        public ulong MinLen;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Tm
    {
        public int Sec;
        public int Min;
        public int Hour;
        public int Mday;
        public int Mon;
        public int Year;
        public int Wday;
        public int Yday;
        public int Isdst;
        public long Gmtoff;
        public byte* Zone;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd
    {
        public byte* Name;
        public byte* Passwd_;
        public uint Uid;
        public uint Gid;
        public byte* Gecos;
        public byte* Dir;
        public byte* Shell;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Ifaddrs
    {
        public Ifaddrs* Next;
        public byte* Name;
        public uint Flags;
        public byte* Addr;
        public byte* Netmask;
        public byte* Broadaddr;
        public void* Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrVm
    {
        public ushort Family;
        public ushort Reserved1;
        public uint Port;
        public uint Cid;
        public uint Zero;
    }

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buf, nint count);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buf, nint count);

    /// <summary>getrandom(2): the kernel's CSPRNG without loading OpenSSL (RandomNumberGenerator does, ~3.5 MiB of RSS).</summary>
    [LibraryImport(Lib, EntryPoint = "getrandom", SetLastError = true)]
    public static partial nint GetRandom(byte* buf, nint count, uint flags);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, void* arg);

    [LibraryImport(Lib, EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatVfs(string path, out Statvfs buf);

    [LibraryImport(Lib, EntryPoint = "clock_gettime", SetLastError = true)]
    public static partial int ClockGettime(int clock, out Timespec ts);

    [LibraryImport(Lib, EntryPoint = "clock_settime", SetLastError = true)]
    public static partial int ClockSettime(int clock, in Timespec ts);

    [LibraryImport(Lib, EntryPoint = "time")]
    public static partial long Time(long* t);

    [LibraryImport(Lib, EntryPoint = "localtime_r")]
    public static partial Tm* LocaltimeR(in long time, out Tm result);

    [LibraryImport(Lib, EntryPoint = "tzset")]
    public static partial void Tzset();

    [LibraryImport(Lib, EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int GetpwnamR(string name, out Passwd pwd, byte* buf, nuint buflen, out Passwd* result);

    [LibraryImport(Lib, EntryPoint = "getifaddrs", SetLastError = true)]
    public static partial int Getifaddrs(out Ifaddrs* ifap);

    [LibraryImport(Lib, EntryPoint = "freeifaddrs")]
    public static partial void Freeifaddrs(Ifaddrs* ifa);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, void* addr, int addrlen);

    [LibraryImport(Lib, EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport(Lib, EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, void* addr, void* addrlen, int flags);

    [LibraryImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport(Lib, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int Getsockname(int fd, void* addr, int* addrlen);

    [LibraryImport(Lib, EntryPoint = "getpid")]
    public static partial int Getpid();

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int Tcgetattr(int fd, byte* termios);

    [LibraryImport(Lib, EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int Tcsetattr(int fd, int actions, byte* termios);

    [LibraryImport(Lib, EntryPoint = "cfmakeraw")]
    public static partial void Cfmakeraw(byte* termios);

    [LibraryImport(Lib, EntryPoint = "cfsetspeed", SetLastError = true)]
    public static partial int Cfsetspeed(byte* termios, uint speed);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    private static partial byte* StrErrorNative(int errnum);

    /// <summary>The C library's text for an errno (e.g. "No such file or directory").</summary>
    public static string StrError(int errno)
    {
        byte* p = StrErrorNative(errno);
        return p is null ? "Unknown error " + errno : Marshal.PtrToStringUTF8((nint)p) ?? string.Empty;
    }

    public static string LastError() => StrError(Marshal.GetLastPInvokeError());

    public static string? PtrToString(byte* p) => p is null ? null : Marshal.PtrToStringUTF8((nint)p);
}
