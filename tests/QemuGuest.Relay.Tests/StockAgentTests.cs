using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>The relay in front of Debian's qemu-ga (and our fake where a real agent must not act): real processes.</summary>
public class StockAgentTests
{
    [Fact]
    public void Stock_agent_is_installed()
    {
        Assert.True(File.Exists(RealAgentProcess.StockPath), RealAgentProcess.StockPath + " is missing: apt-get install qemu-guest-agent");
    }

    /// <summary>Requests the relay refuses itself get byte-for-byte the agent's error (class, desc, id).</summary>
    [Fact]
    public async Task Refusals_match_the_stock_agent()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        // qemu-ga serves one connection at a time and the relay holds vm1's: compare with a twin.
        using var twin = await TestAgents.StartAsync(AgentKind.Stock, dir, "twin");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm1");

        string[] requests =
        {
            "{\"execute\":\"guest-ping\",\"foo\":1,\"id\":5}",
            "{\"execute\":\"guest-no-such\",\"id\":\"s\"}",
            "{\"execute\":\"guest-ping\",\"arguments\":{\"a\":1},\"id\":[1,2]}",
            "{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":\"a\"},\"id\":{\"k\":null}}",
            "{\"execute\":\"guest-file-read\",\"arguments\":{},\"id\":3}",
            "{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":1,\"offset\":0,\"whence\":\"bogus\"},\"id\":4}",
            "{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":1,\"offset\":0,\"whence\":true},\"id\":4}",
            "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\",\"arg\":[1]},\"id\":6}",
            "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"x\"},\"id\":7}",
            "{\"execute\":1,\"id\":8}",
            "{\"id\":9}",
            "{\"execute\":\"guest-ping\",\"arguments\":[]}",
            "[1,2]",
            "\"str\"",
        };

        using var direct = await TestClient.ConnectAsync(twin.SocketPath);
        using var viaRelay = await TestClient.ConnectAsync(relay.Socket("vm1"));
        // Both peers are in a clean state: the relay synced; sync the direct connection too.
        await direct.SendAsync(new byte[] { 0xFF });
        using (await direct.ReadAsync(TimeSpan.FromSeconds(5)))
        {
        }

        foreach (var request in requests)
        {
            using var expected = await direct.RequestAsync(request);
            using var actual = await viaRelay.RequestAsync(request);
            Assert.Equal(Canonical(expected), Canonical(actual));
        }

