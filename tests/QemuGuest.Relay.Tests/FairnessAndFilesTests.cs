using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class FairnessAndFilesTests
{
    /// <summary>A client that pipelines many requests does not delay another client's single request behind all of them.</summary>
    [Fact]
    public async Task A_pipelining_client_cannot_starve_another()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            await Task.Delay(40); // the stock agent also runs one command at a time
            await FakeAgent.Normal(r);
        });
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        using var greedy = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var modest = await TestClient.ConnectAsync(relay.Socket("vm"));
        var sb = new StringBuilder();
        for (int i = 0; i < 40; i++)
        {
            sb.Append("{\"execute\":\"guest-ping\",\"id\":\"g").Append(i).Append("\"}");
        }

        await greedy.SendAsync(sb.ToString());
        await Task.Delay(200);
        using var mine = await modest.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":\"m\"}");
        Assert.Equal("\"m\"", mine.IdText());

        // By the time the modest client got its answer, the greedy one has had only a few.
        int greedyDone = 0;
        foreach (var s in agent.Seen)
        {
            if (s.Command == "guest-get-time")
            {
                break;
            }

            greedyDone++;
        }

        Assert.True(greedyDone < 15, $"the modest request waited behind {greedyDone} greedy ones");
        for (int i = 0; i < 40; i++)
        {
            using var r = await greedy.ReadAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("\"g" + i + "\"", r.IdText());
        }
    }

    /// <summary>A real data path through the relay to qemu-ga: write a file, read it back (a temp file only).</summary>
    [Fact]
    public async Task File_round_trip_through_the_relay_to_qemu_ga()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath);
            RelayProcess.PatientReplies(r);
        });
        await relay.WaitReadyAsync("vm1");
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(3).NextBytes(data);
        string path = dir["payload.bin"];

        long handle;
        using (var open = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"wb\"},\"id\":1}"))
        {
            handle = open.Return().GetInt64();
        }

        using (var write = await c.RequestAsync("{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":" + handle + ",\"buf-b64\":\"" + Convert.ToBase64String(data) + "\"},\"id\":2}"))
        {
            Assert.Equal(data.Length, write.Return().GetProperty("count").GetInt64());
        }

        using (await c.RequestAsync("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "},\"id\":3}"))
        {
        }

        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        using (var open = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\"},\"id\":4}"))
        {
            handle = open.Return().GetInt64();
        }

        using (var read = await c.RequestAsync("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + ",\"count\":" + (data.Length + 1) + "},\"id\":5}"))
        {
            Assert.Equal(data, Convert.FromBase64String(read.Return().GetProperty("buf-b64").GetString()!));
        }

        using (await c.RequestAsync("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "},\"id\":6}"))
        {
        }

        var s = await relay.StatsAsync("vm1");
        Assert.True(s["bytes-to-guest"] > 4_000_000);
        Assert.True(s["bytes-from-guest"] > 4_000_000);
        Assert.Equal(0, s["invalid-replies"]);
    }

    /// <summary>A client that disconnects while its request waits or runs does not disturb the channel.</summary>
    [Fact]
    public async Task Clients_vanishing_mid_request_leave_the_channel_in_step()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            await Task.Delay(300);
            await FakeAgent.Normal(r);
        });
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        for (int i = 0; i < 5; i++)
        {
            using var quitter = await TestClient.ConnectAsync(relay.Socket("vm"));
            await quitter.SendAsync("{\"execute\":\"guest-get-time\",\"id\":\"q\"}");
        }

        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var r = await c.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":\"stay\"}");
        Assert.Equal("\"stay\"", r.IdText());
        Assert.Equal("fake", r.Return().GetProperty("host-name").GetString());
        Assert.Equal(0, (await relay.StatsAsync("vm"))["dropped"]);
    }
}
