using System;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// guest-exec on Windows through the Process class (CreateProcess): raw output bytes (no code
/// page conversion), no "merged" (like qemu-ga on Windows), tree kill via the job-like
/// Process.Kill(entireProcessTree). Untested on Windows: see docs/agent-windows.md.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class WindowsProcessLauncher : IProcessLauncher
{
    public bool SupportsMerged => false;

    public LaunchedProcess Launch(ExecRequest request)
    {
        var psi = new ProcessStartInfo(request.Path)
        {
            UseShellExecute = false,
            CreateNoWindow = true,
            RedirectStandardInput = true,
            RedirectStandardOutput = request.Capture is CaptureMode.Stdout or CaptureMode.Separated,
            RedirectStandardError = request.Capture is CaptureMode.Stderr or CaptureMode.Separated,
            WorkingDirectory = request.WorkingDirectory ?? string.Empty,
        };
        foreach (string a in request.Arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (request.Environment is not null)
        {
            if (!request.InheritEnvironment)
            {
                psi.Environment.Clear();
            }

            foreach (string e in request.Environment)
            {
                int eq = e.IndexOf('=', 1);
                if (eq > 0)
                {
                    psi.Environment[e.Substring(0, eq)] = e.Substring(eq + 1);
                }
            }
        }

        try
        {
            Process p = Process.Start(psi) ?? throw AgentCommandException.CommandFailed("Failed to execute child process \u201c" + request.Path + "\u201d");
            Stream stdin = p.StandardInput.BaseStream;
            if (request.Input is null && !request.StreamInput)
            {
                stdin.Dispose();
                stdin = null!;
            }

            return new Launched(p, stdin, psi.RedirectStandardOutput ? p.StandardOutput.BaseStream : null, psi.RedirectStandardError ? p.StandardError.BaseStream : null);
        }
        catch (Win32Exception ex)
        {
            throw AgentCommandException.CommandFailed("Failed to execute child process \u201c" + request.Path + "\u201d (" + ex.Message + ")");
        }
    }

    private sealed class Launched : LaunchedProcess
    {
        private readonly Process _process;

        public Launched(Process process, Stream? stdin, Stream? stdout, Stream? stderr)
        {
            _process = process;
            Stdin = stdin;
            Stdout = stdout;
            Stderr = stderr;
        }

        public override long Pid => _process.Id;

        public override Stream? Stdin { get; }

        public override Stream? Stdout { get; }

        public override Stream? Stderr { get; }

        public override (long? ExitCode, long? Signal) WaitForExit()
        {
            _process.WaitForExit();
            return (_process.ExitCode, null);
        }

        public override void Kill(int signal, bool tree)
        {
            try
            {
                _process.Kill(tree);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
