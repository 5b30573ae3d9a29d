using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// The file extensions done link-safely (see <see cref="PosixFs"/>): the agent is root, the
/// folders it works in may belong to guest users, and .NET's path APIs follow whatever link a
/// user swaps in between a check and a use.
/// </summary>
public sealed partial class LinuxCommandHandler
{
    public override ValueTask GuestFileMkdirAsync(string path, bool? parents, long? mode, CancellationToken cancellationToken)
    {
        uint? m = mode is long v ? (uint)(v & 0xFFF) : null;
        using PosixFs.Fd? dir = PosixFs.OpenParent(path, out string leaf, createMissing: parents == true);
        if (dir is null)
        {
            throw PosixFs.Error(path, "No such file or directory");
        }

        PosixFs.Statx? existing = PosixFs.StatAt(dir, leaf, path);
        if (existing is not null)
        {
            if (parents == true && existing.Value.Type == PosixFs.S_IFDIR)
            {
                return ValueTask.CompletedTask;
            }

            throw PosixFs.Error(path, "File exists");
        }

        PosixFs.MakeDirectory(dir, leaf, m, path).Dispose();
        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestFileRenameAsync(string source, string destination, bool? overwrite, CancellationToken cancellationToken)
    {
        using PosixFs.Fd from = PosixFs.OpenParent(source, out string fromLeaf);
        using PosixFs.Fd to = PosixFs.OpenParent(destination, out string toLeaf);
        if (PosixFs.StatAt(from, fromLeaf, source) is null)
        {
            throw PosixFs.Error(source, "No such file or directory");
        }

        // renameat moves the entry itself: a link is moved as a link, a folder over an empty folder as rename(2).
        PosixFs.Rename(from, fromLeaf, to, toLeaf, overwrite == true, source);
        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestFileRemoveAsync(string path, bool? recursive, bool? missingOk, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        if (Path.GetPathRoot(full) == full)
        {
            throw new Core.AgentCommandException("refusing to remove the filesystem root '" + PosixFs.Printable(path) + "'");
        }

        using PosixFs.Fd? dir = PosixFs.OpenParent(path, out string leaf, createMissing: false);
        if (dir is null || PosixFs.StatAt(dir, leaf, path) is null)
        {
            return missingOk == true ? ValueTask.CompletedTask : throw PosixFs.Error(path, "No such file or directory");
        }

        PosixFs.Remove(dir, leaf, recursive == true, path);
        return ValueTask.CompletedTask;
    }

    public override ValueTask GuestFileSetAttributesAsync(string path, long? mode, long? mtime, long? uid, long? gid, CancellationToken cancellationToken)
    {
        // On the descriptor, opened without following a link a user could have planted (a
        // root-owned link is followed, as the schema promises); O_NONBLOCK so a FIFO cannot hold us.
        using PosixFs.Fd fd = PosixFs.OpenFollowingTrusted(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY);
        if (uid is not null || gid is not null)
        {
            PosixFs.Fchown(fd, uid is long u ? (uint)u : uint.MaxValue, gid is long g ? (uint)g : uint.MaxValue, path);
        }

        if (mode is long m)
        {
            PosixFs.Fchmod(fd, (uint)(m & 0xFFF), path);
        }

        if (mtime is long ns)
        {
            PosixFs.SetMtime(fd, ns, path);
        }

        return ValueTask.CompletedTask;
    }
}
