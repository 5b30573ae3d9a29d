using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The behaviours QEMU's own agent unit tests check (tests/unit/test-qga.c), reproduced
/// against our agent, case by case.
/// </summary>
public sealed class QgaBehaviourTests : IClassFixture<OurAgent>
{
    private readonly OurAgent _fixture;

    public QgaBehaviourTests(OurAgent fixture) => _fixture = fixture;

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
                A.Connect(); // never let one failure desynchronise the following tests
                throw;
            }
        }
    }

    private static JsonElement Ok(JsonElement reply)
    {
        Assert.False(reply.TryGetProperty("error", out JsonElement e), e.ValueKind == JsonValueKind.Undefined ? string.Empty : e.GetRawText());
        return reply.GetProperty("return");
    }

    private static (string Class, string Desc) Err(JsonElement reply)
    {
        JsonElement e = reply.GetProperty("error");
        return (e.GetProperty("class").GetString()!, e.GetProperty("desc").GetString()!);
    }

    [Fact]
    public void SyncDelimited()
    {
        lock (_fixture.Gate)
        {
            uint r = (uint)Random.Shared.Next();
            A.SendRaw(new byte[] { 0xFF });
            A.Send($$$"""{"execute":"guest-sync-delimited","arguments":{"id":{{{r}}}}}""");
            byte c;
            do
            {
                c = A.ReadByte();
            }
            while (c != 0xFF);
            JsonElement ret = A.ReadReply();
            Assert.Equal(r, Ok(ret).GetUInt32());
        }
    }

    [Fact]
    public void Sync()
    {
        uint r = (uint)Random.Shared.Next();
        Assert.Equal(r, Ok(Run($$$"""{"execute":"guest-sync","arguments":{"id":{{{r}}}}}""")).GetUInt32());
    }

    [Fact]
    public void Ping() => Ok(Run("""{"execute":"guest-ping"}"""));

    [Fact]
    public void Id() => Assert.Equal(1, Run("""{"execute":"guest-ping","id":1}""").GetProperty("id").GetInt32());

    [Fact]
    public void InvalidOob() => Assert.Equal("GenericError", Err(Run("""{"exec-oob":"guest-ping"}""")).Class);

    [Fact]
    public void InvalidArgs() =>
        Assert.Equal(("GenericError", "Parameter 'foo' is unexpected"), Err(Run("""{"execute":"guest-ping","arguments":{"foo":42}}""")));

    [Fact]
    public void InvalidCmd()
    {
        var (cls, desc) = Err(Run("""{"execute":"guest-invalid-cmd"}"""));
        Assert.Equal("CommandNotFound", cls);
        Assert.NotEmpty(desc);
    }

    [Fact]
    public void Info() => Assert.Equal(AgentInfo.Version, Ok(Run("""{"execute":"guest-info"}""")).GetProperty("version").GetString());

    [Fact]
    public void GetVcpus()
    {
        JsonElement first = Ok(Run("""{"execute":"guest-get-vcpus"}"""))[0];
        Assert.True(first.TryGetProperty("online", out _));
        Assert.True(first.TryGetProperty("logical-id", out _));
    }

    [Fact]
    public void GetFsinfo()
    {
        foreach (JsonElement fs in Ok(Run("""{"execute":"guest-get-fsinfo"}""")).EnumerateArray())
        {
            foreach (string key in new[] { "name", "mountpoint", "type", "disk" })
            {
                Assert.True(fs.TryGetProperty(key, out _), key);
            }
        }
    }

    [Fact]
    public void GetLoad()
    {
        JsonElement load = Ok(Run("""{"execute":"guest-get-load"}"""));
        foreach (string key in new[] { "load1m", "load5m", "load15m" })
        {
            Assert.True(load.TryGetProperty(key, out _), key);
        }
    }

    [Fact]
    public void GetMemoryBlockInfo()
    {
        JsonElement reply = Run("""{"execute":"guest-get-memory-block-info"}""");
        if (!reply.TryGetProperty("error", out _))
        {
            Assert.True(reply.GetProperty("return").GetProperty("size").GetInt64() > 0);
        }
    }

    [Fact]
    public void GetMemoryBlocks()
    {
        JsonElement reply = Run("""{"execute":"guest-get-memory-blocks"}""");
        if (!reply.TryGetProperty("error", out _))
        {
            foreach (JsonElement b in reply.GetProperty("return").EnumerateArray())
            {
                Assert.True(b.TryGetProperty("phys-index", out _));
                Assert.True(b.TryGetProperty("online", out _));
            }
        }
    }

    [Fact]
    public void NetworkGetInterfaces() =>
        Assert.True(Ok(Run("""{"execute":"guest-network-get-interfaces"}"""))[0].TryGetProperty("name", out _));

    [Fact]
    public void FileOps()
    {
        byte[] hello = Encoding.ASCII.GetBytes("Hello World!\n\0");
        string enc = Convert.ToBase64String(hello);
        string path = Path.Combine(A.StateDir, "foo");
        long id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w+"}}""")).GetInt64();
        JsonElement w = Ok(Run($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{id}}},"buf-b64":"{{{enc}}}"}}"""));
        Assert.Equal(hello.Length, w.GetProperty("count").GetInt32());
        Assert.False(w.GetProperty("eof").GetBoolean());
        Ok(Run($$$"""{"execute":"guest-file-flush","arguments":{"handle":{{{id}}}}}"""));
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(hello, File.ReadAllBytes(path));

        id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"r"}}""")).GetInt64();
        JsonElement r = Ok(Run($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(hello.Length, r.GetProperty("count").GetInt32());
        Assert.True(r.GetProperty("eof").GetBoolean());
        Assert.Equal(enc, r.GetProperty("buf-b64").GetString());

        r = Ok(Run($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(0, r.GetProperty("count").GetInt32());
        Assert.True(r.GetProperty("eof").GetBoolean());
        Assert.Equal(string.Empty, r.GetProperty("buf-b64").GetString());

        JsonElement s = Ok(Run($$$"""{"execute":"guest-file-seek","arguments":{"handle":{{{id}}},"offset":6,"whence":"set"}}"""));
        Assert.Equal(6, s.GetProperty("position").GetInt32());
        Assert.False(s.GetProperty("eof").GetBoolean());

        r = Ok(Run($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(hello.Length - 6, r.GetProperty("count").GetInt32());
        Assert.True(r.GetProperty("eof").GetBoolean());
        Assert.Equal(hello.AsSpan(6).ToArray(), Convert.FromBase64String(r.GetProperty("buf-b64").GetString()!));
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
    }

    [Fact]
    public void FileWriteRead()
    {
        byte[] hello = Encoding.ASCII.GetBytes("Hello World!\n\0");
        string enc = Convert.ToBase64String(hello);
        string path = Path.Combine(A.StateDir, "foo2");
        long id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w+"}}""")).GetInt64();
        Ok(Run($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{id}}},"buf-b64":"{{{enc}}}"}}"""));
        JsonElement r = Ok(Run($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(0, r.GetProperty("count").GetInt32());
        Assert.True(r.GetProperty("eof").GetBoolean());
        JsonElement s = Ok(Run($$$"""{"execute":"guest-file-seek","arguments":{"handle":{{{id}}},"offset":0,"whence":"set"}}"""));
        Assert.Equal(0, s.GetProperty("position").GetInt32());
        r = Ok(Run($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{id}}}}}"""));
        Assert.Equal(enc, r.GetProperty("buf-b64").GetString());
        Assert.True(r.GetProperty("eof").GetBoolean());
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
    }

    [Fact]
    public void NewFilesAre0600AndHandlesPersist()
    {
        string path = Path.Combine(A.StateDir, "perm");
        long id = Ok(Run($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w"}}""")).GetInt64();
        Ok(Run($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        // 0600, not qemu-ga's 0666: a deliberate difference (docs/agent.md), other guest users
        // must not be able to rewrite what the host put there.
        Assert.Equal((UnixFileMode)0x180, File.GetUnixFileMode(path));
        Assert.True(id >= 1000);
        string state = File.ReadAllText(Path.Combine(A.StateDir, "qga.state"));
        Assert.Contains("[global]", state);
        Assert.Contains("fd_counter=" + (id + 1), state);
    }

    [Fact]
    public void GetTime() => Assert.True(Ok(Run("""{"execute":"guest-get-time"}""")).GetInt64() > 0);

    [Fact]
    public void FsfreezeStatus() => Assert.Equal("thawed", Ok(Run("""{"execute":"guest-fsfreeze-status"}""")).GetString());

    private JsonElement WaitExec(long pid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            JsonElement ret = Ok(Run($$$"""{"execute":"guest-exec-status","arguments":{"pid":{{{pid}}}}}"""));
            if (ret.GetProperty("exited").GetBoolean())
            {
                return ret;
            }

            Assert.True(DateTime.UtcNow < deadline, "exec did not finish in 5 s");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void GuestExec()
    {
        long pid = Ok(Run("""{"execute":"guest-exec","arguments":{"path":"echo","arg":["-n","\" test_str \""],"capture-output":true}}""")).GetProperty("pid").GetInt64();
        Assert.True(pid > 0);
        JsonElement ret = WaitExec(pid);
        Assert.Equal(0, ret.GetProperty("exitcode").GetInt32());
        Assert.Equal("\" test_str \"", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("out-data").GetString()!)));
    }

    private const string Alternate = "for i in $(seq 4); do if (( $i % 2 )); then echo stdout; else echo stderr 1>&2; fi; done;";

    [Fact]
    public void GuestExecSeparated()
    {
        long pid = Ok(Run($$$"""{"execute":"guest-exec","arguments":{"path":"bash","arg":["-c","{{{Alternate}}}"],"capture-output":"separated"}}""")).GetProperty("pid").GetInt64();
        JsonElement ret = WaitExec(pid);
        Assert.Equal(0, ret.GetProperty("exitcode").GetInt32());
        Assert.Equal("stdout\nstdout\n", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("out-data").GetString()!)));
        Assert.Equal("stderr\nstderr\n", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("err-data").GetString()!)));
    }

    [Fact]
    public void GuestExecMerged()
    {
        long pid = Ok(Run($$$"""{"execute":"guest-exec","arguments":{"path":"bash","arg":["-c","{{{Alternate}}}"],"capture-output":"merged"}}""")).GetProperty("pid").GetInt64();
        JsonElement ret = WaitExec(pid);
        Assert.Equal(0, ret.GetProperty("exitcode").GetInt32());
        Assert.Equal("stdout\nstderr\nstdout\nstderr\n", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("out-data").GetString()!)));
        Assert.False(ret.TryGetProperty("err-data", out _));
    }

    [Fact]
    public void GuestExecInvalid()
    {
        var (cls, desc) = Err(Run("""{"execute":"guest-exec","arguments":{"path":"/bin/invalid-cmd42"}}"""));
        Assert.Equal("GenericError", cls);
        Assert.NotEmpty(desc);
        (cls, desc) = Err(Run("""{"execute":"guest-exec-status","arguments":{"pid":0}}"""));
        Assert.Equal("GenericError", cls);
        Assert.NotEmpty(desc);
    }

    [Fact]
    public void GuestExecSignalAndStdin()
    {
        long pid = Ok(Run("""{"execute":"guest-exec","arguments":{"path":"sh","arg":["-c","kill -TERM $$"]}}""")).GetProperty("pid").GetInt64();
        JsonElement ret = WaitExec(pid);
        Assert.Equal(15, ret.GetProperty("signal").GetInt32());
        Assert.False(ret.TryGetProperty("exitcode", out _));

        pid = Ok(Run("""{"execute":"guest-exec","arguments":{"path":"cat","input-data":"aGVsbG8=","capture-output":"stdout"}}""")).GetProperty("pid").GetInt64();
        ret = WaitExec(pid);
        Assert.Equal("hello", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("out-data").GetString()!)));

        pid = Ok(Run("""{"execute":"guest-exec","arguments":{"path":"/usr/bin/env","env":["A=1","B=2"],"capture-output":true}}""")).GetProperty("pid").GetInt64();
        ret = WaitExec(pid);
        Assert.Equal("A=1\nB=2\n", Encoding.ASCII.GetString(Convert.FromBase64String(ret.GetProperty("out-data").GetString()!)));
    }

    [Fact]
    public void GuestExecOutputCapIsDrained()
    {
        // 17 MiB on stdout: kept up to 16 MiB, the rest drained, truncated reported.
        long pid = Ok(Run("""{"execute":"guest-exec","arguments":{"path":"head","arg":["-c","17825792","/dev/zero"],"capture-output":"stdout"}}""")).GetProperty("pid").GetInt64();
        JsonElement ret = WaitExec(pid);
        Assert.Equal(0, ret.GetProperty("exitcode").GetInt32());
        Assert.True(ret.GetProperty("out-truncated").GetBoolean());
        Assert.Equal(16 * 1024 * 1024, Convert.FromBase64String(ret.GetProperty("out-data").GetString()!).Length);
    }

    [Fact]
    public void GetHostName() => Assert.True(Ok(Run("""{"execute":"guest-get-host-name"}""")).TryGetProperty("host-name", out _));

    [Fact]
    public void GetTimezone() => Assert.True(Ok(Run("""{"execute":"guest-get-timezone"}""")).TryGetProperty("offset", out _));

    [Fact]
    public void GetUsers() => Assert.Equal(JsonValueKind.Array, Ok(Run("""{"execute":"guest-get-users"}""")).ValueKind);

    [Fact]
    public void BlockedRpcs()
    {
        using var agent = new AgentProcess(AgentKind.Ours, "-b guest-ping,guest-get-time");
        foreach (string cmd in new[] { "guest-ping", "guest-get-time" })
        {
            var (cls, desc) = Err(agent.Execute($$$"""{"execute":"{{{cmd}}}"}"""));
            Assert.Equal("CommandNotFound", cls);
            Assert.Equal("Command " + cmd + " has been disabled", desc); // qemu-ga 7.2's text (-b), probed
        }

        Ok(agent.Execute("""{"execute":"guest-get-fsinfo"}"""));
    }

    [Fact]
    public void AllowedRpcs()
    {
        using var agent = new AgentProcess(AgentKind.Ours, "-a guest-ping,guest-get-time");
        Ok(agent.Execute("""{"execute":"guest-ping"}"""));
        Ok(agent.Execute("""{"execute":"guest-get-time"}"""));
        var (cls, desc) = Err(agent.Execute("""{"execute":"guest-get-fsinfo"}"""));
        Assert.Equal("CommandNotFound", cls);

        // QEMU 8.1 brought -a with this text (qga/main.c ga_apply_command_filters_iter); 7.2 has no -a.
        Assert.Equal("Command guest-get-fsinfo has been disabled: the command is not allowed", desc);
    }

    [Fact]
    public void BlockWinsOverAllow()
    {
        using var agent = new AgentProcess(AgentKind.Ours, "-a guest-ping,guest-get-time,guest-info -b guest-ping");
        Assert.Equal("CommandNotFound", Err(agent.Execute("""{"execute":"guest-ping"}""")).Class);
        Ok(agent.Execute("""{"execute":"guest-get-time"}"""));
        JsonElement info = Ok(agent.Execute("""{"execute":"guest-info"}"""));
        foreach (JsonElement c in info.GetProperty("supported_commands").EnumerateArray())
        {
            if (c.GetProperty("name").GetString() == "guest-ping")
            {
                Assert.False(c.GetProperty("enabled").GetBoolean());
            }
        }
    }

    [Fact]
    public void GetOsinfoFromOverrideFile()
    {
        string file = Path.Combine(Path.GetTempPath(), "test-qga-os-release-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "ID=qemu-ga-test\nNAME=QEMU-GA\nPRETTY_NAME=\"QEMU Guest Agent test\"\nVERSION=\"Test 1\"\nVERSION_ID=1\nVARIANT=\"Unit test \\\"\\'\\$\\`\\\\ and \\\\\\\\ etc.\"\nVARIANT_ID=unit-test\n");
        try
        {
            using var agent = new AgentProcess(AgentKind.Ours, string.Empty, new Dictionary<string, string> { ["QGA_OS_RELEASE"] = file });
            JsonElement info = Ok(agent.Execute("""{"execute":"guest-get-osinfo"}"""));
            Assert.Equal("qemu-ga-test", info.GetProperty("id").GetString());
            Assert.Equal("QEMU-GA", info.GetProperty("name").GetString());
            Assert.Equal("QEMU Guest Agent test", info.GetProperty("pretty-name").GetString());
            Assert.Equal("Test 1", info.GetProperty("version").GetString());
            Assert.Equal("1", info.GetProperty("version-id").GetString());
            Assert.Equal("Unit test \"'$`\\ and \\\\ etc.", info.GetProperty("variant").GetString());
            Assert.Equal("unit-test", info.GetProperty("variant-id").GetString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void StateSurvivesReconnect()
    {
        lock (_fixture.Gate)
        {
            string path = Path.Combine(A.StateDir, "reconnect");
            long id = Ok(A.Execute($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w"}}""")).GetInt64();
            A.Send("""{"execute":"guest-ping" """); // half a request, then hang up
            A.Connect();
            Ok(A.Execute($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{id}}}}}"""));
        }
    }
}
