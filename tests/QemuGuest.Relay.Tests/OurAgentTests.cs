using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>The relay in front of our own agent and Debian's qemu-ga side by side (real processes).</summary>
public class OurAgentTests
{
    private static readonly string[] SafeQueries =
    {
        "guest-ping", "guest-get-time", "guest-get-host-name", "guest-get-osinfo", "guest-get-timezone",
        "guest-info", "guest-get-users", "guest-network-get-interfaces", "guest-get-vcpus", "guest-fsfreeze-status",
    };

    [Fact]
    public async Task Both_agents_answer_safe_queries_with_schema_valid_replies()
    {
        using var dir = new TempDir();
        using var ours = await TestAgents.StartAsync(AgentKind.Ours, dir, "ours");
        using var stock = await TestAgents.StartAsync(AgentKind.Stock, dir, "stock");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var vms = (Dictionary<string, object?>)r["Vms"]!;
            vms["ours"] = RelayProcess.Vm(ours.SocketPath);
            vms["stock"] = RelayProcess.Vm(stock.SocketPath);
        });
        await relay.WaitReadyAsync("ours");
        await relay.WaitReadyAsync("stock");
        foreach (var vm in new[] { "ours", "stock" })
        {
            using var c = await TestClient.ConnectAsync(relay.Socket(vm));
            foreach (var q in SafeQueries)
            {
                using var r = await c.RequestAsync("{\"execute\":\"" + q + "\",\"id\":\"" + q + "\"}");
                Assert.Equal("\"" + q + "\"", r.IdText());
                // Either a value the relay checked against the schema, or the agent's own error
                // (e.g. a command this host cannot serve) — never a relay shape error.
                Assert.False(r.ErrorDesc()?.Contains("does not match the schema") ?? false, vm + " " + q + ": " + r.ErrorDesc());
            }

            var s = await relay.StatsAsync(vm);
            Assert.Equal(0, s["invalid-replies"]);
            Assert.Equal(0, s["dropped"]);
        }
    }

    [Fact]
    public async Task Many_clients_through_our_agent_and_a_restart_mid_stream()
    {
        using var dir = new TempDir();
        var ours = await TestAgents.StartAsync(AgentKind.Ours, dir, "ours");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["ours"] = RelayProcess.Vm(ours.SocketPath));
        await relay.WaitReadyAsync("ours");
        var tasks = Enumerable.Range(0, 10).Select(k => Task.Run(async () =>
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("ours"));
            for (int i = 0; i < 20; i++)
            {
                using var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":[" + k + "," + i + "]}");
                Assert.Equal("[" + k + "," + i + "]", r.IdText());
                Assert.Equal(JsonValueKind.Number, r.Return().ValueKind);
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(90));

        // Kill the agent while clients keep asking: each gets its reply or a clear relay error,
        // and once the agent is back everything works again.
        using var c2 = await TestClient.ConnectAsync(relay.Socket("ours"));
        var during = Task.Run(async () =>
        {
            var outcomes = new List<string>();
            for (int i = 0; i < 20; i++)
            {
                using var r = await c2.RequestAsync("{\"execute\":\"guest-ping\",\"id\":" + i + "}", TimeSpan.FromSeconds(30));
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r.IdText());
                outcomes.Add(r.RootElement.TryGetProperty("return", out _) ? "ok" : r.ErrorDesc()!);
                await Task.Delay(50);
            }

            return outcomes;
        });
        await Task.Delay(200);
        ours.Dispose();
        File.Delete(ours.SocketPath);
        await Task.Delay(300);
        using var back = await TestAgents.StartAsync(AgentKind.Ours, dir, "ours");
        var results = await during.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.All(results, o => Assert.True(o == "ok" || o.StartsWith("qemuguest-relay: ", StringComparison.Ordinal), o));
        Assert.Equal("ok", results[^1]);
        Assert.True((await relay.StatsAsync("ours"))["connects"] >= 2);
    }
}
