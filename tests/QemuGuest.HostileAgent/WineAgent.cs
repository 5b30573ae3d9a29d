using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace QemuGuest.HostileAgent;

/// <summary>
/// Our Windows agent (a self-contained win-x64 publish, given by build.ps1 Test in
/// <see cref="AgentVariable"/>) running under Wine as a Windows guest would run it on isa-serial:
/// a throw-away WINEPREFIX set to Windows 10, its COM1 mapped (registry HKLM\Software\Wine\Ports)
/// to a pty socat joins to a <see cref="ChardevBridge"/>, whose host side is the unix socket
/// <see cref="SocketPath"/>: clients connect there one after another, as to a VM's chardev.
/// Every wait is bounded; Dispose stops the agent, the prefix's wineserver (and with it every
/// Wine process of the prefix), socat and the bridge, and removes the folder.
/// </summary>
public sealed class WineAgent : IDisposable
{
    /// <summary>Wine's 64-bit loader (Debian package wine64).</summary>
    public const string Loader = "/usr/lib/wine/wine64";

    public const string Server = "/usr/lib/wine/wineserver";

    /// <summary>The published qemuguest-agent.exe; build.ps1 Test sets it for the Wine row.</summary>
    public const string AgentVariable = "QEMUGUEST_WINE_AGENT";

    /// <summary>
    /// Wine's first start in a prefix (wineboot) and a JIT start of the agent each take seconds
    /// on an idle machine and much longer under the load of a CI run.
    /// </summary>
    public static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(3);

    private readonly List<Process> _helpers = new();
    private ChardevBridge? _bridge;

    private WineAgent(string directory)
    {
        Directory = directory;
        Prefix = Path.Combine(directory, "prefix");
        StateDir = Path.Combine(directory, "state");
        SocketPath = Path.Combine(directory, "qga.sock");
        PtyPath = Path.Combine(directory, "com1");
    }

    public string Directory { get; }

    public string Prefix { get; }

    /// <summary>The agent's -t folder (a Linux path; the agent sees it as <see cref="WindowsPath"/> of it).</summary>
    public string StateDir { get; }

    public string SocketPath { get; }

    public string PtyPath { get; }

    public RealAgentProcess Agent { get; private set; } = null!;

