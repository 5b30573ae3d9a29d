using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace QemuGuest.Protocol.Transports;

/// <summary>What a path is expected to be.</summary>
public enum TrustedPathKind
{
    /// <summary>A folder only its owner may enter (the relay's RuntimeDirectory): no group/other bits at all.</summary>
    PrivateDirectory,

    /// <summary>A folder others may read but not change (discovery folders): no group/other write unless sticky.</summary>
    Directory,

    /// <summary>
    /// A unix socket to connect to (its type is not judged: what is not a socket fails to
    /// connect anyway; that it is no link and has a trusted owner is what matters).
    /// </summary>
    Socket,
}

/// <summary>The outcome of <see cref="UnixPathTrust.Check"/>.</summary>
public enum PathTrustVerdict
{
    Trusted,

    /// <summary>Examined and found unsafe: <see cref="PathTrust.Path"/> and <see cref="PathTrust.Reason"/> say why.</summary>
    Untrusted,

    /// <summary>The path does not exist (its parents were not examined).</summary>
    Missing,

    /// <summary>The path could not be examined (permission denied, ...); whoever opens it next meets the same error.</summary>
    Unreadable,
}

/// <summary>A verdict, the path it is about (the checked path or one of its parents) and the reason.</summary>
public readonly struct PathTrust
{
    public PathTrust(PathTrustVerdict verdict, string path, string reason)
    {
        Verdict = verdict;
        Path = path;
        Reason = reason;
    }

    public PathTrustVerdict Verdict { get; }

    public string Path { get; }

    public string Reason { get; }

    public bool IsTrusted => Verdict == PathTrustVerdict.Trusted;

    /// <summary>"PATH: REASON", printable, for errors and logs.</summary>
    public override string ToString() => GuestText.Printable(Path) + ": " + Reason;
}

