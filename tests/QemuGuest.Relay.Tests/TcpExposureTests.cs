using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class TcpExposureTests
{
    [Fact]
    public void A_tcp_endpoint_without_a_policy_needs_AllowUnrestricted()
    {
        var o = new RelayOptions();
        o.Vms["vm1"] = new VmOptions { Agent = "/run/x.qga", Endpoints = { new EndpointOptions { Name = "net", Tcp = "127.0.0.1:4000" } } };
        var r = new RelayOptionsValidator().Validate(null, o);
        Assert.True(r.Failed);
        Assert.Contains("endpoint 'net': Tcp '127.0.0.1:4000' has no Policy", string.Join("\n", r.Failures!));

        o.Vms["vm1"].Endpoints[0].AllowUnrestricted = true;
        Assert.True(new RelayOptionsValidator().Validate(null, o).Succeeded);
        o.Vms["vm1"].Endpoints[0] = new EndpointOptions { Name = "net", Tcp = "127.0.0.1:4000", Policy = "read-only" };
        Assert.True(new RelayOptionsValidator().Validate(null, o).Succeeded);
    }

    [Fact]
    public async Task The_relay_refuses_an_unrestricted_tcp_endpoint_and_warns_at_start_when_opted_in()
    {
        // Before: a loopback TCP endpoint without a policy let every local user run guest-exec
        // as root in the guest (a TCP port has no file permissions), silently.
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal);
        int port = FreePort();
        string config = dir["relay.json"];
        string endpoint = "{\"Name\": \"net\", \"Tcp\": \"127.0.0.1:" + port + "\", \"NoSocket\": true";
        await File.WriteAllTextAsync(config, "{\"Relay\": {\"RuntimeDirectory\": \"" + dir["rt"] + "\", \"Vms\": {\"vm\": {\"Agent\": \"" + agent.SocketPath + "\", \"Endpoints\": [" + endpoint + "}]}}}}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using (var p = Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(30000));
            Assert.Equal(2, p.ExitCode);
            Assert.Contains("AllowUnrestricted", await stderr + await stdout);
        }

        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(
            agent.SocketPath,
            new Dictionary<string, object?> { ["Name"] = "net", ["Tcp"] = "127.0.0.1:" + port, ["NoSocket"] = true, ["AllowUnrestricted"] = true }));
        await relay.WaitReadyAsync("vm");
        string warning = "QemuGuest.Relay.Vm[306] endpoint tcp:127.0.0.1:" + port + " of VM vm: TCP without authentication, every command allowed (AllowUnrestricted), any local user can connect";
        Assert.Contains(warning, await relay.WaitForOutputAsync(warning));
        using var c = await TestClient.ConnectTcpAsync(new IPEndPoint(IPAddress.Loopback, port));
        using var reply = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/etc/passwd\"},\"id\":1}");
        Assert.Equal(1000, reply.Return().GetInt32());
    }

    private static int FreePort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