    /// <summary>
    /// Why this machine cannot run the Wine tests, or null when it can. Run through build.ps1
    /// Test, a reason is a failure (the row sets <see cref="AgentVariable"/> and installs Wine).
    /// </summary>
    public static string? UnavailableReason()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(AgentVariable)))
        {
            return AgentVariable + " is not set: build.ps1 Test (row 'Windows agent under Wine') publishes the win-x64 agent and sets it";
        }

        if (!File.Exists(Loader))
        {
            return Loader + " is missing: apt-get install --no-install-recommends wine64 wine (build.ps1 Test installs it)";
        }

        return null;
    }

    /// <summary>Z:\ plus the Linux path: Wine maps Z: to /.</summary>
    public static string WindowsPath(string linuxPath) => "Z:" + linuxPath.Replace('/', '\\');

    /// <summary>Prepares a fresh prefix, the bridge and starts the agent (<c>-m isa-serial -p COM1</c>).</summary>
    public static WineAgent Start(IEnumerable<string>? extraArgs = null)
    {
        string exe = Environment.GetEnvironmentVariable(AgentVariable) ?? throw new InvalidOperationException(UnavailableReason());
        var wine = new WineAgent(System.IO.Directory.CreateTempSubdirectory("qga-wine-").FullName);
        try
        {
            System.IO.Directory.CreateDirectory(wine.StateDir);
            wine.StartBridge();
            if (!WinePrefixCache.TryCopyInto(wine.Prefix, wine.Prepare))
            {
                wine.Prepare(wine.Prefix);
            }

            wine.RunWine(wine.Prefix, "reg", "add", @"HKLM\Software\Wine\Ports", "/v", "COM1", "/d", wine.PtyPath, "/f");

            // Wine's mount manager reads Ports when the prefix's server starts; it rewrote
            // dosdevices/com1 to /dev/ttyS0 otherwise (a symlink made by hand does not survive).
            wine.Run(wine.Prefix, Server, "-w");

            var args = new List<string> { exe, "-m", "isa-serial", "-p", "COM1", "-t", WindowsPath(wine.StateDir) };
            if (extraArgs is not null)
            {
                args.AddRange(extraArgs);
            }

            wine.Agent = RealAgentProcess.StartProgram(AgentKind.Ours, wine.WineStartInfo(Loader, args), wine.SocketPath);
            return wine;
        }
        catch
        {
            wine.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Resyncs through <see cref="SocketPath"/> (0xFF, guest-sync-delimited with a fresh id) until
    /// the agent answers with that id, at most <paramref name="timeout"/>: the JIT agent takes
    /// seconds to open COM1, and bytes sent before it did are lost. The probe's connection is
    /// closed again; the bridge takes the next client.
    /// </summary>
    public void WaitUntilAnswering(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        probe.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath));
        probe.ReceiveTimeout = 1000;
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        for (int id = 4_000_001; ; id++)
        {
            probe.Send([0xFF]);
            probe.Send(Encoding.ASCII.GetBytes("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":" + id + "}}"));
            var attempt = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            string wanted = "\"return\":" + id + "}";
            while (DateTime.UtcNow < attempt)
            {
                int n;
                try
                {
                    n = probe.Receive(buffer);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    n = -1;
                }

                if (n == 0)
                {
                    throw new InvalidOperationException("the bridge closed the connection: the agent under Wine ended; its output: " + Agent.Output);
                }

                if (n > 0)
                {
                    seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    if (seen.ToString().Contains(wanted, StringComparison.Ordinal))
                    {
                        return;
                    }

                    if (seen.Length > 100_000)
                    {
                        seen.Clear();
                    }
                }

                if (Agent.Process.HasExited)
                {
                    throw new InvalidOperationException("the agent under Wine exited with " + Agent.Process.ExitCode + ": " + Agent.Output);
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the agent under Wine did not answer guest-sync-delimited within " + timeout.TotalSeconds + " s; its output: " + Agent.Output);
            }
        }
    }

    private void StartBridge()
    {
        _bridge = new ChardevBridge(Path.Combine(Directory, "com1.sock"), SocketPath);
        var psi = new ProcessStartInfo("socat") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("PTY,raw,echo=0,link=" + PtyPath);
        psi.ArgumentList.Add("UNIX-CONNECT:" + _bridge.GuestSide);
        var socat = Process.Start(psi) ?? throw new InvalidOperationException("cannot start socat");
        _helpers.Add(socat);
        _bridge.Start(StepTimeout);
        var deadline = DateTime.UtcNow + StepTimeout;
        while (!File.Exists(PtyPath))
        {
            if (socat.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("socat did not create " + PtyPath + ": " + socat.StandardError.ReadToEnd());
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>A new prefix as a Windows 10 guest's: booted, the version Wine reports set to 10.</summary>
    private void Prepare(string prefix)
    {
        RunWine(prefix, "wineboot", "-i");
        RunWine(prefix, "reg", "add", @"HKCU\Software\Wine", "/v", "Version", "/d", "win10", "/f");
        // The registry reaches the prefix's files when its server ends.
        Run(prefix, Server, "-w");
    }

    private ProcessStartInfo WineStartInfo(string program, IEnumerable<string> args) => WineStartInfo(Prefix, program, args);

    private ProcessStartInfo WineStartInfo(string prefix, string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Directory,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["WINEPREFIX"] = prefix;
        psi.Environment["WINEDEBUG"] = "-all";
        // No display: Wine's explorer and tray fail quietly instead of waiting for one.
        psi.Environment.Remove("DISPLAY");
        psi.Environment.Remove("WAYLAND_DISPLAY");
        psi.Environment["QGA_CONF"] = "/nonexistent/qemu-ga.conf";
        return psi;
    }

    private void RunWine(string prefix, params string[] args) => Run(prefix, Loader, args);

    private void Run(string prefix, string program, params string[] args)
    {
        using var p = Process.Start(WineStartInfo(prefix, program, args)) ?? throw new InvalidOperationException("cannot start " + program);
        p.StandardInput.Close();
        var output = new StringBuilder();
        p.OutputDataReceived += (_, e) => Append(output, e.Data);
        p.ErrorDataReceived += (_, e) => Append(output, e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(StepTimeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException(program + " " + string.Join(' ', args) + " did not finish within " + StepTimeout.TotalSeconds + " s: " + Snapshot(output));
        }

        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(program + " " + string.Join(' ', args) + " exited with " + p.ExitCode + ": " + Snapshot(output));
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            if (output.Length < 100_000)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    public void Dispose()
    {
        Agent?.Dispose();
        if (System.IO.Directory.Exists(Prefix))
        {
            try
            {
                Run(Prefix, Server, "-k");
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                // -k exits non-zero when no server runs: nothing left to stop.
            }
        }

        foreach (Process helper in _helpers)
        {
            try
            {
                if (!helper.HasExited)
                {
                    helper.Kill();
                    helper.WaitForExit(10000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            helper.Dispose();
        }

        _bridge?.Dispose();

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
