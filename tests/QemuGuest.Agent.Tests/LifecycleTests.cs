using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>Start-up and stop paths: socket activation, -r retry, no retry, -d with a pidfile, SIGTERM, systemd notification.</summary>
public sealed class LifecycleTests
{
    // The shared launcher's process (RealAgentProcess.StartInfo: our dll, QGA_CONF pointing
    // nowhere, output redirected), run under a wrapper such as systemd-socket-activate.
    private static Process StartOurs(string prefix, string args, string workDir)
    {
        ProcessStartInfo psi = AgentProcess.Start(AgentKind.Ours, args);
        psi.WorkingDirectory = workDir;
        string[] wrapper = prefix.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (wrapper.Length > 0)
        {
            psi.ArgumentList.Insert(0, psi.FileName);
            for (int i = wrapper.Length - 1; i >= 1; i--)
            {
                psi.ArgumentList.Insert(0, wrapper[i]);
            }

            psi.FileName = wrapper[0];
        }

        return Process.Start(psi)!;
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string Ping(string socketPath)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                s.Connect(new UnixDomainSocketEndPoint(socketPath));
                s.ReceiveTimeout = 10000;
                s.Send(Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\",\"id\":\"p\"}"));
                byte[] buf = new byte[4096];
                int n = s.Receive(buf);
                return Encoding.ASCII.GetString(buf, 0, n);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }
    }

    [Fact]
    public void SystemdSocketActivation()
    {
        string dir = Directory.CreateTempSubdirectory("qga-act-").FullName;
        string sock = Path.Combine(dir, "act.sock");
        Process p = StartOurs("systemd-socket-activate -l " + sock, "-t " + dir, dir);
        try
        {
            Assert.Equal("{\"return\":{},\"id\":\"p\"}\n", Ping(sock));
        }
        finally
        {
            Kill(p);
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingChannelWithoutRetryExits1()
    {
        string dir = Directory.CreateTempSubdirectory("qga-noretry-").FullName;
        Process p = StartOurs(string.Empty, "-m virtio-serial -p " + Path.Combine(dir, "no-such-port") + " -t " + dir, dir);
        try
        {
            Assert.True(p.WaitForExit(30000), "agent should exit");
            Assert.Equal(1, p.ExitCode);
            Assert.Contains("failed to open channel", p.StandardError.ReadToEnd());
        }
        finally
        {
            Kill(p);
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingChannelWithRetryWaitsQuietly()
    {
        string dir = Directory.CreateTempSubdirectory("qga-retry-").FullName;
        Process p = StartOurs(string.Empty, "-m virtio-serial -p " + Path.Combine(dir, "no-such-port") + " -t " + dir + " -r", dir);
        try
        {
            Assert.False(p.WaitForExit(8000), "agent must keep retrying");
        }
        finally
        {
            Kill(p);
            string stderr = p.StandardError.ReadToEnd();
            Directory.Delete(dir, true);
            // Attempts 1, 2 and 4 (1 s + 2 s + 4 s of back-off fit in 8 s): at most 4 lines, not one per second.
            int lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            Assert.InRange(lines, 1, 4);
            Assert.Contains("waiting for channel path", stderr);
        }
    }

    [Fact]
    public void DaemonizeWritesPidfile()
    {
        string dir = Directory.CreateTempSubdirectory("qga-daemon-").FullName;
        string pidfile = Path.Combine(dir, "agent.pid");
        string sock = Path.Combine(dir, "sock");
        Process p = StartOurs(string.Empty, "-d -f " + pidfile + " -m unix-listen -p " + sock + " -t " + dir, dir);
        int child = 0;
        try
        {
            Assert.True(p.WaitForExit(20000));
            Assert.Equal(0, p.ExitCode);
            Assert.Equal("{\"return\":{},\"id\":\"p\"}\n", Ping(sock));
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!File.Exists(pidfile) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }

            child = int.Parse(File.ReadAllText(pidfile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.NotEqual(p.Id, child);

            // A service manager stops it with SIGTERM: the daemon ends and takes its pidfile with it.
            SendSignal(child, "TERM");
            deadline = DateTime.UtcNow.AddSeconds(60);
            while (File.Exists(pidfile) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }

            Assert.False(File.Exists(pidfile), "the daemon left its pidfile after SIGTERM");
        }
        finally
        {
            if (child > 0)
            {
                try
                {
                    using Process c = Process.GetProcessById(child);
                    c.Kill();
                    c.WaitForExit(10000);
                }
                catch (ArgumentException)
                {
                    // Already gone after the SIGTERM.
                }
            }

            Kill(p);
            Directory.Delete(dir, true);
        }
    }

    /// <summary>
    /// Stopped by SIGTERM (what systemd sends) the agent logs its stop and exits 0, and with
    /// NOTIFY_SOCKET set (a Type=notify unit) systemd hears READY=1 once it runs and STOPPING=1
    /// as it stops. The notifications come over a real datagram socket, as from systemd.
    /// </summary>
    [Fact]
    public async System.Threading.Tasks.Task SigtermStopsTheAgentAndSystemdHearsReadyThenStopping()
    {
        string dir = Directory.CreateTempSubdirectory("qga-notify-").FullName;
        string sock = Path.Combine(dir, "sock");
        string notify = Path.Combine(dir, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(notify));
        systemd.ReceiveTimeout = 60000;
        ProcessStartInfo psi = AgentProcess.Start(AgentKind.Ours, "-v -m unix-listen -p " + sock + " -t " + dir);
        psi.WorkingDirectory = dir;
        psi.Environment["NOTIFY_SOCKET"] = notify;
        Process p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            Assert.Equal("READY=1", Receive(systemd));
            Assert.Equal("{\"return\":{},\"id\":\"p\"}\n", Ping(sock));
            SendSignal(p.Id, "TERM");
            Assert.True(p.WaitForExit(60000), "the agent did not stop within 60 s of SIGTERM");
            Assert.Equal(0, p.ExitCode);
            Assert.Equal("STOPPING=1", Receive(systemd));
            Assert.Contains("agent stopping", await stderr);
        }
        finally
        {
            Kill(p);
            Directory.Delete(dir, true);
        }
    }

    private static string Receive(Socket datagrams)
    {
        byte[] buf = new byte[4096];
        int n = datagrams.Receive(buf);
        return Encoding.ASCII.GetString(buf, 0, n).Trim();
    }

    private static void SendSignal(int pid, string signal)
    {
        using Process kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        Assert.True(kill.WaitForExit(30000), "kill did not finish");
        Assert.Equal(0, kill.ExitCode);
    }
}
