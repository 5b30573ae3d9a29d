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
}
