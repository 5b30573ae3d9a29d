using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Handlers;

/// <summary>The __com.qemuguest_ extensions: portable .NET file APIs plus the exec manager.</summary>
public abstract partial class CommandHandler
{
    public const int MaxListEntries = 10000;
    public const int DefaultListEntries = 1000;

    public ValueTask<GuestAgentCapabilities> GuestAgentCapabilitiesAsync(CancellationToken cancellationToken)
    {
        // The agent's framer refuses a request whose tokens reach QEMU's MAX_TOKEN_SIZE.
        long maxMessage = JsonMessageReader.QemuMaxTokenBytes - 1;
        var extensions = new List<string>();
        foreach (var c in Context.AvailableCommands())
        {
            if (c.Name.StartsWith("__com.qemuguest_", StringComparison.Ordinal))
            {
                extensions.Add(c.Name);
            }
        }

        return Done(new GuestAgentCapabilities(
            AgentInfo.Version,
            maxMessage,
            FileHandleTable.MaxReadCount,
            (maxMessage - 4096) / 4 * 3,
            ExecManager.MaxKeptOutputBytes,
            ExecManager.MaxReadBytes,
            MaxListEntries,
            extensions)
        {
            MaxExecInputBytes = ExecManager.StreamInputWindowBytes,
            MaxBulkFrameBytes = BulkFrame.MaxPayloadBytes,
        });
    }

    public ValueTask<GuestFileBulkStart> GuestFileBulkAsync(long handle, GuestFileBulkDirection direction, long count, CancellationToken cancellationToken)
    {
        if (count < 0 || count > BulkSlot.MaxCount)
        {
            throw new AgentCommandException("value '" + count.ToString(System.Globalization.CultureInfo.InvariantCulture) + "' is invalid for argument count");
        }

        IGuestFile file = Files.Get(handle);
        Context.Bulk.Offer(new BulkTransfer(handle, file, direction == GuestFileBulkDirection.Write, count));
        return Done(new GuestFileBulkStart(BulkFrame.MaxPayloadBytes));
    }

    public ValueTask<GuestFileInfo> GuestFileStatAsync(string path, bool? followSymlinks, CancellationToken cancellationToken)
    {
        FileSystemInfo info = Describe(path, followSymlinks != false);
        var (type, size, mode, mtime, target) = Facts(info);
        var (uid, gid) = Owner(info.FullName, followSymlinks != false);
        return Done(new GuestFileInfo(type, size, mode, mtime) { Uid = uid, Gid = gid, LinkTarget = target });
    }

