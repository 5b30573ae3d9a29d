using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// guest-file-open on POSIX, as qemu-ga's safe_open_or_create: a create mode first tries
/// O_CREAT|O_EXCL|O_NOFOLLOW, and only a file that call created gets its mode set (on the
/// descriptor); when the name exists it is opened without O_CREAT. So a symlink swapped in at any
/// moment is never chmodded, and a dangling link's target is never created. New files are 0600,
/// not qemu-ga's 0666 (docs/agent.md): other guest users must not be able to write what the host
/// put there. O_NONBLOCK from the open(2) on, so a FIFO or device cannot block the agent.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class LinuxFileOpener : IGuestFileOpener
{
    /// <summary>Mode of the files guest-file-open creates.</summary>
    public const uint NewFileMode = 0x180; // 0600

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);

    public bool IsWindows => false;

    public IGuestFile Open(string path, string mode, OpenMode parsed)
    {
        int flags = parsed.Read && parsed.Write ? Libc.O_RDWR : parsed.Write ? Libc.O_WRONLY : Libc.O_RDONLY;
        if (parsed.Truncate)
        {
            flags |= Libc.O_TRUNC;
        }

        if (parsed.Append)
        {
            flags |= Libc.O_APPEND;
        }

        flags |= Libc.O_CLOEXEC | Libc.O_NONBLOCK | Libc.O_NOCTTY;

        // Bounded: a name that keeps appearing and vanishing between the two opens is an error, not a spin.
        for (int attempt = 0; ; attempt++)
        {
            if (parsed.Create)
            {
                int created = Libc.Open(path, flags | Libc.O_CREAT | PosixFs.O_EXCL | PosixFs.O_NOFOLLOW, (int)NewFileMode);
                if (created >= 0)
                {
                    if (PosixFs.FchmodRaw(created, NewFileMode) != 0)
                    {
                        string reason = Libc.LastError();
                        Libc.Close(created);
                        throw Failed(path, mode, "failed to set permissions: " + reason);
                    }

                    return new PosixGuestFile(created);
                }

                if (Marshal.GetLastPInvokeError() != PosixFs.EEXIST)
                {
                    throw Failed(path, mode, Libc.LastError());
                }
            }

            int fd = Libc.Open(path, flags, 0);
            if (fd >= 0)
            {
                return new PosixGuestFile(fd);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (!parsed.Create || errno != PosixFs.ENOENT || attempt >= 3 || IsLink(path))
            {
                throw Failed(path, mode, Libc.StrError(errno));
            }
        }
    }

    private static bool IsLink(string path)
    {
        try
        {
            return new System.IO.FileInfo(path).LinkTarget is not null;
        }
        catch (System.IO.IOException)
        {
            return false;
        }
    }

    private static AgentCommandException Failed(string path, string mode, string reason) =>
        new("failed to open file '" + path + "' (mode: '" + mode + "'): " + reason);

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

    public (int Count, bool Eof) Read(Span<byte> buffer)
    {
        int count = buffer.Length;
        if (count == 0)
        {
            return (0, false);
        }

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

        return (total, eof);
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
