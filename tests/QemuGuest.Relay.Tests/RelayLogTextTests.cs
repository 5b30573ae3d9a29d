using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

public class RelayLogTextTests
{
    [Fact]
    public async Task Guest_text_quoted_in_relay_log_lines_is_printable()
    {
        // Before: the unexpected member's name went into the warning raw, so whoever tails the
        // relay's log (journalctl, a terminal) got the guest's title change and OSC 52 write.
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], r => r.Command == "guest-get-host-name"
            ? r.ReplyAsync("{\"return\": {\"host-name\": \"x\", \"pwn\\u001b]0;title\\u0007\\u001b]52;c;eA==\\u0007\": 1}}")
            : FakeAgent.Normal(r));
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var reply = await c.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":1}");
        Assert.NotNull(reply.ErrorClass());

        string log = "";
        for (int i = 0; i < 100 && !log.Contains("[206]", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
            log = relay.Output;
        }

        Assert.Contains("pwn\\u001b]0;title\\u0007\\u001b]52;c;eA==\\u0007", log);
        Assert.DoesNotContain('\u001b', log);
        Assert.DoesNotContain('\u0007', log);
    }
}