        var stats = await relay.StatsAsync("vm1");
        Assert.Equal(requests.Length - 2, stats["rejected"]); // the last two are parse-level: no VM involved
        Assert.Equal(0, stats["requests"]);
    }

    [Fact]
    public async Task Stray_bytes_and_sync_behave_like_the_agent()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));

        // Half a request, then 0xFF + sync-delimited: one parse error, then 0xFF and the echo.
        await c.SendAsync("{\"execute\":\"guest-pi");
        await c.SendAsync(new byte[] { 0xFF });
        await c.SendAsync("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":123456},\"id\":\"mine\"}");
        using var parseError = await c.ReadAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("GenericError", parseError!.ErrorClass());
        Assert.Equal("JSON parse error, stray '\uFFFD'", parseError!.ErrorDesc());
        Assert.Null(parseError!.IdText());
        int before = c.Delimiters;
        using var sync = await c.ReadAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(123456, sync!.Return().GetInt64());
        Assert.Equal("\"mine\"", sync!.IdText());
        Assert.Equal(before + 1, c.Delimiters);

        using var plain = await c.RequestAsync("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":42}}");
        Assert.Equal(42, plain.Return().GetInt64());
        Assert.Null(plain.IdText());
        Assert.Equal(2, (await relay.StatsAsync("vm1"))["local-syncs"]);
    }

    [Fact]
    public async Task Many_clients_on_several_vms_each_get_their_own_replies()
    {
        using var dir = new TempDir();
        using var a1 = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var a2 = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm2");
        await using var fake = new FakeAgent(dir["vm3.qga"], FakeAgent.Normal);
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var vms = (Dictionary<string, object?>)r["Vms"]!;
            vms["vm1"] = RelayProcess.Vm(a1.SocketPath);
            vms["vm2"] = RelayProcess.Vm(a2.SocketPath);
            vms["vm3"] = RelayProcess.Vm(fake.SocketPath);
        });
        foreach (var vm in new[] { "vm1", "vm2", "vm3" })
        {
            await relay.WaitReadyAsync(vm);
        }

        const int clientsPerVm = 8;
        const int requestsPerClient = 25;
        var tasks = new List<Task>();
        foreach (var vm in new[] { "vm1", "vm2", "vm3" })
        {
            for (int k = 0; k < clientsPerVm; k++)
            {
                int client = k;
                string name = vm;
                tasks.Add(Task.Run(async () =>
                {
                    using var c = await TestClient.ConnectAsync(relay.Socket(name));
                    for (int i = 0; i < requestsPerClient; i++)
                    {
                        string id = $"\"{name}-{client}-{i}\"";
                        string command = (i % 3) switch { 0 => "guest-ping", 1 => "guest-get-time", _ => "guest-get-host-name" };
                        using var reply = await c.RequestAsync("{\"execute\":\"" + command + "\",\"id\":" + id + "}");
                        Assert.Equal(id, reply.IdText());
                        var value = reply.Return();
                        switch (command)
                        {
                            case "guest-ping":
                                Assert.Equal(JsonValueKind.Object, value.ValueKind);
                                break;
                            case "guest-get-time":
                                Assert.Equal(JsonValueKind.Number, value.ValueKind);
                                break;
                            default:
                                Assert.True(value.TryGetProperty("host-name", out _));
                                break;
                        }
                    }
                }));
            }
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
        foreach (var vm in new[] { "vm1", "vm2", "vm3" })
        {
            var s = await relay.StatsAsync(vm);
            Assert.Equal(clientsPerVm * requestsPerClient, s["requests"]);
            Assert.Equal(clientsPerVm * requestsPerClient, s["replies"]);
            Assert.Equal(0, s["dropped"]);
            Assert.Equal(0, s["invalid-replies"]);
        }
    }

    [Fact]
    public async Task Pipelined_requests_come_back_in_order_with_their_ids()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));
        var sb = new StringBuilder();
        for (int i = 0; i < 50; i++)
        {
            sb.Append("{\"execute\":\"guest-ping\",\"id\":").Append(i).Append('}');
        }

        await c.SendAsync(sb.ToString());
        for (int i = 0; i < 50; i++)
        {
            using var r = await c.ReadAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r!.IdText());
        }
    }

    [Fact]
    public async Task Agent_killed_and_restarted_requests_recover()
    {
        using var dir = new TempDir();
        var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm1");
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));
        using (var r = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}"))
        {
            Assert.Equal("1", r.IdText());
        }

        agent.Dispose();
        File.Delete(agent.SocketPath);
        // A request while the agent is gone waits in the queue (bounded) and runs after the restart.
        await c.SendAsync("{\"execute\":\"guest-get-time\",\"id\":2}");
        await Task.Delay(500);
        using var restarted = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using (var r = await c.ReadAsync(TimeSpan.FromSeconds(20)))
        {
            Assert.NotNull(r);
            Assert.Equal("2", r!.IdText());
            Assert.Equal(JsonValueKind.Number, r.Return().ValueKind);
        }

        var s = await relay.StatsAsync("vm1");
        Assert.True(s["connects"] >= 2);
        Assert.True(s["resyncs"] >= 2);
    }

    [Fact]
    public async Task Socat_works_through_the_relay_unchanged()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm1");
        var psi = new ProcessStartInfo("socat") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-t5");
        psi.ArgumentList.Add("-");
        psi.ArgumentList.Add("UNIX-CONNECT:" + relay.Socket("vm1"));
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteLineAsync("{\"execute\":\"guest-get-host-name\",\"id\":\"socat\"}");
        string? line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(15));
        p.StandardInput.Close();
        using var d = JsonDocument.Parse(line!);
        Assert.Equal("\"socat\"", d.IdText());
        Assert.True(d.Return().TryGetProperty("host-name", out _));
        p.WaitForExit(10000);
    }

    [Fact]
    public async Task Read_only_endpoint_refuses_exec_like_a_blocked_agent_command()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(
            agent.SocketPath,
            new Dictionary<string, object?> { ["Name"] = "" },
            new Dictionary<string, object?> { ["Name"] = "ro", ["Policy"] = "read-only" }));
        using var ro = await TestClient.ConnectAsync(relay.Socket("vm1", "ro"));
        using var refused = await ro.RequestAsync("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\"},\"id\":1}");
        Assert.Equal("CommandNotFound", refused.ErrorClass());
        Assert.Equal("Command guest-exec has been disabled", refused.ErrorDesc());
        Assert.Equal("1", refused.IdText());
        using var allowed = await ro.RequestAsync("{\"execute\":\"guest-get-osinfo\",\"id\":2}");
        Assert.Equal(JsonValueKind.Object, allowed.Return().ValueKind);

        using var list = await relay.ControlAsync("relay-list-vms");
        var vm = list.Return().EnumerateArray().Single();
        Assert.Equal(2, vm.GetProperty("endpoints").GetArrayLength());
        using var commands = await relay.ControlAsync("relay-query-commands");
        Assert.Contains(commands.Return().EnumerateArray(), c => c.GetProperty("name").GetString() == "guest-shutdown" && !c.GetProperty("success-response").GetBoolean());
        using var version = await relay.ControlAsync("relay-version");
        Assert.False(string.IsNullOrEmpty(version.Return().GetProperty("version").GetString()));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Runtime_directory_and_sockets_are_private()
    {
        using var dir = new TempDir();
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(dir["absent.qga"]));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(relay.RuntimeDirectory));
        for (int i = 0; i < 100 && !File.Exists(relay.Socket("vm1")); i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(relay.Socket("vm1")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(relay.Control));
    }

    private static string Canonical(JsonDocument d)
    {
        // Key order is not stable on the wire; compare class, desc, id.
        return d.ErrorClass() + "|" + d.ErrorDesc() + "|" + d.IdText();
    }
}
