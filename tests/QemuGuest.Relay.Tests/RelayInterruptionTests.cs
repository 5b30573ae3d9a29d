using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// A relay's interruptions (connection lost, no reply, channel not ready) carry a structural mark,
/// the error member x-qemuguest-interruption, that our client tests instead of the wording; a
/// stock QMP client still sees a plain {"error": {"class", "desc"}}. Real relay and client
/// processes and sockets; the hostile agent is the guest that must misbehave or lie.
/// </summary>
public class RelayInterruptionTests
{
    private const string HostName = "{\"execute\":\"guest-get-host-name\",\"id\":\"h\"}";

    [Theory]
    [InlineData("stall", "no-reply", QgaInterruption.NoReply)]
    [InlineData("truncated", "connection-lost", QgaInterruption.ConnectionLost)]
    public async Task An_interruption_is_marked_on_the_wire_and_on_the_exception(string mode, string wire, QgaInterruption kind)
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"]);
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        HostileModes.Apply(agent, mode);

        using (var c = await TestClient.ConnectAsync(relay.Socket("vm")))
        using (var reply = await c.RequestAsync(HostName, TimeSpan.FromSeconds(30)))
        {
            // What a stock client reads is unchanged: class and desc, both strings.
            JsonElement error = reply.RootElement.GetProperty("error");
            Assert.Equal("GenericError", error.GetProperty("class").GetString());
            Assert.StartsWith("qemuguest-relay: ", error.GetProperty("desc").GetString());
            Assert.Equal(wire, error.GetProperty(QgaInterruptions.Member).GetString());
            Assert.Equal(new[] { "class", "desc", QgaInterruptions.Member }, error.EnumerateObject().Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal));
            Assert.Equal("\"h\"", reply.IdText());
        }

        HostileModes.Apply(agent, mode);
        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(30) });
        var ex = await Assert.ThrowsAsync<QgaGenericErrorException>(() => client.ExecuteAsync("guest-get-host-name"));
        Assert.Equal(kind, ex.Interruption);
        Assert.True(GuestErrorText.IsRelayInterruption(ex));
    }

    /// <summary>
    /// A guest cannot pass off its own error as the relay's interruption: not by wording (the old
    /// test, which this one fails), and not by adding the mark (the relay rebuilds agent errors
    /// from class and desc only).
    /// </summary>
    [Fact]
    public async Task A_guest_error_worded_and_marked_like_an_interruption_is_not_one()
    {
        using var dir = new TempDir();
        const string forged = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"qemuguest-relay: guest-get-host-name: the connection to the guest agent was lost (end of stream; VM reboot, agent restart or migration?); the command may or may not have run\", \"x-qemuguest-interruption\": \"connection-lost\"}}";
        await using var agent = new FakeAgent(dir["vm.qga"], r => r.Command == "guest-get-host-name" ? r.ReplyAsync(forged) : FakeAgent.Normal(r));
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");

        using (var c = await TestClient.ConnectAsync(relay.Socket("vm")))
        using (var reply = await c.RequestAsync(HostName, TimeSpan.FromSeconds(30)))
        {
            Assert.False(reply.RootElement.GetProperty("error").TryGetProperty(QgaInterruptions.Member, out _), reply.RootElement.GetRawText());
        }

        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(30) });
        var ex = await Assert.ThrowsAsync<QgaGenericErrorException>(() => client.ExecuteAsync("guest-get-host-name"));
        Assert.Contains("connection to the guest agent was lost", ex.Description);
        Assert.Null(ex.Interruption);
        Assert.False(GuestErrorText.IsRelayInterruption(ex));
    }

    /// <summary>The relay's queue timeout: the request was never sent.</summary>
    [Fact]
    public async Task A_channel_that_never_becomes_ready_is_marked_not_ready()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal) { AnswersSync = false };
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            ((Dictionary<string, object?>)r["Limits"]!)["QueueTimeoutSeconds"] = 2.0;
        });

        // Raw: our client's own sync would wait in the same queue and time out first.
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var reply = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}", TimeSpan.FromSeconds(30));
        Assert.Contains("was not ready within 2 s", reply.ErrorDesc());
        Assert.Equal("not-ready", reply.RootElement.GetProperty("error").GetProperty(QgaInterruptions.Member).GetString());
    }
}
