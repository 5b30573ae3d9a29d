using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// A [Fact] that runs only where <see cref="WineAgent.UnavailableReason"/> is null, and says why
/// not otherwise. build.ps1 Test runs these in the row "Windows agent under Wine" (where Wine is
/// installed and the agent published), and there a skip counts as a failure.
/// </summary>
public sealed class WineFactAttribute : FactAttribute
{
    public WineFactAttribute()
    {
        if (WineAgent.UnavailableReason() is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>One Windows agent under Wine, started once for the class (Wine takes seconds to start).</summary>
public sealed class WineAgentFixture : IDisposable
{
    private static readonly TimeSpan FirstReplyTimeout = TimeSpan.FromMinutes(3);
    private readonly WineAgent? _wine;

    public WineAgentFixture()
    {
        if (WineAgent.UnavailableReason() is not null)
        {
            return;
        }

        _wine = WineAgent.Start();
        try
        {
            // The same resync loop as the Pester suites' Wine agent; its probe connection is
            // closed before the tests' own one is opened (the bridge serves one client at a time).
            _wine.WaitUntilAnswering(FirstReplyTimeout);
            Agent = new AgentProcess(_wine.Agent, _wine.StateDir, _wine.SocketPath);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public AgentProcess Agent { get; } = null!;

    public WineAgent Wine => _wine!;

    public void Dispose()
    {
        Agent?.Dispose();
        _wine?.Dispose();
    }
}

/// <summary>
/// Our Windows agent for real, under Wine on isa-serial (COM1 through a pty): the Windows
/// channel, handlers and process launcher, with requests a host sends. Results Wine cannot
/// give (no VSS, no performance counters, no sessions) are in docs/agent-windows.md.
/// </summary>
[Trait("Category", "Wine")]
public sealed class WineAgentTests : IClassFixture<WineAgentFixture>
{
    private readonly WineAgentFixture _fixture;

    public WineAgentTests(WineAgentFixture fixture) => _fixture = fixture;

    private AgentProcess Agent => _fixture.Agent;

    private JsonElement Return(string json)
    {
        JsonElement reply;
        try
        {
            // Generous: Wine on a loaded CI machine answers in milliseconds usually, seconds at worst.
            reply = Agent.ExecuteLarge(json, TimeSpan.FromSeconds(60));
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or TimeoutException)
        {
            throw new InvalidOperationException("no reply to " + json[..Math.Min(json.Length, 200)] + " (" + ex.Message + "); the agent's output:\n" + Agent.Stderr, ex);
        }

        Assert.True(reply.TryGetProperty("return", out JsonElement r), json + " -> " + reply.GetRawText());
        return r;
    }

    private string NewFolder()
    {
        string dir = Path.Combine(_fixture.Wine.Directory, "files", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Json(string s) => JsonSerializer.Serialize(s);

    [WineFact]
    public void Sync_and_ping_over_the_com_port()
    {
        Assert.Equal(4242, Return("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}").GetInt32());
        Agent.Send("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":77}}");
        byte[] line = Agent.ReadLine(out bool delimited);
        Assert.True(delimited, "guest-sync-delimited's reply starts with 0xFF");
        Assert.Equal("{\"return\":77}", Encoding.UTF8.GetString(line));
        Assert.Equal(JsonValueKind.Object, Return("{\"execute\":\"guest-ping\"}").ValueKind);

        // Several requests in one write (File_open_write_seek_read_close sends requests larger
        // than one read of the port).
        Agent.Send("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}{\"execute\":\"guest-sync\",\"arguments\":{\"id\":2}}");
        Assert.Equal(1, Agent.ReadReply().GetProperty("return").GetInt32());
        Assert.Equal(2, Agent.ReadReply().GetProperty("return").GetInt32());
    }

    [WineFact]
    public void Info_lists_the_commands_and_extensions()
    {
        JsonElement info = Return("{\"execute\":\"guest-info\"}");
        string[] names = info.GetProperty("supported_commands").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray();
        Assert.Contains("guest-exec", names);
        Assert.Contains("guest-get-fsinfo", names);
        Assert.Contains("__com.qemuguest_guest-agent-capabilities", names);
        JsonElement caps = Return("{\"execute\":\"__com.qemuguest_guest-agent-capabilities\"}");
        Assert.Equal(info.GetProperty("version").GetString(), caps.GetProperty("version").GetString());
        Assert.Contains("__com.qemuguest_guest-file-stat", caps.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [WineFact]
    public void OsInfo_is_the_windows_version_the_prefix_is_set_to()
    {
        JsonElement os = Return("{\"execute\":\"guest-get-osinfo\"}");
        Assert.Equal("mswindows", os.GetProperty("id").GetString());
        Assert.Equal("10.0", os.GetProperty("kernel-version").GetString());
        Assert.Equal("10", os.GetProperty("version-id").GetString());
        Assert.Equal("x86_64", os.GetProperty("machine").GetString());
    }

    [WineFact]
    public void Host_name_time_and_timezone_are_the_machines()
    {
        // Wine's computer name is the Linux host name, upper-cased.
        Assert.Equal(Environment.MachineName, Return("{\"execute\":\"guest-get-host-name\"}").GetProperty("host-name").GetString(), ignoreCase: true);

        long ns = Return("{\"execute\":\"guest-get-time\"}").GetInt64();
        long hostNs = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) * 1_000_000;
        Assert.InRange(ns, hostNs - 600_000_000_000L, hostNs + 600_000_000_000L);

        JsonElement tz = Return("{\"execute\":\"guest-get-timezone\"}");
        Assert.False(string.IsNullOrEmpty(tz.GetProperty("zone").GetString()));
        Assert.Equal((int)TimeZoneInfo.Local.GetUtcOffset(DateTime.UtcNow).TotalSeconds, tz.GetProperty("offset").GetInt32());
    }

    [WineFact]
    public void Users_interfaces_and_filesystems()
    {
        // Wine has no terminal-services sessions: WTSEnumerateSessions answers none.
        Assert.Equal(JsonValueKind.Array, Return("{\"execute\":\"guest-get-users\"}").ValueKind);

        // IP Helper under Wine lists the Linux interfaces by their Linux names.
        JsonElement[] interfaces = Return("{\"execute\":\"guest-network-get-interfaces\"}").EnumerateArray().ToArray();
        Assert.NotEmpty(interfaces);
        foreach (JsonElement i in interfaces)
        {
            string name = i.GetProperty("name").GetString()!;
            Assert.True(Directory.Exists("/sys/class/net/" + name), "interface '" + name + "' is not one of this machine's (/sys/class/net)");
        }

        Assert.Contains(
            interfaces.Where(i => i.TryGetProperty("ip-addresses", out _)).SelectMany(i => i.GetProperty("ip-addresses").EnumerateArray()),
            a => a.GetProperty("ip-address").GetString() == "127.0.0.1" && a.GetProperty("prefix").GetInt32() == 8);

        JsonElement[] fs = Return("{\"execute\":\"guest-get-fsinfo\"}").EnumerateArray().ToArray();
        JsonElement c = Assert.Single(fs, f => f.GetProperty("mountpoint").GetString() == "C:");
        Assert.True(c.GetProperty("total-bytes").GetInt64() > 0);
        Assert.StartsWith(@"\\?\Volume{", c.GetProperty("name").GetString());
    }

    // QEMU's guest-network-get-route is Linux-only (its Windows version is unmerged): our Windows
    // agent answers it as stock does and lists routes through its own extension instead.
    [WineFact]
    public void Routes_come_from_the_extension_not_the_linux_only_command()
    {
        JsonElement reply = Agent.ExecuteLarge("{\"execute\":\"guest-network-get-route\"}", TimeSpan.FromSeconds(60));
        Assert.Equal("CommandNotFound", reply.GetProperty("error").GetProperty("class").GetString());

        JsonElement[] routes = Return("{\"execute\":\"__com.qemuguest_guest-get-routes\"}").EnumerateArray().ToArray();
        Assert.NotEmpty(routes);
        Assert.All(routes, r => Assert.Contains(r.GetProperty("version").GetInt32(), new[] { 4, 6 }));
        Assert.All(routes, r => Assert.False(r.TryGetProperty("refcnt", out _), "a Linux-only member on Windows: " + r.GetRawText()));
    }

    [WineFact]
    public void File_open_write_seek_read_close()
    {
        string dir = NewFolder();
        string path = Path.Combine(dir, "a file.bin");
        byte[] data = new byte[70_000];
        new Random(7).NextBytes(data);

        long handle = Return("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":" + Json(WineAgent.WindowsPath(path)) + ",\"mode\":\"w+\"}}").GetInt64();
        JsonElement written = Return("{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":" + handle + ",\"buf-b64\":\"" + Convert.ToBase64String(data) + "\"}}");
        Assert.Equal(data.Length, written.GetProperty("count").GetInt32());
        JsonElement end = Return("{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":" + handle + ",\"offset\":0,\"whence\":\"end\"}}");
        Assert.Equal(data.Length, end.GetProperty("position").GetInt64());
        Assert.Equal(10, Return("{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":" + handle + ",\"offset\":10,\"whence\":0}}").GetProperty("position").GetInt64());

        var read = new List<byte>();
        while (true)
        {
            JsonElement r = Return("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + ",\"count\":30000}}");
            read.AddRange(Convert.FromBase64String(r.GetProperty("buf-b64").GetString()!));
            if (r.GetProperty("eof").GetBoolean() || r.GetProperty("count").GetInt32() == 0)
            {
                break;
            }
        }

        Assert.Equal(data.AsSpan(10).ToArray(), read.ToArray());
        Return("{\"execute\":\"guest-file-flush\",\"arguments\":{\"handle\":" + handle + "}}");
        Return("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}");
        Assert.Equal(data, File.ReadAllBytes(path));

        JsonElement missing = Agent.Execute("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":" + Json(WineAgent.WindowsPath(Path.Combine(dir, "none"))) + ",\"mode\":\"r\"}}");
        Assert.Equal("GenericError", missing.GetProperty("error").GetProperty("class").GetString());
        JsonElement closed = Agent.Execute("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + "}}");
        Assert.Equal("GenericError", closed.GetProperty("error").GetProperty("class").GetString());
    }

    [WineFact]
    public void Exec_through_cmd_exe_captures_output_and_exit_code()
    {
        var (exit, stdout, stderr) = Exec("cmd.exe", "/c", "echo hello& echo oops 1>&2& exit 3");
        Assert.Equal(3, exit);
        Assert.Equal("hello\r\n", stdout);
        Assert.Equal("oops \r\n", stderr);

        string dir = NewFolder();
        File.WriteAllText(Path.Combine(dir, "in.txt"), "from linux");
        (exit, stdout, _) = Exec("cmd.exe", "/c", "type " + WineAgent.WindowsPath(Path.Combine(dir, "in.txt")));
        Assert.Equal(0, exit);
        Assert.Equal("from linux", stdout);
    }

    private (int Exit, string Stdout, string Stderr) Exec(string path, params string[] args)
    {
        string argJson = string.Join(",", args.Select(Json));
        long pid = Return("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":" + Json(path) + ",\"arg\":[" + argJson + "],\"capture-output\":true}}").GetProperty("pid").GetInt64();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            JsonElement status = Return("{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":" + pid + "}}");
            if (status.GetProperty("exited").GetBoolean())
            {
                return (
                    status.GetProperty("exitcode").GetInt32(),
                    Decode(status, "out-data"),
                    Decode(status, "err-data"));
            }

            Assert.True(DateTime.UtcNow < deadline, path + " did not exit within 2 minutes");
            Thread.Sleep(100);
        }

        static string Decode(JsonElement status, string name) =>
            status.TryGetProperty(name, out JsonElement b64) ? Encoding.UTF8.GetString(Convert.FromBase64String(b64.GetString()!)) : string.Empty;
    }

    [WineFact]
    public void File_extensions_stat_list_hash_mkdir_rename_remove()
    {
        string dir = NewFolder();
        string win = WineAgent.WindowsPath(dir);
        File.WriteAllText(Path.Combine(dir, "x.txt"), "abc");

        JsonElement stat = Return("{\"execute\":\"__com.qemuguest_guest-file-stat\",\"arguments\":{\"path\":" + Json(win + @"\x.txt") + "}}");
        Assert.Equal("file", stat.GetProperty("type").GetString());
        Assert.Equal(3, stat.GetProperty("size").GetInt64());

        JsonElement hash = Return("{\"execute\":\"__com.qemuguest_guest-file-hash\",\"arguments\":{\"path\":" + Json(win + @"\x.txt") + ",\"algorithm\":\"sha256\"}}");
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash.GetProperty("hash").GetString(), ignoreCase: true);

        Return("{\"execute\":\"__com.qemuguest_guest-file-mkdir\",\"arguments\":{\"path\":" + Json(win + @"\sub dir\deeper") + ",\"parents\":true}}");
        Assert.True(Directory.Exists(Path.Combine(dir, "sub dir", "deeper")));
        Return("{\"execute\":\"__com.qemuguest_guest-file-rename\",\"arguments\":{\"source\":" + Json(win + @"\x.txt") + ",\"destination\":" + Json(win + @"\sub dir\y.txt") + "}}");
        Assert.Equal("abc", File.ReadAllText(Path.Combine(dir, "sub dir", "y.txt")));

        JsonElement listing = Return("{\"execute\":\"__com.qemuguest_guest-file-list\",\"arguments\":{\"path\":" + Json(win + @"\sub dir") + "}}");
        string[] names = listing.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "deeper", "y.txt" }, names);

        Return("{\"execute\":\"__com.qemuguest_guest-file-remove\",\"arguments\":{\"path\":" + Json(win + @"\sub dir") + ",\"recursive\":true}}");
        Assert.False(Directory.Exists(Path.Combine(dir, "sub dir")));
    }

    [WineFact]
    public void Exec_start_streams_output()
    {
        long pid = Return("{\"execute\":\"__com.qemuguest_guest-exec-start\",\"arguments\":{\"path\":\"cmd.exe\",\"arg\":[\"/c\",\"echo streamed\"],\"capture-output\":true,\"stream-output\":true}}").GetProperty("pid").GetInt64();
        var output = new StringBuilder();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            JsonElement r = Return("{\"execute\":\"__com.qemuguest_guest-exec-read\",\"arguments\":{\"pid\":" + pid + ",\"wait-ms\":1000}}");
            if (r.TryGetProperty("out-data", out JsonElement b64))
            {
                output.Append(Encoding.UTF8.GetString(Convert.FromBase64String(b64.GetString()!)));
            }

            if (r.GetProperty("exited").GetBoolean())
            {
                Assert.Equal(0, r.GetProperty("exitcode").GetInt32());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "exec-start did not end within 2 minutes");
        }

        Assert.Equal("streamed\r\n", output.ToString());
    }

