using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Handlers.Linux;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// An unprivileged guest user (created with useradd) and root-owned scratch targets: the cast
/// of the attacks on a root agent. Shell steps run as the user through setpriv, so every link
/// and file the "attacker" plants really is theirs.
/// </summary>
internal static class Attacker
{
    public const string Name = "qgaattacker";

    private static readonly object Gate = new();

    public static (uint Uid, uint Gid, string Home) Ensure()
    {
        lock (Gate)
        {
            if (Sh("id -u " + Name).Code != 0)
            {
                var r = Sh("useradd -m -s /bin/sh " + Name);
                if (r.Code != 0 && Sh("id -u " + Name).Code != 0)
                {
                    throw new InvalidOperationException("useradd failed: " + r.Output);
                }
            }

            uint uid = uint.Parse(Sh("id -u " + Name).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            uint gid = uint.Parse(Sh("id -g " + Name).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            string home = "/home/" + Name;
            Sh("mkdir -p " + home + " && chown " + Name + ": " + home + " && chmod 0755 " + home);
            return (uid, gid, home);
        }
    }

    /// <summary>Runs a shell line as the guest user; throws when it fails.</summary>
    public static void As(string script)
    {
        var (uid, gid, _) = Ensure();
        var r = Run("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", "sh", "-c", script);
        if (r.Code != 0)
        {
            throw new InvalidOperationException("as " + Name + ": " + script + ": " + r.Output);
        }
    }

    public static (int Code, string Output) Sh(string script) => Run("sh", "-c", script);

    public static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(true);
            throw new TimeoutException(file + " " + string.Join(' ', args));
        }

        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>A root-owned file (or folder) the attacker aims at; its owner, mode and bytes must never change.</summary>
    public sealed class Target : IDisposable
    {
        public Target(bool folder = false, UnixFileMode mode = (UnixFileMode)0x180)
        {
            Path = "/etc/qga-agentsafe-" + Guid.NewGuid().ToString("N")[..12];
            if (folder)
            {
                Directory.CreateDirectory(Path);
                File.WriteAllText(System.IO.Path.Combine(Path, "keep"), "keep\n");
            }
            else
            {
                File.WriteAllText(Path, "root secret\n");
            }

            File.SetUnixFileMode(Path, mode);
            Mode = mode;
        }

        public string Path { get; }

        public UnixFileMode Mode { get; }

        /// <summary>Owner, mode and content as they were made.</summary>
        public void AssertUntouched()
        {
            var (code, output) = Sh("stat -c '%u:%g' " + Path);
            Assert.Equal(0, code);
            Assert.Equal("0:0", output.Trim());
            Assert.Equal(Mode, File.GetUnixFileMode(Path));
            if (Directory.Exists(Path))
            {
                Assert.Equal(new[] { System.IO.Path.Combine(Path, "keep") }, Directory.GetFileSystemEntries(Path));
                Assert.Equal("keep\n", File.ReadAllText(System.IO.Path.Combine(Path, "keep")));
            }
            else
            {
                Assert.Equal("root secret\n", File.ReadAllText(Path));
            }
        }

        public void Dispose()
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
            else
            {
                File.Delete(Path);
            }
        }
    }
}

/// <summary>
/// Issue 15 items 2, 3 and the agent's own files: our agent runs as root among untrusted guest
/// users, so each test here is an attack by such a user performed for real against our agent
/// over its unix socket, and asserts the root-owned target kept its owner, mode and content.
/// </summary>
[Collection(AgentSafetyCollection.Name)]
public sealed class AgentSafetyTests : IClassFixture<OurAgent>
{
    private readonly OurAgent _fixture;

    public AgentSafetyTests(OurAgent fixture) => _fixture = fixture;

    private AgentProcess A => _fixture.Agent;

    private JsonElement Run(string json)
    {
        lock (_fixture.Gate)
        {
            try
            {
                return A.Execute(json);
            }
            catch
            {
                A.Connect();
                throw;
            }
        }
    }

    private static string Q(string s) => JsonSerializer.Serialize(s);

