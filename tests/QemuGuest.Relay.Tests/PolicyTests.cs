using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Issue 15: what the relay refuses by schema data alone, with a hostile agent (a real socket)
/// and the relay as a real process.
/// </summary>
public class PolicyTests
{
    private const string ListCommand = "__com.qemuguest_guest-file-list";

    private static async Task<(TempDir Dir, FakeAgent Agent, RelayProcess Relay)> StartAsync(Func<FakeRequest, Task> behavior, Action<Dictionary<string, object?>>? vm = null, Action<Dictionary<string, object?>>? relayConfig = null)
    {
        var dir = new TempDir();
        var agent = new FakeAgent(dir["vm.qga"], behavior);
        var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var v = RelayProcess.Vm(agent.SocketPath);
            vm?.Invoke(v);
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = v;
            relayConfig?.Invoke(r);
        });
        await relay.WaitReadyAsync("vm");
        return (dir, agent, relay);
    }

    private static string Listing(string name) =>
        "{\"return\": {\"path\": \"/srv\", \"truncated\": false, \"entries\": [{\"name\": \"ok\", \"type\": \"file\", \"size\": 1, \"mode\": 420, \"mtime\": 0},"
        + " {\"name\": " + JsonSerializer.Serialize(name) + ", \"type\": \"file\", \"size\": 1, \"mode\": 420, \"mtime\": 0}]}}";

    [Theory]
    [InlineData("../x", "contains '/'")]
    [InlineData("/etc/cron.d/x", "contains '/'")]
    [InlineData("lnk\\..\\..\\tmp\\x", "contains '\\'")]
    [InlineData("..", "is '..'")]
    [InlineData(".", "is '.'")]
    [InlineData("", "is empty")]
    [InlineData("a\u0000b", "contains NUL")]
    [InlineData("\u001b]52;c;cm0gLXJmIH4K\u0007", "contains the control character U+001B")]
    [InlineData("a\u009bb", "contains the control character U+009B")]
    public async Task Listing_reply_with_a_name_that_is_not_one_path_component_is_refused(string name, string reason)
    {
        var (dir, agent, relay) = await StartAsync(r => r.Command == ListCommand ? r.ReplyAsync(Listing(name)) : FakeAgent.Normal(r));
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using var reply = await c.RequestAsync("{\"execute\":\"" + ListCommand + "\",\"arguments\":{\"path\":\"/srv\"},\"id\":1}", TimeSpan.FromSeconds(30));
            Assert.Equal("GenericError", reply.ErrorClass());
            string desc = reply.ErrorDesc()!;
            Assert.StartsWith("qemuguest-relay: the guest agent's reply to " + ListCommand + " does not match the schema", desc);
            Assert.Contains("Parameter 'entries[1].name' is not a single path component", desc);
            Assert.Contains(reason, desc);
            // The offending value is shown made printable: no raw control character reaches the client.
            foreach (char ch in desc)
            {
                Assert.False(ch < 0x20 || (ch >= 0x7F && ch <= 0x9F), "raw control character U+" + ((int)ch).ToString("X4") + " in: " + desc);
            }

            Assert.Equal(1, (await relay.StatsAsync("vm"))["invalid-replies"]);
        }
    }

    [Theory]
    [InlineData("report 12:00.txt")]
    [InlineData("..hidden")]
    [InlineData("Ærø ✓ 日本")]
    [InlineData("...")]
    public async Task Listing_reply_with_ordinary_names_passes_unchanged(string name)
    {
        var (dir, agent, relay) = await StartAsync(r => r.Command == ListCommand ? r.ReplyAsync(Listing(name)) : FakeAgent.Normal(r));
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using var reply = await c.RequestAsync("{\"execute\":\"" + ListCommand + "\",\"arguments\":{\"path\":\"/srv\"},\"id\":1}", TimeSpan.FromSeconds(30));
            Assert.Null(reply.ErrorClass());
            Assert.Equal(name, reply.Return().GetProperty("entries")[1].GetProperty("name").GetString());
        }
    }

    /// <summary>What our agent answers to the commands the policy tests send, were they passed on.</summary>
    private static Task Obliging(FakeRequest r) => r.Command switch
    {
        "__com.qemuguest_guest-exec-start" => r.ReplyAsync("{\"return\": {\"pid\": 4242}}"),
        _ => FakeAgent.Normal(r),
    };

    private static Action<Dictionary<string, object?>> Endpoint(string policy) => v =>
        v["Endpoints"] = new object[] { new Dictionary<string, object?> { ["Name"] = "", ["Policy"] = policy } };

    private static async Task AssertDisabledAsync(TestClient c, string command, string arguments)
    {
        using var reply = await c.RequestAsync("{\"execute\":\"" + command + "\",\"arguments\":" + arguments + ",\"id\":\"" + command + "\"}", TimeSpan.FromSeconds(30));
        Assert.Equal("CommandNotFound", reply.ErrorClass());
        Assert.Equal("Command " + command + " has been disabled", reply.ErrorDesc());
    }

    [Fact]
    public async Task Built_in_no_exec_refuses_the_extension_exec_start_and_guest_exec()
    {
        var (dir, agent, relay) = await StartAsync(Obliging, Endpoint("no-exec"));
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            await AssertDisabledAsync(c, "__com.qemuguest_guest-exec-start", "{\"path\":\"/bin/sh\",\"arg\":[\"-c\",\"id > /tmp/pwned\"]}");
            await AssertDisabledAsync(c, "guest-exec", "{\"path\":\"/bin/true\"}");
            await AssertDisabledAsync(c, "__com.qemuguest_guest-exec-read", "{\"pid\":1}");
            using var ping = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":2}", TimeSpan.FromSeconds(30));
            Assert.Null(ping.ErrorClass());
            Assert.DoesNotContain(agent.Seen, r => r.Command.Contains("exec", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_name_only_no_exec_policy_is_warned_about_at_start()
    {
        // docs/relay.md's example before issue 15: it denied guest-exec by name and let the
        // extension's exec-start run programs as root. Still honoured, but no longer silently.
        var (dir, agent, relay) = await StartAsync(Obliging, Endpoint("old-no-exec"), r =>
            r["Policies"] = new Dictionary<string, object?> { ["old-no-exec"] = new Dictionary<string, object?> { ["Deny"] = new[] { "guest-exec", "guest-exec-status" } } });
        using (dir)
        using (relay)
        await using (agent)
        {
            const string Warning = "policy old-no-exec denies guest-exec-status, guest-exec by name but still allows __com.qemuguest_guest-exec-start";
            string output = await relay.WaitForOutputAsync(Warning);
            Assert.Contains(Warning, output);
            Assert.Contains("deny '@exec'", output);
        }
    }

    [Theory]
    [InlineData("guest-file-*")]
    [InlineData("@file-write")]
    public async Task Denying_guest_file_commands_refuses_the_extension_file_writes(string deny)
    {
        var (dir, agent, relay) = await StartAsync(Obliging, Endpoint("no-files"), r =>
            r["Policies"] = new Dictionary<string, object?> { ["no-files"] = new Dictionary<string, object?> { ["Deny"] = new[] { deny } } });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            await AssertDisabledAsync(c, "__com.qemuguest_guest-file-set-attributes", "{\"path\":\"/etc/shadow\",\"mode\":438}");
            await AssertDisabledAsync(c, "__com.qemuguest_guest-file-remove", "{\"path\":\"/etc/passwd\"}");
            await AssertDisabledAsync(c, "__com.qemuguest_guest-file-mkdir", "{\"path\":\"/root/.ssh\"}");
            await AssertDisabledAsync(c, "__com.qemuguest_guest-file-rename", "{\"source\":\"/a\",\"destination\":\"/b\"}");
            await AssertDisabledAsync(c, "guest-file-open", "{\"path\":\"/etc/passwd\",\"mode\":\"w\"}");
            Assert.DoesNotContain(agent.Seen, r => r.Command.Contains("file", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("Deny", "guest-exce", "'guest-exce' matches no command of the schema")]
    [InlineData("Deny", "@execute", "'@execute' names no capability class of the schema")]
    [InlineData("Allow", "guest-zz*", "'guest-zz*' matches no command of the schema")]
    public async Task A_policy_entry_that_matches_no_command_stops_the_relay_at_start(string list, string entry, string problem)
    {
        using var dir = new TempDir();
        string config = dir["bad.json"];
        var root = new Dictionary<string, object?>
        {
            ["Relay"] = new Dictionary<string, object?>
            {
                ["RuntimeDirectory"] = dir["rt"],
                ["Policies"] = new Dictionary<string, object?> { ["typo"] = new Dictionary<string, object?> { [list] = new[] { entry } } },
            },
        };
        await System.IO.File.WriteAllTextAsync(config, JsonSerializer.Serialize(root));
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(30000));
        Assert.Equal(2, p.ExitCode);
        string text = await stderr + await stdout;
        Assert.Contains("Relay:Policies:typo:" + list + ": " + problem, text);
        Assert.False(System.IO.Directory.Exists(dir["rt"]));
    }
}
