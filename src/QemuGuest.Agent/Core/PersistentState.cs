using System;
using System.Globalization;
using System.IO;
using QemuGuest.Agent.Configuration;

namespace QemuGuest.Agent.Core;

/// <summary>
/// STATEDIR/qga.state, byte-compatible with qemu-ga's GLib keyfile
/// (<c>[global]\nfd_counter=N\n</c>): the next file handle, starting at 1000, shared by
/// every client and surviving reconnects and restarts. A missing file is created with the
/// default at start-up (unless frozen); a missing key means the default.
/// </summary>
public sealed class PersistentState
{
    public const long DefaultFdCounter = 1000;

    private readonly object _gate = new();
    private long _fdCounter = DefaultFdCounter;

    public PersistentState(string path)
    {
        FilePath = path;
    }

    public string FilePath { get; }

    public long FdCounter
    {
        get
        {
            lock (_gate)
            {
                return _fdCounter;
            }
        }
    }

    /// <summary>Loads (or creates) the state file. Returns an error text, or null.</summary>
    public string? Load(bool frozen)
    {
        lock (_gate)
        {
            _fdCounter = DefaultFdCounter;
            if (!File.Exists(FilePath))
            {
                if (Directory.Exists(FilePath))
                {
                    return "unable to access state file at path " + FilePath + ": Is a directory";
                }

                if (!frozen)
                {
                    return Write(DefaultFdCounter);
                }

                return null;
            }

            try
            {
                var kf = KeyFile.Parse(File.ReadAllText(FilePath));
                try
                {
                    if (kf.GetInt64("global", "fd_counter") is long v)
                    {
                        _fdCounter = v;
                    }
                }
                catch (FormatException)
                {
                    // Like qemu-ga: a tampered key falls back to the default (g_key_file_get_integer -> 0 there).
                    _fdCounter = DefaultFdCounter;
                }

                return null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                return "error loading persistent state from path: " + FilePath + ", " + ex.Message;
            }
        }
    }

    /// <summary>
    /// Takes the next handle and commits the counter before returning it, like ga_get_fd_handle.
    /// </summary>
    public long NextHandle()
    {
        lock (_gate)
        {
            long handle = _fdCounter;
            if (handle == long.MaxValue - 1)
            {
                throw new AgentCommandException("failed to commit persistent state to disk");
            }

            string? error = Write(handle + 1);
            if (error is not null)
            {
                throw new AgentCommandException("failed to commit persistent state to disk");
            }

            _fdCounter = handle + 1;
            return handle;
        }
    }

    private string? Write(long counter)
    {
        var kf = new KeyFile();
        kf.SetInt64("global", "fd_counter", counter);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                // A state directory others can write (-t /tmp/x) must not let them point our
                // temp name at a file of theirs: random O_EXCL|O_NOFOLLOW name, 0600, renameat.
                using Platform.Linux.PosixFs.Fd dir = Platform.Linux.PosixFs.OpenParent(FilePath, out string leaf);
                Platform.Linux.PosixFs.WriteFileAtomic(dir, leaf, System.Text.Encoding.UTF8.GetBytes(kf.ToData()), 0x180, null, null, FilePath);
                return null;
            }

            // g_file_set_contents: write a temp file, then rename over the target.
            string tmp = FilePath + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
            File.WriteAllText(tmp, kf.ToData());
            File.Move(tmp, FilePath, overwrite: true);
            return null;
        }
        catch (AgentCommandException ex)
        {
            return "failed to write persistent state to " + FilePath + ": " + ex.Message;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "failed to write persistent state to " + FilePath + ": " + ex.Message;
        }
    }
}
