using System.Collections.Generic;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class TcpEndpointTests
{
    [Fact]
    public async Task A_configured_loopback_tcp_endpoint_serves_with_its_policy()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal);
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(
            agent.SocketPath,
            new Dictionary<string, object?> { ["Name"] = "" },
            new Dictionary<string, object?> { ["Name"] = "net", ["Policy"] = "read-only", ["Tcp"] = "127.0.0.1:" + port, ["NoSocket"] = true }));
        await relay.WaitReadyAsync("vm");
        Assert.False(System.IO.File.Exists(relay.Socket("vm", "net")));
        using var c = await TestClient.ConnectTcpAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
        using (var r = await c.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":1}"))
        {
            Assert.Equal("fake", r.Return().GetProperty("host-name").GetString());
        }

        using (var r = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/etc/passwd\"},\"id\":2}"))
        {
            Assert.Equal("Command guest-file-open has been disabled", r.ErrorDesc());
        }

        Assert.DoesNotContain(agent.Seen, s => s.Command == "guest-file-open");
    }
}