    private static string ErrorDesc(JsonElement reply)
    {
        Assert.True(reply.TryGetProperty("error", out JsonElement e), "expected an error, got " + reply.GetRawText());
        return e.GetProperty("desc").GetString()!;
    }

    private static JsonElement Ok(JsonElement reply)
    {
        Assert.False(reply.TryGetProperty("error", out JsonElement e), e.ValueKind == JsonValueKind.Undefined ? string.Empty : e.GetRawText());
        return reply.GetProperty("return");
    }

    private static string FreshSshDir()
    {
        var (_, _, home) = Attacker.Ensure();
        Attacker.Sh("rm -rf " + home + "/.ssh");
        return home + "/.ssh";
    }

    private string AddKey(string key) =>
        $$$"""{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"{{{Attacker.Name}}}","keys":[{{{Q(key)}}}]}}""";

    [Fact]
    public void SshAddNeverWritesThroughAPlantedTempLink()
    {
        using var target = new Attacker.Target();
        string ssh = FreshSshDir();
        Attacker.As("mkdir -m 700 " + ssh + " && ln -s " + target.Path + " " + ssh + "/authorized_keys.tmp");
        Ok(Run(AddKey("ssh-ed25519 AAAAplanted user@test")));
        target.AssertUntouched();
        var (uid, gid, _) = Attacker.Ensure();
        Assert.Equal(uid + ":" + gid + ":600", Attacker.Sh("stat -c '%u:%g:%a' " + ssh + "/authorized_keys").Output.Trim());
        Assert.Equal("ssh-ed25519 AAAAplanted user@test\n", File.ReadAllText(ssh + "/authorized_keys"));
        Assert.Equal("symbolic link", Attacker.Sh("stat -c '%F' " + ssh + "/authorized_keys.tmp").Output.Trim()); // left alone
        Ok(Run($$$"""{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"{{{Attacker.Name}}}","keys":["ssh-ed25519 AAAAplanted user@test"]}}"""));
        target.AssertUntouched();
        Assert.Equal(string.Empty, File.ReadAllText(ssh + "/authorized_keys"));
    }

    [Fact]
    public void SshRefusesASymlinkedSshFolder()
    {
        using var target = new Attacker.Target(folder: true, mode: (UnixFileMode)0x1ED);
        string ssh = FreshSshDir();
        Attacker.As("ln -s " + target.Path + " " + ssh);
        string desc = ErrorDesc(Run(AddKey("ssh-ed25519 AAAAdir user@test")));
        Assert.Contains("symbolic link", desc);
        target.AssertUntouched();
        desc = ErrorDesc(Run($$$"""{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"{{{Attacker.Name}}}","keys":["x"]}}"""));
        Assert.Contains("symbolic link", desc);
        target.AssertUntouched();
    }

    [Fact]
    public void SshNeverCopiesALinkedKeysFileIntoTheUsersReach()
    {
        // authorized_keys -> a root-only file: adding a key must not rewrite that file's lines into
        // a file the user owns (the user would read /etc/shadow that way).
        using var target = new Attacker.Target();
        string ssh = FreshSshDir();
        Attacker.As("mkdir -m 700 " + ssh + " && ln -s " + target.Path + " " + ssh + "/authorized_keys");
        Assert.Contains("symbolic link", ErrorDesc(Run(AddKey("ssh-ed25519 AAAAread user@test"))));
        Assert.Contains("symbolic link", ErrorDesc(Run($$$"""{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"{{{Attacker.Name}}}"}}""")));
        target.AssertUntouched();
        Assert.Single(Directory.GetFileSystemEntries(ssh));
    }

