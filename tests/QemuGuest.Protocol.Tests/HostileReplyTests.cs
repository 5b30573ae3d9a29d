using System;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>Replies the fuzzers' finding (JsonDocument defers string checks) would turn into an unnamed exception in the caller.</summary>
public class HostileReplyTests
{
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task A_lone_surrogate_in_a_reply_is_a_protocol_error_and_the_next_call_works()
    {
        using var agent = new FakeAgent(async r => await r.ReplyAsync(r.Command == "bad"
            ? "{\"return\": {\"host-name\": \"\\udc00\"}}"
            : "{\"return\": \"ok\"}"));
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20), SyncTimeout = TimeSpan.FromSeconds(2) });

        var e = await Assert.ThrowsAsync<QgaProtocolException>(() => client.ExecuteAsync("bad", Ct));
        Assert.Contains("\\udc00 is not a valid Unicode character", e.Message);
        Assert.Equal("ok", (await client.ExecuteAsync("good", Ct)).GetString());
    }
}
