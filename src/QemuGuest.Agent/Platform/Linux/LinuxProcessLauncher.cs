using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// Starts children with posix_spawnp(3), which gives exactly the stock agent's shape:
/// stdin /dev/null (or a pipe for input-data), uncaptured output to /dev/null, "merged" as one
/// pipe on fds 1 and 2, the environment replaced verbatim, SIGPIPE and the signal mask reset
/// (the runtime ignores SIGPIPE), PATH looked up in the agent's PATH, and a wait status that
/// tells an exit code from a terminating signal. Children are reaped with waitpid(2) on their
/// own thread.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe partial class LinuxProcessLauncher : IProcessLauncher
{
    private const string Lib = "libc";
    private const short POSIX_SPAWN_SETPGROUP = 0x02;
    private const short POSIX_SPAWN_SETSIGDEF = 0x04;
    private const short POSIX_SPAWN_SETSIGMASK = 0x08;
    private const int SIGPIPE = 13;
    private const int ESRCH = 3;

    public bool SupportsMerged => true;

    [LibraryImport(Lib, EntryPoint = "posix_spawnp")]
    private static partial int PosixSpawnp(out int pid, byte* file, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(void* fa);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(void* fa);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(void* fa, int fd, int newfd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddOpen(void* fa, int fd, string path, int oflag, int mode);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addchdir_np", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddChdir(void* fa, string path);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_init")]
    private static partial int AttrInit(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_destroy")]
    private static partial int AttrDestroy(void* attr);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setflags")]
    private static partial int AttrSetFlags(void* attr, short flags);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int AttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int AttrSetSigMask(void* attr, void* sigset);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setpgroup")]
    private static partial int AttrSetPgroup(void* attr, int pgroup);

    [LibraryImport(Lib, EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(void* set);

    [LibraryImport(Lib, EntryPoint = "sigaddset")]
    private static partial int SigAddSet(void* set, int signum);

    [LibraryImport(Lib, EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Lib, EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    public LaunchedProcess Launch(ExecRequest request)
    {
        var pipes = new List<int>();
        byte* fa = stackalloc byte[512];
        byte* attr = stackalloc byte[1024];
        byte* sigdef = stackalloc byte[256];
        byte* sigmask = stackalloc byte[256];
        FileActionsInit(fa);
        AttrInit(attr);
        var allocations = new List<IntPtr>();
        int stdinWrite = -1, outRead = -1, errRead = -1;
        try
        {
            // stdin
            if (request.Input is not null || request.StreamInput)
            {
                int* p = stackalloc int[2];
                MakePipe(p, pipes);
                FileActionsAddDup2(fa, p[0], 0);
                stdinWrite = p[1];
            }
            else
            {
                FileActionsAddOpen(fa, 0, "/dev/null", Libc.O_RDONLY, 0);
            }

            // stdout / stderr
            bool captureOut = request.Capture is CaptureMode.Stdout or CaptureMode.Separated or CaptureMode.Merged;
            bool captureErr = request.Capture is CaptureMode.Stderr or CaptureMode.Separated;
            if (captureOut)
            {
                int* p = stackalloc int[2];
                MakePipe(p, pipes);
                FileActionsAddDup2(fa, p[1], 1);
                if (request.Capture == CaptureMode.Merged)
                {
                    FileActionsAddDup2(fa, p[1], 2);
                }

                outRead = p[0];
            }
            else
            {
                FileActionsAddOpen(fa, 1, "/dev/null", Libc.O_WRONLY, 0);
            }

            if (captureErr)
            {
                int* p = stackalloc int[2];
                MakePipe(p, pipes);
                FileActionsAddDup2(fa, p[1], 2);
                errRead = p[0];
            }
            else if (request.Capture != CaptureMode.Merged)
            {
                FileActionsAddOpen(fa, 2, "/dev/null", Libc.O_WRONLY, 0);
            }

            if (request.WorkingDirectory is not null)
            {
                FileActionsAddChdir(fa, request.WorkingDirectory);
            }

            short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
            SigEmptySet(sigdef);
            SigAddSet(sigdef, SIGPIPE);
            SigEmptySet(sigmask);
            AttrSetSigDefault(attr, sigdef);
            AttrSetSigMask(attr, sigmask);
            if (request.NewProcessGroup)
            {
                flags |= POSIX_SPAWN_SETPGROUP;
                AttrSetPgroup(attr, 0);
            }

            AttrSetFlags(attr, flags);

            var argvList = new List<string>(request.Arguments.Count + 1) { request.Path };
            argvList.AddRange(request.Arguments);
            byte** argv = ToCStringArray(argvList, allocations);
            byte** envp = ToCStringArray(BuildEnvironment(request), allocations);
            byte* file = (byte*)Marshal.StringToCoTaskMemUTF8(request.Path);
            allocations.Add((IntPtr)file);

            int rc = PosixSpawnp(out int pid, file, fa, attr, argv, envp);
            if (rc != 0)
            {
                if (stdinWrite >= 0)
                {
                    Libc.Close(stdinWrite);
                }

                if (outRead >= 0)
                {
                    Libc.Close(outRead);
                }

                if (errRead >= 0)
                {
                    Libc.Close(errRead);
                }

                string what = request.WorkingDirectory is not null && !Directory.Exists(request.WorkingDirectory)
                    ? "Failed to change to directory \u201c" + request.WorkingDirectory + "\u201d (" + Libc.StrError(rc) + ")"
                    : "Failed to execute child process \u201c" + request.Path + "\u201d (" + Libc.StrError(rc) + ")";
                throw AgentCommandException.CommandFailed(what);
            }

            return new SpawnedProcess(
                pid,
                request.NewProcessGroup,
                stdinWrite >= 0 ? new FdStream(stdinWrite, isSocket: false) : null,
                outRead >= 0 ? new FdStream(outRead, isSocket: false) : null,
                errRead >= 0 ? new FdStream(errRead, isSocket: false) : null);
        }
        finally
        {
            // Close the child's ends of the pipes in the agent.
            foreach (int fd in pipes)
            {
                if (fd != stdinWrite && fd != outRead && fd != errRead)
                {
                    Libc.Close(fd);
                }
            }

            foreach (IntPtr p in allocations)
            {
                Marshal.FreeCoTaskMem(p);
            }

            FileActionsDestroy(fa);
            AttrDestroy(attr);
        }
    }

    private static void MakePipe(int* p, List<int> pipes)
    {
        if (Pipe2(p, Libc.O_CLOEXEC) != 0)
        {
            throw AgentCommandException.CommandFailed("Failed to create pipe for communicating with child process (" + Libc.LastError() + ")");
        }

        pipes.Add(p[0]);
        pipes.Add(p[1]);
    }

    private static List<string> BuildEnvironment(ExecRequest request)
    {
        var result = new List<string>();
        if (request.Environment is null || request.InheritEnvironment)
        {
            var inherited = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                inherited[(string)e.Key] = (string?)e.Value ?? string.Empty;
            }

            if (request.Environment is not null)
            {
                foreach (string entry in request.Environment)
                {
                    int eq = entry.IndexOf('=');
                    if (eq > 0)
                    {
                        inherited[entry.Substring(0, eq)] = entry.Substring(eq + 1);
                    }
                }
            }

            foreach (var kv in inherited)
            {
                result.Add(kv.Key + "=" + kv.Value);
            }

            return result;
        }

        result.AddRange(request.Environment);
        return result;
    }

    private static byte** ToCStringArray(List<string> items, List<IntPtr> allocations)
    {
        byte** array = (byte**)Marshal.AllocCoTaskMem((items.Count + 1) * sizeof(byte*));
        allocations.Add((IntPtr)array);
        for (int i = 0; i < items.Count; i++)
        {
            IntPtr s = Marshal.StringToCoTaskMemUTF8(items[i]);
            allocations.Add(s);
            array[i] = (byte*)s;
        }

        array[items.Count] = null;
        return array;
    }

    private sealed class SpawnedProcess : LaunchedProcess
    {
        private readonly int _pid;
        private readonly bool _group;
        private volatile bool _reaped;

        public SpawnedProcess(int pid, bool group, Stream? stdin, Stream? stdout, Stream? stderr)
        {
            _pid = pid;
            _group = group;
            Stdin = stdin;
            Stdout = stdout;
            Stderr = stderr;
        }

        public override long Pid => _pid;

        public override Stream? Stdin { get; }

        public override Stream? Stdout { get; }

        public override Stream? Stderr { get; }

        public override (long? ExitCode, long? Signal) WaitForExit()
        {
            while (true)
            {
                int r = WaitPid(_pid, out int status, 0);
                if (r == _pid)
                {
                    _reaped = true;
                    int termsig = status & 0x7f;
                    if (termsig == 0)
                    {
                        return ((status >> 8) & 0xff, null);
                    }

                    return (null, termsig);
                }

                if (Marshal.GetLastPInvokeError() != Libc.EINTR)
                {
                    _reaped = true;
                    return (null, null);
                }
            }
        }

        public override void Kill(int signal, bool tree)
        {
            if (_reaped)
            {
                return;
            }

            int target = tree && _group ? -_pid : _pid;
            if (KillNative(target, signal) != 0 && Marshal.GetLastPInvokeError() != ESRCH)
            {
                throw new AgentCommandException("failed to signal process " + _pid + ": " + Libc.LastError());
            }
        }
    }
}
