using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>The one sync handshake (issue 18): the relay now runs the client's, fallback included.</summary>
public class SyncHandshakeTests
{
    /// <summary>
    /// qemu-ga run with -b guest-sync-delimited answers CommandNotFound to every sync the relay
    /// used to send: the VM never became ready. The shared handshake falls back to guest-sync.
    /// </summary>
    [Fact]
    public async Task Relay_syncs_with_an_agent_that_blocks_guest_sync_delimited()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1", "-b", "guest-sync-delimited");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm1", TimeSpan.FromSeconds(10));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));
        using var ping = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}");
        Assert.Equal(JsonValueKind.Object, ping.Return().ValueKind);
        Assert.Equal(0, (await relay.StatsAsync("vm1"))["sync-failures"]);
    }
}
