using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Interop;

namespace QemuGuest.Agent.Handlers.Linux;

/// <summary>
/// guest-file-open on POSIX: open(2) with the mode's flags and 0666 (so new files are 0666
/// regardless of the agent's umask, like qemu-ga which fchmods after creating), then
/// O_NONBLOCK as qemu-ga sets it (a FIFO or a device never blocks the agent).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class PosixFileOpener : IGuestFileOpener
{
    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);

    public bool IsWindows => false;

    public IGuestFile Open(string path, string mode, OpenMode parsed)
    {
        int flags = parsed.Read && parsed.Write ? Libc.O_RDWR : parsed.Write ? Libc.O_WRONLY : Libc.O_RDONLY;
        if (parsed.Create)
        {
            flags |= Libc.O_CREAT;
        }

        if (parsed.Truncate)
        {
            flags |= Libc.O_TRUNC;
        }

        if (parsed.Append)
        {
            flags |= Libc.O_APPEND;
        }

        flags |= Libc.O_CLOEXEC;
        bool existed = System.IO.File.Exists(path) || System.IO.Directory.Exists(path);
        int fd = Libc.Open(path, flags, 0x1B6 /* 0666 */);
        if (fd < 0)
        {
            throw new AgentCommandException("failed to open file '" + path + "' (mode: '" + mode + "'): " + Libc.LastError());
        }

        if (parsed.Create && !existed)
        {
            Fchmod(fd, 0x1B6);
        }

        int fl = Libc.Fcntl(fd, 3 /* F_GETFL */, 0);
        if (fl >= 0)
        {
            Libc.Fcntl(fd, 4 /* F_SETFL */, fl | Libc.O_NONBLOCK);
        }

        return new PosixGuestFile(fd);
    }

    internal static uint CurrentUmask()
    {
        uint m = Umask(0);
        Umask(m);
        return m;
    }
}

[SupportedOSPlatform("linux")]
internal sealed unsafe class PosixGuestFile : IGuestFile
{
    private int _fd;

    public PosixGuestFile(int fd)
    {
        _fd = fd;
    }

    public (byte[] Data, bool Eof) Read(int count)
    {
        if (count == 0)
        {
            return (Array.Empty<byte>(), false);
        }

        byte[] buffer = GC.AllocateUninitializedArray<byte>(count);
        int total = 0;
        bool eof = false;
        fixed (byte* p = buffer)
        {
            while (total < count)
            {
                nint n = Libc.Read(_fd, p + total, count - total);
                if (n > 0)
                {
                    total += (int)n;
                    continue;
                }

                if (n == 0)
                {
                    eof = true;
                    break;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                if (errno == Libc.EAGAIN)
                {
                    break;
                }

                throw new AgentCommandException("failed to read file: " + Libc.StrError(errno));
            }
        }

        if (total != count)
        {
            Array.Resize(ref buffer, total);
        }

        return (buffer, eof);
    }

    public int Write(ReadOnlySpan<byte> data)
    {
        int total = 0;
        fixed (byte* p = data)
        {
            while (total < data.Length)
            {
                nint n = Libc.Write(_fd, p + total, data.Length - total);
                if (n >= 0)
                {
                    total += (int)n;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                if (errno == Libc.EAGAIN)
                {
                    break;
                }

                throw new AgentCommandException("failed to write to file: " + Libc.StrError(errno));
            }
        }

        return total;
    }

    public long Seek(long offset, int whence)
    {
        long pos = Libc.Lseek(_fd, offset, whence);
        if (pos < 0)
        {
            throw new AgentCommandException("failed to seek file: " + Libc.LastError());
        }

        return pos;
    }

    public void Flush()
    {
        // Writes go straight to the kernel (no stdio buffer), so fflush(3) has nothing to do.
    }

    public void Dispose()
    {
        int fd = _fd;
        _fd = -1;
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