    [Fact]
    public void SshKeysFileThatLiesAboutBeingAFileIsRefusedQuickly()
    {
        // A FIFO would block a plain read for ever; a 5 MiB file would be read whole into memory.
        string ssh = FreshSshDir();
        Attacker.As("mkdir -m 700 " + ssh + " && mkfifo " + ssh + "/authorized_keys");
        var sw = Stopwatch.StartNew();
        Assert.Contains("not a regular file", ErrorDesc(Run(AddKey("ssh-ed25519 AAAAfifo user@test"))));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
        Attacker.As("rm " + ssh + "/authorized_keys && head -c 5242880 /dev/zero | tr '\\0' 'a' > " + ssh + "/authorized_keys");
        Assert.Contains("larger than 4194304 bytes", ErrorDesc(Run(AddKey("ssh-ed25519 AAAAbig user@test"))));
        Assert.Equal(5242880, new FileInfo(ssh + "/authorized_keys").Length);
    }

    [Fact]
    public void RecursiveRemoveStopsAtItsDepthBoundWithANamedError()
    {
        var (_, _, home) = Attacker.Ensure();
        string root = home + "/deep";
        Attacker.Sh("rm -rf " + root);
        Attacker.As("mkdir " + root + " && cd " + root + " && for i in $(seq 300); do mkdir d && cd d; done");
        Assert.Contains("nested deeper than 256 levels", ErrorDesc(Run($$$"""{"execute":"__com.qemuguest_guest-file-remove","arguments":{"path":{{{Q(root)}}},"recursive":true}}""")));
        Assert.True(Directory.Exists(root));
        Attacker.Sh("rm -rf " + root);
    }

    [Fact]
    public void SshRefusesAFolderOwnedBySomeoneElse()
    {
        string ssh = FreshSshDir();
        Attacker.Sh("mkdir -m 755 " + ssh + " && chown nobody " + ssh);
        Assert.Contains("neither the user nor root", ErrorDesc(Run(AddKey("ssh-ed25519 AAAAother user@test"))));
        Assert.Empty(Directory.GetFileSystemEntries(ssh));
    }

    [Fact]
    public void SshCreatesAMissingFolderForTheUser()
    {
        string ssh = FreshSshDir();
        Ok(Run(AddKey("ssh-ed25519 AAAAnew user@test")));
        var (uid, gid, _) = Attacker.Ensure();
        Assert.Equal(uid + ":" + gid + ":700", Attacker.Sh("stat -c '%u:%g:%a' " + ssh).Output.Trim());
        Assert.Equal(uid + ":" + gid + ":600", Attacker.Sh("stat -c '%u:%g:%a' " + ssh + "/authorized_keys").Output.Trim());
    }

