using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using QemuGuest.Agent.Core;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// Link-safe file operations for an agent that runs as root among untrusted guest users.
/// A path is walked one component at a time with openat(O_NOFOLLOW|O_DIRECTORY), so a user who
/// swaps a folder for a symlink mid-walk cannot redirect us; a symlink is followed only when
/// root or the agent's own user owns it (a user can plant links, never root-owned ones). Files
/// are created under random names with O_CREAT|O_EXCL|O_NOFOLLOW, modes and owners are set on
/// the descriptor, and the result is renamed into place: nothing is ever chmod/chowned by path.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class PosixFs
{
    public const int O_EXCL = 0x80;
    public const int O_NOFOLLOW = 0x20000;

    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_REMOVEDIR = 0x200;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint RENAME_NOREPLACE = 1;
    private const uint STATX_BASIC_STATS = 0x7FF;

    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int ELOOP = 40;
    public const int ENOTEMPTY = 39;

    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;

    /// <summary>Symlinks followed in one resolution, as the kernel's MAXSYMLINKS.</summary>
    public const int MaxLinkHops = 40;

    /// <summary>Folder depth of a recursive remove: one descriptor per level, well under the fd limit.</summary>
    public const int MaxRemoveDepth = 256;

    private const int DirFlags = Libc.O_RDONLY | Libc.O_DIRECTORY | O_NOFOLLOW | Libc.O_CLOEXEC;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(24)]
        public uint Gid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(40)]
        public ulong Size;

        public readonly uint Type => Mode & S_IFMT;
    }

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAtNative(int dirfd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirAtNative(int dirfd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkAtNative(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2Native(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint ReadlinkAtNative(int dirfd, string path, byte* buf, nint size);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, out Statx buf);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FchmodNative(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    private static partial int FchownNative(int fd, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static partial int FutimensNative(int fd, Libc.Timespec* times);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    private static partial nint FdopendirNative(int fd);

    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    private static partial byte* ReaddirNative(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int ClosedirNative(nint dir);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int DupNative(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint UmaskNative(uint mask);

    /// <summary>An owned descriptor, closed on dispose.</summary>
    public sealed class Fd : IDisposable
    {
        public Fd(int value) => Value = value;

        public int Value { get; private set; }

        public void Dispose()
        {
            int v = Value;
            Value = -1;
            if (v >= 0)
            {
                Libc.Close(v);
            }
        }
    }

    /// <summary>A refused or failed file operation; the text names the (printable) path.</summary>
    public static AgentCommandException Error(string path, string reason) => new("'" + Printable(path) + "': " + reason);

    private static AgentCommandException Errno(string path, int errno) => Error(path, Libc.StrError(errno));

    /// <summary>A guest-controlled path made safe for a message (the protocol's one printer, not clipped short).</summary>
    public static string Printable(string s) => QemuGuest.Protocol.Validation.PathComponent.Printable(s, 4096);

    /// <summary>Whether a symlink with this owner may be followed: users can plant links, never root-owned ones.</summary>
    public static bool TrustedOwner(uint uid) => uid == 0 || uid == GetEuid();

    /// <summary>Opens the folder <paramref name="path"/> (absolute, or relative to the working directory).</summary>
    public static Fd OpenDirectory(string path)
    {
        CheckPath(path);
        return Walk(path, path.StartsWith('/') ? OpenRoot(path) : Dup(AT_FDCWD, path), path, Missing.Fail)!;
    }

    /// <summary>
    /// Opens the folder that holds <paramref name="path"/>'s last component and returns that
    /// component; "/" and a last component of "." or ".." are refused (they name no entry).
    /// </summary>
    public static Fd OpenParent(string path, out string leaf) => OpenParentFrom(AT_FDCWD, path, path, out leaf)!;

    /// <summary>
    /// <see cref="OpenParent(string, out string)"/> that returns null when a folder on the way is
    /// missing, or (<paramref name="createMissing"/>) creates it as mkdir -p does (0777 less the umask).
    /// </summary>
    public static Fd? OpenParent(string path, out string leaf, bool createMissing) =>
        OpenParentFrom(AT_FDCWD, path, path, out leaf, createMissing ? Missing.Create : Missing.Null);

    private enum Missing
    {
        Fail,
        Null,
        Create,
    }

    private static Fd? OpenParentFrom(int start, string path, string shown, out string leaf, Missing missing = Missing.Fail)
    {
        CheckPath(path);
        string trimmed = path.TrimEnd('/');
        if (trimmed.Length == 0)
        {
            throw Error(shown, "refusing to operate on the filesystem root");
        }

        int slash = trimmed.LastIndexOf('/');
        leaf = trimmed[(slash + 1)..];
        if (leaf is "." or "..")
        {
            throw Error(shown, "the last component must name an entry, not '" + leaf + "'");
        }

        string parent = slash < 0 ? string.Empty : trimmed[..(slash + 1)];
        Fd first = path.StartsWith('/') ? OpenRoot(shown) : Dup(start, shown);
        return Walk(parent, first, shown, missing);
    }

    /// <summary>
    /// Opens the entry <paramref name="path"/> names with <paramref name="flags"/> (O_NOFOLLOW is
    /// added); a symlink at the end is followed only when trusted. For set-attributes and reads.
    /// </summary>
    public static Fd OpenFollowingTrusted(string path, int flags)
    {
        int start = AT_FDCWD;
        string current = path;
        Fd? startFd = null;
        try
        {
            for (int hop = 0; ; hop++)
            {
                using Fd dir = OpenParentFrom(start, current, path, out string leaf)!;
                int fd = OpenAtNative(dir.Value, leaf, flags | O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd >= 0)
                {
                    return new Fd(fd);
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != ELOOP)
                {
                    throw Errno(path, errno);
                }

                string target = ReadTrustedLink(dir.Value, leaf, path);
                if (hop >= MaxLinkHops)
                {
                    throw Errno(path, ELOOP);
                }

                // A relative target is relative to the link's folder: keep that folder as the start.
                startFd?.Dispose();
                startFd = new Fd(DupNative(dir.Value));
                start = startFd.Value;
                current = target;
            }
        }
        finally
        {
            startFd?.Dispose();
        }
    }

    /// <summary>statx of an open descriptor.</summary>
    public static Statx Stat(Fd fd, string shown)
    {
        if (StatxNative(fd.Value, string.Empty, AT_EMPTY_PATH, STATX_BASIC_STATS, out Statx st) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }

        return st;
    }

    /// <summary>lstat of an entry in a folder; null when it does not exist.</summary>
    public static Statx? StatAt(Fd dir, string name, string shown)
    {
        if (StatxNative(dir.Value, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out Statx st) == 0)
        {
            return st;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == ENOENT ? null : throw Errno(shown, errno);
    }

    /// <summary>Opens the folder <paramref name="name"/> inside <paramref name="dir"/>, never through a link; null when missing.</summary>
    public static Fd? OpenSubdirectory(Fd dir, string name, string shown)
    {
        int fd = OpenAtNative(dir.Value, name, DirFlags, 0);
        if (fd >= 0)
        {
            return new Fd(fd);
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno is ELOOP or ENOTDIR && StatAt(dir, name, shown) is { Type: S_IFLNK })
        {
            // O_DIRECTORY|O_NOFOLLOW on a link reports ENOTDIR, not ELOOP: tell the two apart.
            throw Error(shown, "is a symbolic link; refusing to follow it");
        }

        return errno == ENOENT ? null : throw Errno(shown, errno);
    }

    /// <summary>
    /// mkdirat, then the new folder opened (never through a link) and, when given, its mode set
    /// on the descriptor; without a mode it gets 0777 less the umask, as mkdir(1).
    /// </summary>
    public static Fd MakeDirectory(Fd dir, string name, uint? mode, string shown)
    {
        // 0700 until the fchmod: nobody else can get in meanwhile.
        if (MkdirAtNative(dir.Value, name, mode is null ? 0x1FFu : 0x1C0u) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == EEXIST ? Error(shown, "File exists") : Errno(shown, errno);
        }

        Fd created = OpenSubdirectory(dir, name, shown) ?? throw Errno(shown, ENOENT);
        if (mode is uint m)
        {
            Fchmod(created, m, shown);
        }

        return created;
    }

    /// <summary>
    /// Reads a regular file (opened O_NOFOLLOW|O_NONBLOCK: a planted link or FIFO is refused,
    /// never followed or waited on), at most <paramref name="maxBytes"/>; null when missing.
    /// </summary>
    public static byte[]? ReadRegularFile(Fd dir, string name, long maxBytes, string shown)
    {
        int raw = OpenAtNative(dir.Value, name, Libc.O_RDONLY | O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (raw < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                ENOENT => null,
                ELOOP => throw Error(shown, "is a symbolic link; refusing to follow it"),
                _ => throw Errno(shown, errno),
            };
        }

        using var fd = new Fd(raw);
        Statx st = Stat(fd, shown);
        if (st.Type != S_IFREG)
        {
            throw Error(shown, "not a regular file");
        }

        if ((long)st.Size > maxBytes)
        {
            throw Error(shown, "larger than " + maxBytes + " bytes");
        }

        var buffer = new byte[maxBytes + 1];
        int total = 0;
        fixed (byte* p = buffer)
        {
            while (total < buffer.Length)
            {
                nint n = Libc.Read(fd.Value, p + total, buffer.Length - total);
                if (n == 0)
                {
                    break;
                }

                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw Errno(shown, errno);
                }

                total += (int)n;
            }
        }

        if (total > maxBytes)
        {
            throw Error(shown, "larger than " + maxBytes + " bytes");
        }

        Array.Resize(ref buffer, total);
        return buffer;
    }

    /// <summary>
    /// Replaces <paramref name="name"/> in <paramref name="dir"/> atomically: a random temp name
    /// created O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or link at any name makes us pick
    /// another, never write through it), owner and mode set on the descriptor, fsync, renameat.
    /// </summary>
    public static void WriteFileAtomic(Fd dir, string name, ReadOnlySpan<byte> data, uint mode, uint? uid, uint? gid, string shown)
    {
        using Fd tmp = CreateExclusive(dir, "." + name + ".", out string tmpName, shown);
        try
        {
            WriteAll(tmp, data, shown);
            if (uid is not null || gid is not null)
            {
                Fchown(tmp, uid ?? uint.MaxValue, gid ?? uint.MaxValue, shown);
            }

            Fchmod(tmp, mode, shown); // after fchown, which clears set-id bits
            if (Libc.Fsync(tmp.Value) != 0)
            {
                throw Errno(shown, Marshal.GetLastPInvokeError());
            }

            Rename(dir, tmpName, dir, name, overwrite: true, shown);
        }
        catch
        {
            UnlinkAtNative(dir.Value, tmpName, 0);
            throw;
        }
    }

    /// <summary>
    /// Unpredictable bytes from getrandom(2). RandomNumberGenerator would do, but on Linux it
    /// loads libssl and libcrypto (3.5 MiB of RSS, and their start-up on the path to the first
    /// reply) just because the agent writes qga.state when it starts.
    /// </summary>
    private static Span<byte> RandomBytes(Span<byte> buffer, string shown)
    {
        fixed (byte* p = buffer)
        {
            int filled = 0;
            while (filled < buffer.Length)
            {
                nint n = Libc.GetRandom(p + filled, buffer.Length - filled, 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw Errno(shown, errno);
                }

                filled += (int)n;
            }
        }

        return buffer;
    }

    /// <summary>A new file under a random name: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.</summary>
    public static Fd CreateExclusive(Fd dir, string prefix, out string createdName, string shown)
    {
        Span<byte> random = stackalloc byte[8];
        for (int attempt = 0; attempt < 16; attempt++)
        {
            string candidate = prefix + Convert.ToHexStringLower(RandomBytes(random, shown));
            int fd = OpenAtNative(dir.Value, candidate, Libc.O_WRONLY | Libc.O_CREAT | O_EXCL | O_NOFOLLOW | Libc.O_CLOEXEC, 0x180);
            if (fd >= 0)
            {
                createdName = candidate;
                return new Fd(fd);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != EEXIST)
            {
                throw Errno(shown, errno);
            }
        }

        throw Error(shown, "no free temporary name after 16 tries");
    }

    public static void Rename(Fd fromDir, string from, Fd toDir, string to, bool overwrite, string shown)
    {
        if (RenameAt2Native(fromDir.Value, from, toDir.Value, to, overwrite ? 0 : RENAME_NOREPLACE) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINVAL && !overwrite && StatAt(toDir, to, shown) is null)
            {
                // A filesystem without RENAME_NOREPLACE: checked then renamed, as the stock tools do there.
                if (RenameAt2Native(fromDir.Value, from, toDir.Value, to, 0) == 0)
                {
                    return;
                }

                errno = Marshal.GetLastPInvokeError();
            }

            throw errno == EEXIST ? Error(shown, "File exists") : Errno(shown, errno);
        }
    }

    public static int FchmodRaw(int fd, uint mode) => FchmodNative(fd, mode & 0xFFF);

    public static void Fchmod(Fd fd, uint mode, string shown)
    {
        if (FchmodNative(fd.Value, mode & 0xFFF) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }
    }

    public static void Fchown(Fd fd, uint uid, uint gid, string shown)
    {
        if (FchownNative(fd.Value, uid, gid) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Sets the modification time on the descriptor; the access time is left alone (UTIME_OMIT).</summary>
    public static void SetMtime(Fd fd, long nanoseconds, string shown)
    {
        Libc.Timespec* times = stackalloc Libc.Timespec[2];
        times[0] = new Libc.Timespec { Sec = 0, Nsec = (1L << 30) - 2 /* UTIME_OMIT */ };
        times[1] = new Libc.Timespec { Sec = Math.DivRem(nanoseconds, 1_000_000_000L, out long ns), Nsec = ns };
        if (times[1].Nsec < 0)
        {
            times[1].Sec--;
            times[1].Nsec += 1_000_000_000L;
        }

        if (FutimensNative(fd.Value, times) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Deletes <paramref name="name"/> in <paramref name="dir"/>: a link or file is unlinked itself;
    /// a folder, when <paramref name="recursive"/>, is emptied through descriptors (openat
    /// O_NOFOLLOW per level), so a folder swapped for a symlink mid-way is unlinked as a link and
    /// what it points to is never touched.
    /// </summary>
    public static void Remove(Fd dir, string name, bool recursive, string shown, int depth = 0)
    {
        if (UnlinkAtNative(dir.Value, name, 0) == 0)
        {
            return;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno != EISDIR && errno != 1 /* EPERM: unlink(2) of a folder on some filesystems */)
        {
            throw Errno(shown, errno);
        }

        if (recursive)
        {
            if (depth >= MaxRemoveDepth)
            {
                throw Error(shown, "folders nested deeper than " + MaxRemoveDepth + " levels; nothing below that removed");
            }

            using Fd? sub = OpenSubdirectory(dir, name, shown);
            if (sub is not null)
            {
                foreach (string child in ListNames(sub, shown))
                {
                    Remove(sub, child, recursive: true, shown + "/" + child, depth + 1);
                }
            }
        }

        if (UnlinkAtNative(dir.Value, name, AT_REMOVEDIR) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>The names in an open folder (without "." and ".."), read through a duplicate descriptor.</summary>
    public static List<string> ListNames(Fd dir, string shown)
    {
        int copy = DupNative(dir.Value);
        if (copy < 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }

        // Rewind: a dup shares the offset, and the folder may have been read before.
        Libc.Lseek(copy, 0, Libc.SEEK_SET);
        nint handle = FdopendirNative(copy);
        if (handle == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Libc.Close(copy);
            throw Errno(shown, errno);
        }

        var names = new List<string>();
        try
        {
            while (true)
            {
                byte* entry = ReaddirNative(handle);
                if (entry is null)
                {
                    break;
                }

                // struct dirent (glibc, 64-bit): d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name.
                string n = Marshal.PtrToStringUTF8((nint)(entry + 19)) ?? string.Empty;
                if (n is not ("." or ".."))
                {
                    names.Add(n);
                }
            }
        }
        finally
        {
            ClosedirNative(handle);
        }

        return names;
    }

    /// <summary>
    /// Creates an empty marker file (0600) if none is there: O_CREAT|O_NOFOLLOW, so a link planted
    /// at the name is refused rather than creating or touching its target.
    /// </summary>
    public static void CreateMarker(string path)
    {
        using Fd dir = OpenParent(path, out string leaf);
        int raw = OpenAtNative(dir.Value, leaf, Libc.O_WRONLY | Libc.O_CREAT | O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0x180);
        if (raw < 0)
        {
            throw Errno(path, Marshal.GetLastPInvokeError());
        }

        Libc.Close(raw);
    }

    /// <summary>
    /// The agent's log file for appending: created 0600 with O_NOFOLLOW (a link planted at the
    /// name is refused, not written through); an existing file must be a regular file.
    /// </summary>
    public static System.IO.FileStream OpenLogForAppend(string path)
    {
        using Fd dir = OpenParent(path, out string leaf);
        int raw = OpenAtNative(dir.Value, leaf, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0x180);
        if (raw < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == ELOOP ? Error(path, "is a symbolic link; refusing to follow it") : Errno(path, errno);
        }

        var fd = new Fd(raw);
        try
        {
            if (Stat(fd, path).Type != S_IFREG)
            {
                throw Error(path, "not a regular file");
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }

        return new System.IO.FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(raw, ownsHandle: true), System.IO.FileAccess.Write, 1);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the process umask set to <paramref name="mask"/>, for
    /// the one call that cannot take a mode (bind(2) of a unix socket).
    /// </summary>
    public static void WithUmask(uint mask, Action action)
    {
        uint old = UmaskNative(mask);
        try
        {
            action();
        }
        finally
        {
            UmaskNative(old);
        }
    }

    private static void WriteAll(Fd fd, ReadOnlySpan<byte> data, string shown)
    {
        int total = 0;
        fixed (byte* p = data)
        {
            while (total < data.Length)
            {
                nint n = Libc.Write(fd.Value, p + total, data.Length - total);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw Errno(shown, errno);
                }

                total += (int)n;
            }
        }
    }

    private static void CheckPath(string path)
    {
        if (path.Length == 0)
        {
            throw Error(path, "No such file or directory");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw Error(path, "contains a NUL character");
        }
    }

    private static Fd OpenRoot(string shown)
    {
        int fd = OpenAtNative(AT_FDCWD, "/", DirFlags, 0);
        return fd >= 0 ? new Fd(fd) : throw Errno(shown, Marshal.GetLastPInvokeError());
    }

    private static Fd Dup(int fd, string shown)
    {
        int d = fd == AT_FDCWD ? OpenAtNative(AT_FDCWD, ".", DirFlags, 0) : DupNative(fd);
        return d >= 0 ? new Fd(d) : throw Errno(shown, Marshal.GetLastPInvokeError());
    }

    /// <summary>Walks <paramref name="path"/> from <paramref name="current"/> (which it takes ownership of).</summary>
    private static Fd? Walk(string path, Fd current, string shown, Missing missing)
    {
        var pending = new Stack<string>();
        PushComponents(pending, path);
        int hops = 0;
        int created = 0;
        try
        {
            while (pending.Count > 0)
            {
                string component = pending.Pop();
                if (component.Length == 0 || component == ".")
                {
                    continue;
                }

                int fd = OpenAtNative(current.Value, component, DirFlags, 0);
                if (fd >= 0)
                {
                    current.Dispose();
                    current = new Fd(fd);
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENOENT && missing == Missing.Null)
                {
                    current.Dispose();
                    return null;
                }

                if (errno == ENOENT && missing == Missing.Create && component != ".." && ++created <= MaxLinkHops + 4096)
                {
                    if (MkdirAtNative(current.Value, component, 0x1FF) != 0 && Marshal.GetLastPInvokeError() != EEXIST)
                    {
                        throw Errno(shown, Marshal.GetLastPInvokeError());
                    }

                    pending.Push(component); // open what we (or a racing creator) made, by the same rules
                    continue;
                }

                if (errno != ELOOP && errno != ENOTDIR)
                {
                    throw Errno(shown, errno);
                }

                string target = ReadTrustedLink(current.Value, component, shown);
                if (++hops > MaxLinkHops)
                {
                    throw Errno(shown, ELOOP);
                }

                if (target.StartsWith('/'))
                {
                    current.Dispose();
                    current = OpenRoot(shown);
                }

                PushComponents(pending, target);
            }

            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        string[] parts = path.Split('/');
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }

    /// <summary>The target of a symlink we may follow; throws for a non-link (ENOTDIR) or an untrusted one.</summary>
    private static string ReadTrustedLink(int dir, string name, string shown)
    {
        if (StatxNative(dir, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out Statx st) != 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }

        if (st.Type != S_IFLNK)
        {
            throw Errno(shown, ENOTDIR);
        }

        if (!TrustedOwner(st.Uid))
        {
            throw Error(shown, "refusing to follow the symbolic link '" + Printable(name) + "' owned by uid " + st.Uid + " (only links owned by root are followed)");
        }

        byte* buf = stackalloc byte[4097];
        nint n = ReadlinkAtNative(dir, name, buf, 4097);
        if (n < 0)
        {
            throw Errno(shown, Marshal.GetLastPInvokeError());
        }

        if (n > 4096)
        {
            throw Error(shown, "symbolic link target longer than 4096 bytes");
        }

        return Encoding.UTF8.GetString(buf, (int)n);
    }
}
