using System;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// Issue 15 items 2, 3 and the agent's own files: our agent runs as root among untrusted guest
/// users, so each test here is an attack by such a user performed for real against our agent
/// over its unix socket, and asserts the root-owned target kept its owner, mode and content.
/// </summary>
[Collection(AgentSafetyCollection.Name)]
public sealed class AgentSafetyTests : IClassFixture<OurAgent>
{
    // The attacker's home is shared by every test run on the machine (two CI clones at once
    // collided on "rm-race"): names in it carry this process's id.
    private static readonly string Unique = "-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
        string root = home + "/deep" + Unique;
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
        string dir = home + "/race" + Unique;
        Attacker.Sh("rm -rf " + dir);
        Attacker.As("mkdir " + dir);
        string name = dir + "/f";
        using var stop = new CancellationTokenSource();
        var (uid, gid, _) = Attacker.Ensure();
        // A tight loop (python, no fork per step): a shell loop forking ln/rm is too slow to hit the window.
        // It stops itself after 60 s (or at the stop file); the wait for it must be longer than
        // that, since 2000 opens took 36 s under CI load.
        var swapper = Task.Run(() => Attacker.Run(TimeSpan.FromSeconds(90), "setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", "/usr/bin/python3", "-c",
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
            await swapper.WaitAsync(TimeSpan.FromSeconds(100));
        }

        target.AssertUntouched();
        Assert.True(created > 0, "no open succeeded: the race never ran");
    }

    [Fact]
    public void FileOpenNeverCreatesADanglingLinksTarget()
    {
        var (_, _, home) = Attacker.Ensure();
        string dir = home + "/dangling" + Unique;
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
        string link = home + "/attr-link" + Unique;
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
        string link = home + "/mk-link" + Unique;
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
        string link = home + "/mv-link" + Unique;
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
        string root = home + "/rm-race" + Unique;
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
        string plain = home + "/rm-plain" + Unique;
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