    [Fact]
    public async Task FileOpenRaceNeverChmodsASwappedInLink()
    {
        // The user swaps a link to a 0600 root file in and out at the name the host creates;
        // before the fix (exists check, then O_CREAT without O_EXCL, then fchmod 0666) the target
        // turned 0666 within ~20 tries. "a" so a won race would not truncate, only chmod.
        using var target = new Attacker.Target();
        var (_, _, home) = Attacker.Ensure();
        string dir = home + "/race";
        Attacker.Sh("rm -rf " + dir);
        Attacker.As("mkdir " + dir);
        string name = dir + "/f";
        using var stop = new CancellationTokenSource();
        var (uid, gid, _) = Attacker.Ensure();
        // A tight loop (python, no fork per step): a shell loop forking ln/rm is too slow to hit the window.
        var swapper = Task.Run(() => Attacker.Run("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", "/usr/bin/python3", "-c",
            "import os,time\nend=time.time()+60\nwhile time.time()<end and not os.path.exists('" + dir + "/stop'):\n"
            + " try:\n  os.symlink('" + target.Path + "','" + name + "')\n except OSError: pass\n try:\n  os.unlink('" + name + "')\n except OSError: pass\n"));
        int created = 0;
        try
        {
            for (int i = 0; i < 2000; i++)
            {
                JsonElement reply = Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(name)}}},"mode":"a"}}""");
                if (reply.TryGetProperty("return", out JsonElement h))
                {
                    Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{h.GetInt64()}}}}}"""));
                    created++;
                }

                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(target.Path));
            }
        }
        finally
        {
            File.WriteAllText(dir + "/stop", string.Empty);
            await swapper.WaitAsync(TimeSpan.FromSeconds(70));
        }

        target.AssertUntouched();
        Assert.True(created > 0, "no open succeeded: the race never ran");
    }

    [Fact]
    public void FileOpenNeverCreatesADanglingLinksTarget()
    {
        var (_, _, home) = Attacker.Ensure();
        string dir = home + "/dangling";
        Attacker.Sh("rm -rf " + dir);
        string missing = "/etc/qga-agentsafe-missing-" + Guid.NewGuid().ToString("N")[..8];
        Attacker.As("mkdir " + dir + " && ln -s " + missing + " " + dir + "/f");
        Assert.Contains("No such file or directory", ErrorDesc(Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(dir + "/f")}}},"mode":"w"}}""")));
        Assert.False(File.Exists(missing));
    }

    [Fact]
    public void NewFilesAre0600WhateverTheUmaskAndAFifoCannotHangTheAgent()
    {
        string path = Path.Combine(A.StateDir, "new-" + Guid.NewGuid().ToString("N")[..8]);
        long id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(path)}}},"mode":"w"}}""")).GetInt64();
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        string fifo = Path.Combine(A.StateDir, "fifo-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Equal(0, Attacker.Run("mkfifo", fifo).Code);
        var sw = Stopwatch.StartNew();
        id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(fifo)}}},"mode":"r"}}""")).GetInt64();
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        Assert.Contains("No such device or address", ErrorDesc(Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(fifo)}}},"mode":"w"}}""")));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), "a FIFO held the agent for " + sw.Elapsed);
    }

    [Fact]
    public void SetAttributesNeverFollowsAUsersLink()
    {
        using var target = new Attacker.Target();
        var (uid, _, home) = Attacker.Ensure();
        string link = home + "/attr-link";
        Attacker.Sh("rm -f " + link);
        Attacker.As("ln -s " + target.Path + " " + link);
        string desc = ErrorDesc(Run($$$"""{"execute":"__com.qemuguest_guest-file-set-attributes","arguments":{"path":{{{Q(link)}}},"mode":420,"uid":{{{uid}}},"mtime":0}}"""));
        Assert.Contains("owned by uid " + uid, desc);
        target.AssertUntouched();

        // A root-owned link is followed, as the schema documents.
        string rootLink = Path.Combine(A.StateDir, "root-link");
        File.CreateSymbolicLink(rootLink, Path.Combine(A.StateDir, "qga.state"));
        Ok(Run($$$"""{"execute":"__com.qemuguest_guest-file-set-attributes","arguments":{"path":{{{Q(rootLink)}}},"mode":384}}"""));
    }

    [Fact]
    public void MkdirNeverCreatesThroughAUsersLink()
    {
        using var target = new Attacker.Target(folder: true, mode: (UnixFileMode)0x1ED);
        var (_, _, home) = Attacker.Ensure();
        string link = home + "/mk-link";
        Attacker.Sh("rm -f " + link);
        Attacker.As("ln -s " + target.Path + " " + link);
        Assert.Contains("refusing to follow", ErrorDesc(Run($$$"""{"execute":"__com.qemuguest_guest-file-mkdir","arguments":{"path":{{{Q(link + "/sub/deeper")}}},"parents":true,"mode":511}}""")));
        Assert.Contains("refusing to follow", ErrorDesc(Run($$$"""{"execute":"__com.qemuguest_guest-file-mkdir","arguments":{"path":{{{Q(link + "/sub")}}}}}""")));
        target.AssertUntouched();
    }

    [Fact]
    public void RenameNeverMovesIntoAUsersLinkedFolder()
    {
        using var target = new Attacker.Target(folder: true, mode: (UnixFileMode)0x1ED);
        var (_, _, home) = Attacker.Ensure();
        string link = home + "/mv-link";
        Attacker.Sh("rm -f " + link);
        Attacker.As("ln -s " + target.Path + " " + link);
        string src = Path.Combine(A.StateDir, "mv-src");
        File.WriteAllText(src, "x");
        Assert.Contains("refusing to follow", ErrorDesc(Run($$$"""{"execute":"__com.qemuguest_guest-file-rename","arguments":{"source":{{{Q(src)}}},"destination":{{{Q(link + "/keep")}}},"overwrite":true}}""")));
        target.AssertUntouched();
    }

    [Fact]
    public async Task RecursiveRemoveNeverFollowsAFolderSwappedForALink()
    {
        // The user keeps swapping a sub-folder of the tree being removed for a link to a root
        // folder. .NET's Directory.Delete recursed by path (opendir of "tree/sub" after reading
        // "tree"), so a swap between the two emptied the link's target; openat(O_NOFOLLOW) per
        // level unlinks the link itself.
        using var target = new Attacker.Target(folder: true, mode: (UnixFileMode)0x1ED);
        var (uid, gid, home) = Attacker.Ensure();
        string root = home + "/rm-race";
        for (int i = 0; i < 40; i++)
        {
            Attacker.Sh("rm -rf " + root);
            Attacker.As("mkdir -p " + root + "/sub && touch " + root + "/a " + root + "/b && cd " + root + "/sub && touch keep $(seq -f f%g 200)");

            // sub flips between a folder and a link to the root folder, as fast as python goes.
            var swapper = Task.Run(() => Attacker.Run("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", "/usr/bin/python3", "-c",
                "import os,time\nr='" + root + "'\nend=time.time()+3\nwhile time.time()<end and os.path.exists(r):\n"
                + " try:\n  os.rename(r+'/sub',r+'/hidden'); os.symlink('" + target.Path + "',r+'/sub'); os.unlink(r+'/sub'); os.rename(r+'/hidden',r+'/sub')\n except OSError: pass\n"));
            Thread.Sleep(100);
            Run($$$"""{"execute":"__com.qemuguest_guest-file-remove","arguments":{"path":{{{Q(root)}}},"recursive":true,"missing-ok":true}}""");
            await swapper.WaitAsync(TimeSpan.FromSeconds(30));
            target.AssertUntouched();
        }

        Attacker.Sh("rm -rf " + root);
        string plain = home + "/rm-plain";
        Attacker.Sh("rm -rf " + plain);
        Attacker.As("mkdir -p " + plain + "/x/y && touch " + plain + "/x/y/z && ln -s " + target.Path + " " + plain + "/x/link");
        Ok(Run($$$"""{"execute":"__com.qemuguest_guest-file-remove","arguments":{"path":{{{Q(plain)}}},"recursive":true}}"""));
        Assert.False(Directory.Exists(plain));
        target.AssertUntouched();
    }

    [Fact]
    public void StateFileIsNeverWrittenThroughAPlantedTempName()
    {
        // The state was written to the predictable STATEDIR/qga.state.<pid>.tmp: a user who can
        // write the state folder linked that name to a root file and every guest-file-open
        // overwrote it.
        using var target = new Attacker.Target();
        File.CreateSymbolicLink(Path.Combine(A.StateDir, "qga.state." + A.Pid + ".tmp"), target.Path);
        string path = Path.Combine(A.StateDir, "state-" + Guid.NewGuid().ToString("N")[..8]);
        long id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":{{{Q(path)}}},"mode":"w"}}""")).GetInt64();
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        target.AssertUntouched();
        Assert.Contains("fd_counter=" + (id + 1), File.ReadAllText(Path.Combine(A.StateDir, "qga.state")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(A.StateDir, "qga.state")));
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AgentSafetyCollection
{
    public const string Name = "agent safety (shared guest user)";
}

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
            var policy = new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), marker);
            policy.SetFrozen();
            Assert.True(policy.IsFrozen);
            Assert.False(File.Exists(missing));
            File.Delete(marker);
            new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), marker).SetFrozen();
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
        var ex = Assert.Throws<AgentCommandException>(() => Agent.Interop.PosixFs.OpenDirectory("/nonexistent-\u001b]52;c;eA==\u0007"));
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
            var policy = new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), Path.Combine(dir, "qga.state.isfrozen"));
            var actions = new FakeActions();
            var context = new AgentContext(state, policy, new FileHandleTable(state, new PosixFileOpener()), new ExecManager(new PosixSpawnLauncher()), AgentContext.DetectPlatform(), hook);
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