/// <summary>
/// Decides whether the host may trust a folder or socket it is about to use. Whoever can
/// replace a socket (or the folder it lives in) can put their own listener there and
/// impersonate the relay or the agent: read every command, answer with lies. So a path is
/// trusted only when it is not a symbolic link, is owned by root, the current user or an
/// owner named as trusted, and neither it nor any folder above it can be changed by anyone
/// else (no group/other write bits unless sticky, as /tmp). Checked with lstat (statx with
/// AT_SYMLINK_NOFOLLOW, whose layout is the same on every Linux architecture); the folders
/// above are walked both as written and as resolved, so a link on the way is judged too.
/// Windows uses named pipes with their own ACLs and other Unix systems are not examined:
/// both report Trusted.
/// </summary>
public static class UnixPathTrust
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int S_IFMT = 0xF000;
    private const int S_IFDIR = 0x4000;
    private const int S_IFLNK = 0xA000;
    private const int S_ISVTX = 0x200;

    /// <summary>False where the checks do not apply (Windows, non-Linux Unix).</summary>
    public static bool IsSupported { get; } = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);

    /// <summary>
    /// Checks <paramref name="path"/> as a <paramref name="kind"/>, then every folder above it.
    /// <paramref name="trustedOwners"/> are uids trusted besides root and the current user
    /// (libvirt's folders belong to libvirt-qemu).
    /// </summary>
    public static PathTrust Check(string path, TrustedPathKind kind, IReadOnlyCollection<uint>? trustedOwners = null)
    {
        if (path is null)
        {
            throw new ArgumentNullException(nameof(path));
        }

        string full = Path.GetFullPath(path);
        if (full.Length > 1)
        {
            full = full.TrimEnd('/');
        }

        if (!IsSupported)
        {
            return new PathTrust(PathTrustVerdict.Trusted, full, "not examined on this platform");
        }

        uint me = geteuid();
        if (!TryStat(full, out var st, out int errno))
        {
            return errno is ENOENT or ENOTDIR
                ? new PathTrust(PathTrustVerdict.Missing, full, "does not exist")
                : new PathTrust(PathTrustVerdict.Unreadable, full, "cannot be examined: " + ErrnoText(errno));
        }

        string? problem = JudgeSelf(st, kind, me, trustedOwners);
        if (problem is not null)
        {
            return new PathTrust(PathTrustVerdict.Untrusted, full, problem);
        }

        string? parent = Path.GetDirectoryName(full);
        if (parent is null)
        {
            return new PathTrust(PathTrustVerdict.Trusted, full, "trusted");
        }

        // The folder a socket is looked up in is named by configuration (the relay's runtime
        // directory, QEMUGUEST_RELAY_DIR): the relay refuses a link there, so its clients do too.
        if (kind == TrustedPathKind.Socket && TryStat(parent, out var folder, out _) && (folder.Mode & S_IFMT) == S_IFLNK)
        {
            return new PathTrust(PathTrustVerdict.Untrusted, parent, "is a symbolic link (a link can point the relay or the cmdlets anywhere its owner likes)");
        }

        var verdict = CheckAncestors(parent, me, trustedOwners);
        if (verdict is not null)
        {
            return verdict.Value;
        }

        string? real = RealPath(parent);
        if (real is null)
        {
            return new PathTrust(PathTrustVerdict.Unreadable, parent, "cannot be resolved: " + ErrnoText(Marshal.GetLastWin32Error()));
        }

        if (!string.Equals(real, parent, StringComparison.Ordinal))
        {
            verdict = CheckAncestors(real, me, trustedOwners);
            if (verdict is not null)
            {
                return verdict.Value;
            }
        }

        return new PathTrust(PathTrustVerdict.Trusted, full, "trusted");
    }

    /// <summary>The uid of a user name, or of a number written as one; null when unknown.</summary>
    public static uint? ResolveOwner(string nameOrUid)
    {
        if (uint.TryParse(nameOrUid, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint uid))
        {
            return uid;
        }

        if (!IsSupported || nameOrUid.Length == 0)
        {
            return null;
        }

        IntPtr pw = getpwnam(Utf8Z(nameOrUid));
        // struct passwd begins { char *pw_name; char *pw_passwd; uid_t pw_uid; ... } on every libc.
        return pw == IntPtr.Zero ? null : (uint)Marshal.ReadInt32(pw, 2 * IntPtr.Size);
    }

    private static string? JudgeSelf(in Statx st, TrustedPathKind kind, uint me, IReadOnlyCollection<uint>? trusted)
    {
        int type = st.Mode & S_IFMT;
        if (type == S_IFLNK)
        {
            return "is a symbolic link (a link can point the relay or the cmdlets anywhere its owner likes)";
        }

        if (kind != TrustedPathKind.Socket && type != S_IFDIR)
        {
            return "is not a folder";
        }

        string? owner = JudgeOwner(st.Uid, me, trusted);
        if (owner is not null)
        {
            return owner;
        }

        int mode = st.Mode & 0xFFF;
        if (kind == TrustedPathKind.PrivateDirectory && (mode & 0x3F) != 0)
        {
            return $"has mode {Octal(mode)}: group and others must have no access (0700)";
        }

        if (kind == TrustedPathKind.Directory && (mode & 0x12) != 0 && (mode & S_ISVTX) == 0)
        {
            return $"has mode {Octal(mode)}: writable by group or others, who could replace its sockets";
        }

        return null;
    }

    private static PathTrust? CheckAncestors(string folder, uint me, IReadOnlyCollection<uint>? trusted)
    {
        // From the root down, so the first finding is the outermost unsafe folder.
        var chain = new List<string>();
        for (string? p = folder; p is not null; p = Path.GetDirectoryName(p))
        {
            chain.Add(p);
        }

        for (int i = chain.Count - 1; i >= 0; i--)
        {
            string p = chain[i];
            if (!TryStat(p, out var st, out int errno))
            {
                return new PathTrust(errno is ENOENT or ENOTDIR ? PathTrustVerdict.Missing : PathTrustVerdict.Unreadable, p, "cannot be examined: " + ErrnoText(errno));
            }

            string? problem = JudgeOwner(st.Uid, me, trusted);
            if (problem is null && (st.Mode & S_IFMT) == S_IFDIR && (st.Mode & 0x12) != 0 && (st.Mode & S_ISVTX) == 0)
            {
                problem = $"has mode {Octal(st.Mode & 0xFFF)}: writable by group or others, who could rename what lies below it";
            }

            if (problem is not null)
            {
                return new PathTrust(PathTrustVerdict.Untrusted, p, problem);
            }
        }

        return null;
    }

    private static string? JudgeOwner(uint uid, uint me, IReadOnlyCollection<uint>? trusted)
    {
        if (uid == 0 || uid == me || (trusted is not null && Contains(trusted, uid)))
        {
            return null;
        }

        return $"is owned by {OwnerName(uid)}, not by root or the current user, {OwnerName(me)}";
    }

    private static bool Contains(IReadOnlyCollection<uint> set, uint value)
    {
        foreach (uint v in set)
        {
            if (v == value)
            {
                return true;
            }
        }

        return false;
    }

    private static string OwnerName(uint uid)
    {
        IntPtr pw = getpwuid(uid);
        string id = uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (pw == IntPtr.Zero)
        {
            return "uid " + id;
        }

        string? name = FromUtf8Z(Marshal.ReadIntPtr(pw));
        return name is null ? "uid " + id : GuestText.Printable(name) + " (uid " + id + ")";
    }

    private static string Octal(int mode) => "0" + Convert.ToString(mode, 8);

    private static unsafe bool TryStat(string path, out Statx st, out int errno)
    {
        st = default;
        byte* buffer = stackalloc byte[256];
        if (statx(AtFdCwd, Utf8Z(path), AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            errno = Marshal.GetLastWin32Error();
            return false;
        }

        // struct statx: stx_mask u32 @0, stx_blksize u32 @4, stx_attributes u64 @8,
        // stx_nlink u32 @16, stx_uid u32 @20, stx_gid u32 @24, stx_mode u16 @28.
        st = new Statx(*(uint*)(buffer + 20), *(ushort*)(buffer + 28));
        errno = 0;
        return true;
    }

    private static string? RealPath(string path)
    {
        IntPtr resolved = realpath(Utf8Z(path), IntPtr.Zero);
        if (resolved == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return FromUtf8Z(resolved);
        }
        finally
        {
            free(resolved);
        }
    }

    private static string ErrnoText(int errno) => errno switch
    {
        ENOENT => "no such file or folder",
        ENOTDIR => "a part of it is not a folder",
        13 => "permission denied",
        40 => "too many levels of symbolic links",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static byte[] Utf8Z(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        var bytes = new byte[n + 1];
        Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
        return bytes;
    }

    private static unsafe string? FromUtf8Z(IntPtr p)
    {
        if (p == IntPtr.Zero)
        {
            return null;
        }

        byte* b = (byte*)p;
        int n = 0;
        while (b[n] != 0 && n < 65536)
        {
            n++;
        }

        return Encoding.UTF8.GetString(b, n);
    }

    private readonly struct Statx
    {
        public Statx(uint uid, ushort mode)
        {
            Uid = uid;
            Mode = mode;
        }

        public uint Uid { get; }

        public int Mode { get; }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe int statx(int dirfd, byte[] path, int flags, uint mask, byte* buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath(byte[] path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwnam(byte[] name);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwuid(uint uid);
}