    /// <summary>
    /// Commands not sent even under Wine: they act on the machine (Wine passes some of them
    /// to the host, and these tests run as root).
    /// </summary>
    private static readonly Dictionary<string, string> NotSent = new()
    {
        ["guest-shutdown"] = "shuts the machine down",
        ["guest-suspend-disk"] = "suspends the machine",
        ["guest-suspend-ram"] = "suspends the machine",
        ["guest-set-time"] = "sets the clock (Wine's SetSystemTime reaches the host's)",
    };

    /// <summary>Arguments that reach each command's handler (not a missing-argument error).</summary>
    private static string Arguments(string command, string win) => command switch
    {
        "guest-sync" or "guest-sync-delimited" => "{\"id\":5}",
        "guest-file-open" => "{\"path\":" + Json(win + @"\sweep.txt") + ",\"mode\":\"w\"}",
        "guest-file-close" or "guest-file-read" or "guest-file-flush" => "{\"handle\":999999}",
        "guest-file-write" => "{\"handle\":999999,\"buf-b64\":\"YQ==\"}",
        "guest-file-seek" => "{\"handle\":999999,\"offset\":0,\"whence\":\"set\"}",
        "guest-fsfreeze-freeze-list" => "{\"mountpoints\":[\"C:\\\\\"]}",
        "guest-exec" => "{\"path\":\"cmd.exe\",\"arg\":[\"/c\",\"exit 0\"]}",
        "guest-exec-status" or "__com.qemuguest_guest-exec-read" or "__com.qemuguest_guest-exec-kill" => "{\"pid\":999999}",
        "guest-set-user-password" => "{\"username\":\"nobody\",\"password\":\"cGFzcw==\",\"crypted\":false}",
        "guest-ssh-get-authorized-keys" => "{\"username\":\"nobody\"}",
        "guest-ssh-add-authorized-keys" or "guest-ssh-remove-authorized-keys" => "{\"username\":\"nobody\",\"keys\":[\"ssh-ed25519 AAAA x\"]}",
        "__com.qemuguest_guest-file-stat" or "__com.qemuguest_guest-file-list" or "__com.qemuguest_guest-file-hash" => "{\"path\":" + Json(win) + "}",
        "__com.qemuguest_guest-file-mkdir" => "{\"path\":" + Json(win + @"\made") + "}",
        "__com.qemuguest_guest-file-rename" => "{\"source\":" + Json(win + @"\none") + ",\"destination\":" + Json(win + @"\other") + "}",
        "__com.qemuguest_guest-file-remove" => "{\"path\":" + Json(win + @"\none") + ",\"missing-ok\":true}",
        "__com.qemuguest_guest-file-set-attributes" => "{\"path\":" + Json(win) + ",\"mode\":493}",
        "__com.qemuguest_guest-exec-start" => "{\"path\":\"cmd.exe\",\"arg\":[\"/c\",\"exit 0\"]}",
        _ => "{}",
    };

