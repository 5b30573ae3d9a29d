using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Platform.Linux;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>The agent's own files: the socket, the log, the pid file, the fsfreeze hook.</summary>
[Collection(AgentSafetyCollection.Name)]
public sealed class AgentOwnFilesTests
{
    /// <summary>Our agent started through sh with a given umask (children inherit it).</summary>
    private static Process StartWithUmask(string umask, string args)
    {
        ProcessStartInfo inner = AgentProcess.Start(AgentKind.Ours, args);
        var psi = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("umask " + umask + "; exec \"$@\"");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add(inner.FileName);
        foreach (string a in inner.ArgumentList)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var kv in inner.Environment)
        {
            psi.Environment[kv.Key] = kv.Value;
        }

        return Process.Start(psi)!;
    }

    private static void Stop(Process p)
    {
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10000);
        }
    }

    [Fact]
    public void UnixSocketIs0600UnderUmask000()
    {
        string dir = Directory.CreateTempSubdirectory("qga-umask-").FullName;
        string sock = Path.Combine(dir, "sock");
        using Process p = StartWithUmask("000", "-m unix-listen -p " + sock + " -t " + dir);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(sock) && DateTime.UtcNow < deadline && !p.HasExited)
            {
                Thread.Sleep(50);
            }

            Assert.True(File.Exists(sock), "no socket: " + (p.HasExited ? p.StandardError.ReadToEnd() : "timeout"));
            Assert.Equal("600", Attacker.Sh("stat -c '%a' " + sock).Output.Trim());
            Assert.Equal("600", Attacker.Sh("stat -c '%a' " + Path.Combine(dir, "qga.state")).Output.Trim());
        }
        finally
        {
            Stop(p);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void LogFileLinkIsRefusedNotAppendedTo()
    {
        using var target = new Attacker.Target();
        string dir = Directory.CreateTempSubdirectory("qga-log-").FullName;
        try
        {
            string log = Path.Combine(dir, "log");
            File.CreateSymbolicLink(log, target.Path);
            var (code, _, stderr) = AgentProcess.RunToExit(AgentKind.Ours, "-m unix-listen -p " + Path.Combine(dir, "sock") + " -t " + dir + " -l " + log + " -v");
            Assert.Equal(1, code);
            Assert.Contains("symbolic link", stderr);
            target.AssertUntouched();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void PidFileLinkIsReplacedNotWrittenThrough()
    {
        using var target = new Attacker.Target();
        string dir = Directory.CreateTempSubdirectory("qga-pid-").FullName;
        string pid = Path.Combine(dir, "pid");
        File.CreateSymbolicLink(pid, target.Path);
        using Process p = StartWithUmask("022", "-d -m unix-listen -p " + Path.Combine(dir, "sock") + " -t " + dir + " -f " + pid);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (new FileInfo(pid).LinkTarget is not null && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }

            Assert.Null(new FileInfo(pid).LinkTarget);
            target.AssertUntouched();
            int agentPid = int.Parse(File.ReadAllText(pid).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            using Process daemon = Process.GetProcessById(agentPid);
            daemon.Kill();
            daemon.WaitForExit(10000);
        }
        finally
        {
            Stop(p);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void FrozenMarkerIsNeverCreatedThroughALink()
    {
        // qga.state.isfrozen was File.Open(OpenOrCreate): a link at the name created its target as root.
        string dir = Directory.CreateTempSubdirectory("qga-frozen-").FullName;
        string missing = "/etc/qga-agentsafe-frozen-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            string marker = Path.Combine(dir, "qga.state.isfrozen");
            File.CreateSymbolicLink(marker, missing);
            var gate = new CommandGate(Array.Empty<string>(), Array.Empty<string>(), marker);
            gate.SetFrozen();
            Assert.True(gate.IsFrozen);
            Assert.False(File.Exists(missing));
            File.Delete(marker);
            new CommandGate(Array.Empty<string>(), Array.Empty<string>(), marker).SetFrozen();
            Assert.Equal("600", Attacker.Sh("stat -c '%a' " + marker).Output.Trim());
        }
        finally
        {
            File.Delete(missing);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ErrorTextsShowGuestPathsPrintably()
    {
        // A user-chosen name reaches the host in an error text: no raw ESC for the host's terminal.
        var ex = Assert.Throws<AgentCommandException>(() => Agent.Platform.Linux.PosixFs.OpenDirectory("/nonexistent-\u001b]52;c;eA==\u0007"));
        Assert.DoesNotContain('\u001b', ex.Message);
        Assert.Contains("\\u001b]52", ex.Message);
    }

    [Theory]
    [InlineData(0, 0x1FF)] // root's, but writable by every user
    [InlineData(65534, 0x1ED)] // 0755, but a user's
    public async Task FsfreezeHookAUserCanChangeIsNeverRun(int owner, int mode)
    {
        string dir = Directory.CreateTempSubdirectory("qga-hook-").FullName;
        try
        {
            string hook = Path.Combine(dir, "hook");
            File.WriteAllText(hook, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(hook, (UnixFileMode)mode);
            Attacker.Sh("chown " + owner + " " + hook);
            var state = new PersistentState(Path.Combine(dir, "qga.state"));
            state.Load(false);
            var gate = new CommandGate(Array.Empty<string>(), Array.Empty<string>(), Path.Combine(dir, "qga.state.isfrozen"));
            var actions = new FakeActions();
            var context = new AgentContext(state, gate, new FileHandleTable(state, new LinuxFileOpener()), new ExecManager(new LinuxProcessLauncher()), AgentContext.DetectPlatform(), hook);
            var handler = new LinuxCommandHandler(context, new LinuxSystem { Actions = actions, ProcRoot = dir, SysRoot = dir, OsReleasePath = () => null }, NullLogger.Instance);
            var ex = await Assert.ThrowsAsync<AgentCommandException>(() => handler.GuestFsfreezeFreezeAsync(default).AsTask());
            Assert.Contains("refusing to run fsfreeze hook", ex.Message);
            Assert.Empty(actions.Calls); // neither the hook nor any freeze ran

            // The same hook made root-only runs (the fake records it; nothing is really frozen).
            Attacker.Sh("chown 0 " + hook + " && chmod 0755 " + hook);
            Directory.CreateDirectory(Path.Combine(dir, "self"));
            File.WriteAllText(Path.Combine(dir, "self/mountinfo"), "28 1 254:1 / /data rw - xfs /dev/vdb rw\n");
            Assert.Equal(1, await handler.GuestFsfreezeFreezeAsync(default));
            Assert.Equal(new[] { "hook freeze", "freeze /data" }, actions.Calls);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
