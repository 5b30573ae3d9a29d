using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace QemuGuest.HostileAgent;

/// <summary>
/// A real guest agent as a child process in unix-listen mode, standing in for a VM's chardev:
/// ours (qemuguest-agent.dll, copied next to the test assembly by its project reference) or
/// Debian's /usr/sbin/qemu-ga. The one launcher of the xunit suites. A missing qemu-ga is a
/// failure, not a skip (CI installs it with apt). Every wait is bounded; the process is killed by
/// its own pid on dispose; its output is kept (bounded) for failure messages.
/// </summary>
public sealed class RealAgentProcess : IDisposable
{
    public const string StockPath = "/usr/sbin/qemu-ga";

    /// <summary>Long enough for a cold `dotnet qemuguest-agent.dll` on a loaded CI machine.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private const int MaxOutputChars = 1_000_000;
    private readonly StringBuilder _output = new();

    private RealAgentProcess(AgentKind kind, ProcessStartInfo psi, string socketPath)
    {
        Kind = kind;
        SocketPath = socketPath;
        Process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + psi.FileName);
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public AgentKind Kind { get; }

    public string SocketPath { get; }

    public Process Process { get; }

    /// <summary>Standard output and error, interleaved.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string OurDll => Path.Combine(AppContext.BaseDirectory, "qemuguest-agent.dll");

    /// <summary>
    /// The process for an agent with these arguments, not started (also for runs to exit: -D,
    /// -h, bad options). QGA_CONF points nowhere so a config file on the machine cannot change
    /// what a test sees.
    /// </summary>
    public static ProcessStartInfo StartInfo(AgentKind kind, IEnumerable<string> args)
    {
        ProcessStartInfo psi;
        if (kind == AgentKind.Stock)
        {
            if (!File.Exists(StockPath))
            {
                throw new InvalidOperationException(StockPath + " is missing: install Debian's qemu-guest-agent (apt-get install qemu-guest-agent)");
            }

            psi = new ProcessStartInfo(StockPath);
        }
        else
        {
            psi = new ProcessStartInfo("dotnet");
            psi.ArgumentList.Add(OurDll);
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.Environment["QGA_CONF"] = "/nonexistent/qemu-ga.conf";
        return psi;
    }

    /// <summary>
    /// Starts <c>-m unix-listen -p SOCKET -t STATEDIR</c> plus <paramref name="extraArgs"/>; returns
    /// at once (see <see cref="WaitUntilListening"/>).
    /// </summary>
    public static RealAgentProcess Start(
        AgentKind kind,
        string socketPath,
        string stateDir,
        IEnumerable<string>? extraArgs = null,
        IDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        Func<ProcessStartInfo, ProcessStartInfo>? wrap = null)
    {
        var args = new List<string> { "-m", "unix-listen", "-p", socketPath, "-t", stateDir };
        if (extraArgs is not null)
        {
            args.AddRange(extraArgs);
        }

        var psi = StartInfo(kind, args);
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        if (environment is not null)
        {
            foreach (var kv in environment)
            {
                psi.Environment[kv.Key] = kv.Value;
            }
        }

        return new RealAgentProcess(kind, wrap is null ? psi : wrap(psi), socketPath);
    }

    /// <summary>
    /// Starts an agent whose command line the caller built (under Wine: <see cref="WineAgent"/>),
    /// listening for the host at <paramref name="socketPath"/>.
    /// </summary>
    public static RealAgentProcess StartProgram(AgentKind kind, ProcessStartInfo psi, string socketPath) => new(kind, psi, socketPath);

    /// <summary>
    /// The same process inside a new network namespace (<c>unshare -n</c>, util-linux): only a
    /// loopback interface that is down and has no address, whatever the machine has. The unix
    /// socket is a path, so the test reaches it from outside the namespace.
    /// </summary>
    public static ProcessStartInfo InNewNetworkNamespace(ProcessStartInfo psi)
    {
        var wrapped = new ProcessStartInfo("unshare")
        {
            UseShellExecute = false,
            RedirectStandardOutput = psi.RedirectStandardOutput,
            RedirectStandardError = psi.RedirectStandardError,
            RedirectStandardInput = psi.RedirectStandardInput,
            WorkingDirectory = psi.WorkingDirectory,
        };
        wrapped.ArgumentList.Add("-n");
        wrapped.ArgumentList.Add("--");
        wrapped.ArgumentList.Add(psi.FileName);
        foreach (string a in psi.ArgumentList)
        {
            wrapped.ArgumentList.Add(a);
        }

        foreach (var kv in psi.Environment)
        {
            wrapped.Environment[kv.Key] = kv.Value;
        }

        return wrapped;
    }

    /// <summary>
    /// Waits until the socket accepts a connection (then closes that probe), at most
    /// <see cref="StartTimeout"/>; throws with the agent's output when it exits or never listens.
    /// </summary>
    public void WaitUntilListening()
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            ThrowIfExited();
            if (File.Exists(SocketPath))
            {
                using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    probe.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    return;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(Kind + " agent did not listen on " + SocketPath + " within " + StartTimeout.TotalSeconds + " s\n" + Output);
            }

            Thread.Sleep(25);
        }
    }

    /// <summary>
    /// Waits until the output holds <paramref name="text"/>. The agent writes a line before it
    /// answers, but the line reaches us through an asynchronous reader that may still be behind
    /// the reply, so a test that reads <see cref="Output"/> right after a reply can miss it.
    /// </summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Output.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            Thread.Sleep(25);
        }
    }

    /// <summary>Throws with the exit code and output when the agent is no longer running.</summary>
    public void ThrowIfExited()
    {
        if (Process.HasExited)
        {
            throw new InvalidOperationException(Kind + " agent exited with " + Process.ExitCode + ": " + Output);
        }
    }

    public void Kill()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < MaxOutputChars)
            {
                _output.AppendLine(line);
            }
        }
    }
}