    /// <summary>
    /// Every command the agent lists answers under Wine with a result or the protocol's own
    /// error, and the agent is still there afterwards: no crash, no P/Invoke or layout
    /// exception. docs/agent-windows.md has the table of what each answers.
    /// </summary>
    [WineFact]
    public void Every_command_answers_with_a_result_or_a_protocol_error()
    {
        string win = WineAgent.WindowsPath(NewFolder());
        string[] commands = Return("{\"execute\":\"guest-info\"}").GetProperty("supported_commands").EnumerateArray()
            .Select(c => c.GetProperty("name").GetString()!).ToArray();
        var answers = new List<string>();
        foreach (string command in commands.Where(c => !NotSent.ContainsKey(c)))
        {
            string json = "{\"execute\":\"" + command + "\",\"arguments\":" + Arguments(command, win) + "}";
            JsonElement reply;
            try
            {
                reply = Agent.ExecuteLarge(json, TimeSpan.FromSeconds(60));
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
                throw new InvalidOperationException(command + " got no answer (" + ex.Message + "); the agent's output:\n" + Agent.Stderr, ex);
            }

            if (reply.TryGetProperty("error", out JsonElement error))
            {
                string cls = error.GetProperty("class").GetString()!;
                Assert.True(cls is "GenericError" or "CommandNotFound", command + ": " + reply.GetRawText());
                Assert.False(string.IsNullOrEmpty(error.GetProperty("desc").GetString()), command + ": " + reply.GetRawText());
                Assert.DoesNotContain("Exception", error.GetProperty("desc").GetString()!, StringComparison.Ordinal);
            }
            else
            {
                Assert.True(reply.TryGetProperty("return", out _), command + ": " + reply.GetRawText());
            }

            answers.Add(command);
            Assert.Equal(JsonValueKind.Object, Return("{\"execute\":\"guest-ping\"}").ValueKind);
        }

        Assert.True(answers.Count >= 40, "guest-info listed only " + commands.Length + " commands");
    }

    /// <summary>
    /// Wine 8's NetUserSetInfo is a stub that ends the calling process; the agent died on
    /// guest-set-user-password before it asked whether it runs under Wine.
    /// </summary>
    [WineFact]
    public void Set_user_password_answers_under_wine_instead_of_dying()
    {
        JsonElement reply = Agent.ExecuteLarge("{\"execute\":\"guest-set-user-password\",\"arguments\":{\"username\":\"nobody\",\"password\":\"cGFzcw==\",\"crypted\":false}}", TimeSpan.FromSeconds(60));
        Assert.Equal("failed to set password: NetUserSetInfo is not implemented by Wine", reply.GetProperty("error").GetProperty("desc").GetString());
        Assert.Equal(JsonValueKind.Object, Return("{\"execute\":\"guest-ping\"}").ValueKind);
    }
}
