using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// A guest's reply that is not valid JSON but carries the request's id (issue 24): the relay ends
/// that request at once with QEMU's parse-error text, as a direct client does, instead of
/// dropping it and letting the request run into its reply timeout. Real relay process and
/// sockets; the hostile agent is the guest that gets its reply wrong.
/// </summary>
public class MalformedReplyTests
{
    private const string HostName = "{\"execute\":\"guest-get-host-name\",\"id\":\"h\"}";

    /// <summary>Relay timeouts far beyond the client's wait: a request left to time out fails the test instead of passing late.</summary>
    private static void LongTimeouts(Dictionary<string, object?> r)
    {
        var limits = (Dictionary<string, object?>)r["Limits"]!;
        limits["FirstByteTimeoutSeconds"] = 600.0;
        limits["LastByteTimeoutSeconds"] = 600.0;
    }

    public static IEnumerable<object[]> BrokenReplies() => new[]
    {
        // Each is sent with the relay's id for the request ({0}); each fails the strict parse.
        new object[] { "duplicate-key", "{{\"return\": {{\"host-name\": \"a\"}}, \"return\": {{\"host-name\": \"b\"}}, \"id\": {0}}}\n", "JSON parse error, duplicate key" },
        new object[] { "lone-surrogate", "{{\"return\": {{\"host-name\": \"\\ud800\"}}, \"id\": {0}}}\n", "JSON parse error, \\ud800 is not a valid Unicode character" },
        new object[] { "missing-separator", "{{\"id\": {0} \"return\": {{\"host-name\": \"a\"}}}}\n", "JSON parse error, expected separator in dict" },
    };

    [Theory]
    [MemberData(nameof(BrokenReplies))]
    public async Task A_broken_reply_with_the_requests_id_ends_the_request_with_the_parse_error(string name, string reply, string text)
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], r => r.Command == "guest-get-host-name"
            ? r.SendAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, reply, r.IdText))
            : FakeAgent.Normal(r));
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            LongTimeouts(r);
        });
        await relay.WaitReadyAsync("vm");

        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using (var r = await c.RequestAsync(HostName, TimeSpan.FromSeconds(60)))
        {
            Assert.Equal("GenericError", r.ErrorClass());
            Assert.Equal("qemuguest-relay: guest-get-host-name: the guest agent's reply is not valid JSON (" + text + "); not passed on, channel resynchronised", r.ErrorDesc());
            Assert.Equal("\"h\"", r.IdText());
        }

        // The channel is usable at once for the next request.
        using (var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":2}", TimeSpan.FromSeconds(60)))
        {
            Assert.Equal(1234567890, r.Return().GetInt64());
        }

        Assert.True((await relay.StatsAsync("vm"))["malformed"] >= 1, name);
    }

    /// <summary>
    /// Invalid UTF-8 in the host name (the hostile agent's invalid-utf8 bytes without its final
    /// 0xFE, which is a stray byte to the framer and qemu's lexer alike and would end the message
    /// before its id), with the id first: QEMU's text for it.
    /// </summary>
    [Fact]
    public async Task Invalid_utf8_in_the_reply_ends_the_request_with_qemus_text()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], r =>
        {
            if (r.Command != "guest-get-host-name")
            {
                return FakeAgent.Normal(r);
            }

            var bytes = new List<byte>(System.Text.Encoding.ASCII.GetBytes("{\"id\": " + r.IdText + ", \"return\": {\"host-name\": \"a"));
            bytes.AddRange(new byte[] { 0x80, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xC0, 0xAF });
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes("\"}}\n"));
            return r.SendAsync(bytes.ToArray());
        });
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            LongTimeouts(r);
        });
        await relay.WaitReadyAsync("vm");

        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var r = await c.RequestAsync(HostName, TimeSpan.FromSeconds(60));
        Assert.Equal("qemuguest-relay: guest-get-host-name: the guest agent's reply is not valid JSON (JSON parse error, invalid UTF-8 sequence in string); not passed on, channel resynchronised", r.ErrorDesc());
    }

    /// <summary>
    /// A broken message that does not name the request's id (another id, none, or a syntax fault
    /// before any) says nothing about whose it is: it is dropped, and the real reply that follows
    /// still reaches the client.
    /// </summary>
    [Theory]
    [InlineData("{\"return\": {}, \"return\": 1, \"id\": 999999}\n")]
    [InlineData("{\"return\": {}, \"return\": 1}\n")]
    [InlineData("{\"return\" {}, \"id\": ID}\n")]
    public async Task A_broken_message_without_the_requests_id_is_dropped_and_the_reply_still_arrives(string junk)
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], async r =>
        {
            if (r.Command == "guest-get-host-name")
            {
                await r.SendAsync(junk.Replace("ID", r.IdText, StringComparison.Ordinal));
            }

            await FakeAgent.Normal(r);
        });
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            LongTimeouts(r);
        });
        await relay.WaitReadyAsync("vm");

        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var reply = await c.RequestAsync(HostName, TimeSpan.FromSeconds(60));
        Assert.Equal("fake", reply.Return().GetProperty("host-name").GetString());
        Assert.True((await relay.StatsAsync("vm"))["malformed"] >= 1);
    }
}
