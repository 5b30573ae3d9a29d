using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;
using Xunit.Abstractions;

namespace QemuGuest.Relay.Tests;

/// <summary>QMP port tracking, client bounds, discovery at run time, and memory under sustained large replies.</summary>
public class LifecycleTests
{
    private readonly ITestOutputHelper _output;

    public LifecycleTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Qmp_port_close_fails_the_request_in_flight_and_reopen_resyncs()
    {
        using var dir = new TempDir();
        var hang = new TaskCompletionSource();
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            if (r.Command == "guest-get-time" && !hang.Task.IsCompleted)
            {
                await hang.Task; // the guest went away mid-command
                return;
            }

            await FakeAgent.Normal(r);
        });
        await using var qmp = new FakeQmp(dir["vm.qmp"], agent.SocketPath);
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var vm = RelayProcess.Vm(agent.SocketPath);
            vm["Qmp"] = qmp.Path;
            vm["QmpPort"] = "qga0";
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = vm;
            ((Dictionary<string, object?>)r["Limits"]!)["FirstByteTimeoutSeconds"] = 30.0;
        });
        await relay.WaitReadyAsync("vm");
        await qmp.Ready.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(await PortOpenAsync(relay));

        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        await c.SendAsync("{\"execute\":\"guest-get-time\",\"id\":1}");
        await Task.Delay(500);
        var started = DateTime.UtcNow;
        await qmp.SendPortEventAsync("qga0", open: false);
        using (var r = await c.ReadAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.NotNull(r);
            Assert.Equal("1", r!.IdText());
            Assert.Contains("the guest closed the agent port", r.ErrorDesc());
        }

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "failed at once, not after the 30 s timeout");
        Assert.False(await PortOpenAsync(relay));
        hang.SetResult();
        await qmp.SendPortEventAsync("qga0", open: true);
        Assert.True(await PortOpenAsync(relay));
        using (var r = await c.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":2}"))
        {
            Assert.Equal("fake", r.Return().GetProperty("host-name").GetString());
        }
    }

    [Fact]
    public async Task Qmp_stop_holds_requests_and_a_completed_migration_renews_the_agent_connection()
    {
        // Issue 23: while QMP says the VM is stopped (a pause, a migration's switch-over)
        // nothing is sent; 'postmigrate' means this QEMU handed the guest over, so the relay
        // reconnects to the chardev path (where the destination's listens) and resyncs there.
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal);
        await using var qmp = new FakeQmp(dir["vm.qmp"], agent.SocketPath);
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var vm = RelayProcess.Vm(agent.SocketPath);
            vm["Qmp"] = qmp.Path;
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = vm;
        });
        await relay.WaitReadyAsync("vm");
        await qmp.Ready.Task.WaitAsync(TimeSpan.FromSeconds(10));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using (var r = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}"))
        {
            Assert.Equal(JsonValueKind.Object, r.Return().ValueKind);
        }

        var before = await relay.StatsAsync("vm");
        qmp.Status = "paused";
        await qmp.SendEventAsync("STOP");
        await WaitForAsync(async () => (await relay.StatsAsync("vm"))["vm-stops"] == before["vm-stops"] + 1, "the relay saw STOP");
        int seen = agent.Seen.Count;
        await c.SendAsync("{\"execute\":\"guest-get-host-name\",\"id\":2}");
        Assert.Null(await c.ReadAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal(seen, agent.Seen.Count);
        Assert.True(Volatile.Read(ref qmp.StatusQueries) >= 2, "the relay asks for the status while the VM is stopped");

        qmp.Status = "running";
        await qmp.SendEventAsync("RESUME");
        using (var r = await c.ReadAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("2", r!.IdText());
            Assert.Equal("fake", r.Return().GetProperty("host-name").GetString());
        }

        // Stopped for the switch-over, then handed over: the connection is renewed and the
        // request held meanwhile is answered on the new one.
        int connections = agent.Connections;
        qmp.Status = "finish-migrate";
        await qmp.SendEventAsync("STOP");
        await WaitForAsync(async () => (await relay.StatsAsync("vm"))["vm-stops"] == before["vm-stops"] + 2, "the relay saw the second STOP");
        await c.SendAsync("{\"execute\":\"guest-get-host-name\",\"id\":3}");
        Assert.Null(await c.ReadAsync(TimeSpan.FromSeconds(1)));
        qmp.Status = "postmigrate";
        using (var r = await c.ReadAsync(TimeSpan.FromSeconds(15)))
        {
            Assert.Equal("3", r!.IdText());
            Assert.Equal("fake", r.Return().GetProperty("host-name").GetString());
        }

        var after = await relay.StatsAsync("vm");
        Assert.Equal(before["migrations"] + 1, after["migrations"]);
        Assert.Equal(before["disconnects"] + 1, after["disconnects"]);
        Assert.Equal(before["connects"] + 1, after["connects"]);
        Assert.True(after["resyncs"] > before["resyncs"], "synchronised on the new connection");
        Assert.True(after["held-while-stopped"] >= before["held-while-stopped"] + 2);
        Assert.Equal(connections + 1, agent.Connections);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what + " within 15 s");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Client_limit_and_queue_bounds_refuse_clearly()
    {
        using var dir = new TempDir();
        var gate = new TaskCompletionSource();
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            await gate.Task;
            await FakeAgent.Normal(r);
        });
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            var l = (Dictionary<string, object?>)r["Limits"]!;
            l["MaxClientsPerEndpoint"] = 6;
            l["MaxQueuedRequests"] = 3;
            l["FirstByteTimeoutSeconds"] = 30.0;
        });
        await relay.WaitReadyAsync("vm");
        var clients = new List<TestClient>();
        try
        {
            for (int i = 0; i < 6; i++)
            {
                clients.Add(await TestClient.ConnectAsync(relay.Socket("vm")));
            }

            // The 7th connection is closed at once.
            using (var extra = await TestClient.ConnectAsync(relay.Socket("vm")))
            {
                await extra.SendAsync("{\"execute\":\"guest-ping\"}");
                Assert.Null(await extra.ReadAsync(TimeSpan.FromSeconds(5)));
            }

            // One in flight (held by the agent), three queued, the rest refused.
            for (int i = 0; i < 6; i++)
            {
                await clients[i].SendAsync("{\"execute\":\"guest-ping\",\"id\":" + i + "}");
                if (i == 0)
                {
                    // Wait until the first request is at the agent (in flight, out of the queue).
                    for (int w = 0; w < 200 && agent.Seen.IsEmpty; w++)
                    {
                        await Task.Delay(25);
                    }
                }

                await Task.Delay(100);
            }

            var refused = new List<int>();
            for (int i = 4; i < 6; i++)
            {
                using var r = await clients[i].ReadAsync(TimeSpan.FromSeconds(10));
                Assert.Contains("request queue of VM 'vm' is full", r!.ErrorDesc());
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r.IdText());
            }

            gate.SetResult();
            for (int i = 0; i < 4; i++)
            {
                using var r = await clients[i].ReadAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r!.IdText());
                Assert.Equal(JsonValueKind.Object, r.Return().ValueKind);
            }

            var s = await relay.StatsAsync("vm");
            Assert.Equal(1, s["clients-refused"]);
            Assert.Equal(2, s["queue-full"]);
        }
        finally
        {
            gate.TrySetResult();
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Discovered_sockets_come_and_go()
    {
        using var dir = new TempDir();
        System.IO.Directory.CreateDirectory(dir["agents"]);
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            r["Discovery"] = new Dictionary<string, object?> { ["Directories"] = new[] { dir["agents"] }, ["RescanSeconds"] = 0.3 };
        });
        await using (var agent = new FakeAgent(System.IO.Path.Combine(dir["agents"], "found.sock"), FakeAgent.Normal))
        {
            await relay.WaitReadyAsync("found");
            using var c = await TestClient.ConnectAsync(relay.Socket("found"));
            using var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":1}");
            Assert.Equal(1234567890, r.Return().GetInt64());
            using var list = await relay.ControlAsync("relay-list-vms");
            Assert.Equal("directory", list.Return().EnumerateArray().Single().GetProperty("source").GetString());
        }

        // Socket file removed: the VM and its endpoint go away.
        for (int i = 0; i < 100; i++)
        {
            using var list = await relay.ControlAsync("relay-list-vms");
            if (list.Return().GetArrayLength() == 0)
            {
                Assert.False(System.IO.File.Exists(relay.Socket("found")));
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("discovered VM never removed");
    }

    [Fact]
    public async Task Memory_stays_bounded_under_sustained_huge_replies_at_default_limits()
    {
        using var dir = new TempDir();
        const int big = 48 * 1024 * 1024; // a maximal guest-file-read: 64 MiB of base64
        string b64 = Convert.ToBase64String(new byte[big]);
        byte[] valid = Encoding.ASCII.GetBytes("{\"return\": {\"count\": " + big + ", \"buf-b64\": \"" + b64 + "\", \"eof\": false}, \"id\": ");
        byte[] oversized = Encoding.ASCII.GetBytes("{\"return\": {\"x\": \"" + new string('A', 80 * 1024 * 1024) + "\"}}\n");
        byte[] wrongShape = Encoding.ASCII.GetBytes("{\"return\": {\"count\": \"" + new string('B', 60 * 1024 * 1024) + "\", \"eof\": false}, \"id\": ");
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            switch (r.Arguments.GetProperty("handle").GetInt64())
            {
                case 1:
                    await r.SendAsync(valid);
                    await r.SendAsync(r.IdText + "}\n");
                    break;
                case 2:
                    await r.SendAsync(oversized);
                    break;
                default:
                    await r.SendAsync(wrongShape);
                    await r.SendAsync(r.IdText + "}\n");
                    break;
            }
        });
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            var l = (Dictionary<string, object?>)r["Limits"]!;
            l["FirstByteTimeoutSeconds"] = 30.0;
            l["LastByteTimeoutSeconds"] = 30.0;
            l["SyncTimeoutSeconds"] = 10.0;
        }, Environment.GetEnvironmentVariable("QGR_HEAP_LIMIT") is { } lim ? new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = lim } : null);
        await relay.WaitReadyAsync("vm");
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        var rounds = new List<long>();
        int roundCount = int.TryParse(Environment.GetEnvironmentVariable("QGR_ROUNDS"), out int rc) ? rc : 5;
        for (int round = 0; round < roundCount; round++)
        {
            using (var r = await c.RequestAsync("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":1,\"count\":" + big + "},\"id\":1}", TimeSpan.FromSeconds(60)))
            {
                Assert.Equal(big, r.Return().GetProperty("count").GetInt64());
                Assert.Equal(b64.Length, r.Return().GetProperty("buf-b64").GetString()!.Length);
            }

            using (var r = await c.RequestAsync("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":2},\"id\":2}", TimeSpan.FromSeconds(60)))
            {
                Assert.Contains("larger than", r.ErrorDesc());
            }

            using (var r = await c.RequestAsync("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":3},\"id\":3}", TimeSpan.FromSeconds(60)))
            {
                Assert.Contains("does not match the schema", r.ErrorDesc());
            }

            await Task.Delay(1000);
            var (rss, peak) = relay.Memory();
            rounds.Add(rss);
            _output.WriteLine($"round {round}: relay RSS {rss / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB");
        }

        var (_, finalPeak) = relay.Memory();
        // Measured: RSS flat at ~250 MiB after each round, peak ~505 MiB (one 64 MiB reply in
        // flight: framer buffer, parsed copy, validator's string, the client's reply).
        Assert.True(finalPeak < 700L * 1024 * 1024, $"peak RSS {finalPeak / 1048576} MiB");
        Assert.True(rounds[^1] < rounds[1] + 48L * 1024 * 1024, "RSS keeps growing: " + string.Join(", ", rounds));
        Assert.False(relay.Process.HasExited);
    }

    private static async Task<bool?> PortOpenAsync(RelayProcess relay)
    {
        for (int i = 0; i < 50; i++)
        {
            using var list = await relay.ControlAsync("relay-list-vms");
            var vm = list.Return().EnumerateArray().Single();
            if (vm.TryGetProperty("port-open", out var open))
            {
                bool value = open.GetBoolean();
                await Task.Delay(100);
                using var again = await relay.ControlAsync("relay-list-vms");
                if (again.Return().EnumerateArray().Single().GetProperty("port-open").GetBoolean() == value)
                {
                    return value;
                }
            }

            await Task.Delay(100);
        }

        return null;
    }
}