    public ValueTask<GuestDirListing> GuestFileListAsync(string path, string? after, long? maxEntries, CancellationToken cancellationToken)
    {
        long max = maxEntries ?? DefaultListEntries;
        if (max < 1)
        {
            throw new AgentCommandException("Parameter 'max-entries' expects a value of at least 1");
        }

        max = Math.Min(max, MaxListEntries);
        var dir = new DirectoryInfo(path);
        if (!dir.Exists)
        {
            throw FileError(path, File.Exists(path) ? new IOException("Not a directory") : new DirectoryNotFoundException("No such file or directory"));
        }

        var names = new List<FileSystemInfo>();
        try
        {
            foreach (FileSystemInfo e in dir.EnumerateFileSystemInfos())
            {
                if (after is null || string.CompareOrdinal(e.Name, after) > 0)
                {
                    names.Add(e);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }

        names.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var entries = new List<GuestDirEntry>();
        foreach (FileSystemInfo e in names)
        {
            if (entries.Count >= max)
            {
                break;
            }

            var (type, size, mode, mtime, target) = Facts(e);
            entries.Add(new GuestDirEntry(e.Name, type, size, mode, mtime) { LinkTarget = target });
        }

        string full = Path.GetFullPath(path);
        return Done(new GuestDirListing(full, entries, names.Count > entries.Count));
    }

    public async ValueTask<GuestFileHash> GuestFileHashAsync(string path, GuestFileHashAlgorithm? algorithm, long? offset, long? length, CancellationToken cancellationToken)
    {
        if (offset < 0)
        {
            throw new AgentCommandException("Parameter 'offset' expects a non-negative value");
        }

        if (length < 0)
        {
            throw new AgentCommandException("Parameter 'length' expects a non-negative value");
        }

        GuestFileHashAlgorithm alg = algorithm ?? GuestFileHashAlgorithm.Sha256;
        using IncrementalHash hash = alg switch
        {
            GuestFileHashAlgorithm.Sha1 => IncrementalHash.CreateHash(HashAlgorithmName.SHA1),
            GuestFileHashAlgorithm.Md5 => IncrementalHash.CreateHash(HashAlgorithmName.MD5),
            _ => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        };
        long hashed = 0;
        try
        {
            if (Directory.Exists(path))
            {
                throw new IOException("Is a directory");
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
            long start = offset ?? 0;
            if (start > 0)
            {
                stream.Seek(start, SeekOrigin.Begin);
            }

            long remaining = length ?? long.MaxValue;
            byte[] buffer = new byte[1024 * 1024];
            while (remaining > 0)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (n <= 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, n);
                hashed += n;
                remaining -= n;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }

        return new GuestFileHash(alg, Convert.ToHexStringLower(hash.GetHashAndReset()), hashed);
    }

    public virtual ValueTask GuestFileMkdirAsync(string path, bool? parents, long? mode, CancellationToken cancellationToken)
    {
        try
        {
            if (parents == true)
            {
                if (Directory.Exists(path))
                {
                    return ValueTask.CompletedTask;
                }

                string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
                if (parent is not null && !Directory.Exists(parent))
                {
                    Directory.CreateDirectory(parent);
                }
            }
            else if (Directory.Exists(path) || File.Exists(path))
            {
                throw new IOException("File exists");
            }

            if (mode is long m && !OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(path, (UnixFileMode)(m & 0x1FF));
                File.SetUnixFileMode(path, (UnixFileMode)(m & 0xFFF));
            }
            else
            {
                string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
                if (parent is not null && !Directory.Exists(parent))
                {
                    throw new DirectoryNotFoundException("No such file or directory");
                }

                Directory.CreateDirectory(path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }

        return ValueTask.CompletedTask;
    }

    public virtual ValueTask GuestFileRenameAsync(string source, string destination, bool? overwrite, CancellationToken cancellationToken)
    {
        try
        {
            bool isDir = Directory.Exists(source) && !IsLink(source);
            if (!isDir && !File.Exists(source) && !IsLink(source))
            {
                throw new FileNotFoundException("No such file or directory");
            }

            bool destExists = File.Exists(destination) || Directory.Exists(destination) || IsLink(destination);
            if (destExists && overwrite != true)
            {
                throw new IOException("File exists");
            }

            if (isDir)
            {
                if (destExists && Directory.Exists(destination))
                {
                    Directory.Delete(destination); // only an empty directory, like rename(2)
                }

                Directory.Move(source, destination);
            }
            else
            {
                File.Move(source, destination, overwrite == true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(source, ex);
        }

        return ValueTask.CompletedTask;
    }

    public virtual ValueTask GuestFileRemoveAsync(string path, bool? recursive, bool? missingOk, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        if (Path.GetPathRoot(full) == full)
        {
            throw new AgentCommandException("refusing to remove the filesystem root '" + path + "'");
        }

        try
        {
            if (IsLink(full) || File.Exists(full))
            {
                File.Delete(full);
            }
            else if (Directory.Exists(full))
            {
                Directory.Delete(full, recursive == true);
            }
            else if (missingOk != true)
            {
                throw new FileNotFoundException("No such file or directory");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }

        return ValueTask.CompletedTask;
    }

    public virtual ValueTask GuestFileSetAttributesAsync(string path, long? mode, long? mtime, long? uid, long? gid, CancellationToken cancellationToken)
    {
        try
        {
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                throw new FileNotFoundException("No such file or directory");
            }

            if (uid is not null || gid is not null)
            {
                SetOwner(path, uid, gid);
            }

            if (mode is long m)
            {
                if (OperatingSystem.IsWindows())
                {
                    var attrs = File.GetAttributes(path);
                    File.SetAttributes(path, (m & 0x80) != 0 ? attrs & ~FileAttributes.ReadOnly : attrs | FileAttributes.ReadOnly);
                }
                else
                {
                    File.SetUnixFileMode(path, (UnixFileMode)(m & 0xFFF));
                }
            }

            if (mtime is long ns)
            {
                DateTime t = DateTime.UnixEpoch.AddTicks(ns / 100);
                if (Directory.Exists(path))
                {
                    Directory.SetLastWriteTimeUtc(path, t);
                }
                else
                {
                    File.SetLastWriteTimeUtc(path, t);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<GuestExec> GuestExecStartAsync(string path, IReadOnlyList<string>? arg, IReadOnlyList<string>? env, string? inputData, GuestExecCaptureOutput? captureOutput, string? cwd, long? timeoutMs, bool? streamOutput, bool? inheritEnv, bool? streamInput, CancellationToken cancellationToken)
    {
        if (timeoutMs is <= 0)
        {
            throw new AgentCommandException("Parameter 'timeout-ms' expects a positive value");
        }

        byte[]? input = inputData is null ? null : QemuBase64.Decode(inputData);
        var request = new ExecRequest(path, arg ?? Array.Empty<string>(), env, inheritEnv == true, input, ExecManager.ResolveCapture(captureOutput), cwd, NewProcessGroup: true, StreamInput: streamInput == true);
        return Done(new GuestExec(Exec.Start(request, extended: true, streamed: streamOutput == true, timeoutMs)));
    }

    public ValueTask<GuestExecOutput> GuestExecReadAsync(long pid, long? maxBytes, long? waitMs, CancellationToken cancellationToken) =>
        Done(Exec.Read(pid, maxBytes, waitMs));

    public ValueTask<GuestExecWrite> GuestExecWriteAsync(long pid, QapiBase64 inputData, bool? close, CancellationToken cancellationToken)
    {
        byte[] buf = BoundedBufferPool.Shared.Rent(QemuBase64.MaxDecodedLength(inputData.Length));
        try
        {
            int length = QemuBase64.Decode(inputData.Utf8, buf);
            return Done(Exec.Write(pid, buf.AsSpan(0, length), close == true));
        }
        finally
        {
            BoundedBufferPool.Shared.Return(buf);
        }
    }

    public ValueTask GuestExecKillAsync(long pid, long? signal, bool? tree, CancellationToken cancellationToken)
    {
        Exec.Kill(pid, signal, tree);
        return ValueTask.CompletedTask;
    }

    /// <summary>(uid, gid) of a path, or nulls where the platform has none.</summary>
    protected virtual (long? Uid, long? Gid) Owner(string path, bool follow) => (null, null);

    protected virtual void SetOwner(string path, long? uid, long? gid) =>
        throw new AgentCommandException("uid and gid are not supported on this guest");

    private static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static FileSystemInfo Describe(string path, bool follow)
    {
        try
        {
            FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            if (!info.Exists && info.LinkTarget is null)
            {
                throw new FileNotFoundException("No such file or directory");
            }

            if (follow && info.LinkTarget is not null)
            {
                FileSystemInfo? final = info.ResolveLinkTarget(returnFinalTarget: true);
                if (final is null || !final.Exists)
                {
                    throw new FileNotFoundException("No such file or directory");
                }

                return final;
            }

            return info;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileError(path, ex);
        }
    }

    private static (GuestFileType Type, long Size, long Mode, long Mtime, string? Target) Facts(FileSystemInfo info)
    {
        string? target = info.LinkTarget;
        GuestFileType type;
        long size;
        if (target is not null)
        {
            type = GuestFileType.Symlink;
            size = OperatingSystem.IsWindows() ? 0 : System.Text.Encoding.UTF8.GetByteCount(target);
        }
        else if (info is DirectoryInfo)
        {
            type = GuestFileType.Directory;
            size = 0;
        }
        else if ((info.Attributes & FileAttributes.Device) != 0)
        {
            type = GuestFileType.Other;
            size = 0;
        }
        else
        {
            type = GuestFileType.File;
            size = ((FileInfo)info).Length;
        }

        long mode;
        if (OperatingSystem.IsWindows())
        {
            bool ro = (info.Attributes & FileAttributes.ReadOnly) != 0;
            mode = type == GuestFileType.Directory ? (ro ? 0x16D : 0x1FF) : (ro ? 0x124 : 0x1B6);
        }
        else
        {
            mode = (long)info.UnixFileMode;
        }

        long mtime = (info.LastWriteTimeUtc - DateTime.UnixEpoch).Ticks * 100;
        return (type, size, mode, mtime, target);
    }

    protected static AgentCommandException FileError(string path, Exception ex)
    {
        string reason = ex switch
        {
            FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
            UnauthorizedAccessException => "Permission denied",
            _ => ex.Message,
        };
        return new AgentCommandException("'" + path + "': " + reason);
    }
}
