using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// One request envelope and one set of wire texts (issue 18): the same bad input gets the same
/// answer from Debian's qemu-ga, our agent, a relay VM endpoint and the relay's control endpoint.
/// Real processes and sockets throughout.
/// </summary>
public class EnvelopeTests
{
    /// <summary>Envelopes with exactly one fault each (qemu walks members in hash order, so two faults could race).</summary>
    private static readonly string[] BadEnvelopes =
    {
        "{\"foo\":1}",
        "{\"foo\":1,\"id\":2}",
        "{\"id\":\"x\",\"bar\":[1]}",
        "{\"execute\":\"guest-ping\",\"foo\":1,\"id\":5}",
        "{\"execute\":\"guest-ping\",\"exec-oob\":\"guest-ping\",\"id\":6}",
        "{\"id\":9}",
        "{\"arguments\":{},\"id\":3}",
        "{\"execute\":1,\"id\":8}",
        "{\"execute\":null}",
        "{\"execute\":\"guest-ping\",\"arguments\":[],\"id\":1}",
        "{\"execute\":\"guest-ping\",\"arguments\":\"a\",\"id\":{\"k\":[]}}",
        "[1,2]",
        "\"str\"",
        "{}",
    };

    [Fact]
    public async Task Bad_envelopes_get_one_answer_from_both_agents_and_both_relay_endpoints()
    {
        using var dir = new TempDir();
        using var stock = await TestAgents.StartAsync(AgentKind.Stock, dir, "vm1");
        // qemu-ga serves one connection at a time and the relay holds vm1's: ask a twin directly.
        using var twin = await TestAgents.StartAsync(AgentKind.Stock, dir, "twin");
        using var ours = await TestAgents.StartAsync(AgentKind.Ours, dir, "ours");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(stock.SocketPath));
        await relay.WaitReadyAsync("vm1");

        var paths = new (string Name, TestClient Client)[]
        {
            ("qemu-ga", await TestClient.ConnectAsync(twin.SocketPath)),
            ("our agent", await TestClient.ConnectAsync(ours.SocketPath)),
            ("relay VM endpoint", await TestClient.ConnectAsync(relay.Socket("vm1"))),
            ("relay control endpoint", await TestClient.ConnectAsync(relay.Control)),
        };
        try
        {
            // The direct connections start in a clean parser state, as the relay's does.
            foreach (var (_, c) in paths.Take(2))
            {
                await c.SendAsync(new byte[] { 0xFF });
                using (await c.ReadAsync(TimeSpan.FromSeconds(5)))
                {
                }
            }

            foreach (var request in BadEnvelopes)
            {
                var answers = new List<string>();
                foreach (var (name, c) in paths)
                {
                    using var reply = await c.RequestAsync(request);
                    answers.Add(name + ": " + Canonical(reply));
                }

                string expected = answers[0]["qemu-ga: ".Length..];
                Assert.All(answers, a => Assert.EndsWith(": " + expected, a));
            }

            // Framing errors: a control byte between messages and a closing brace with nothing open.
            foreach (var bad in new[] { "\u0001", "}" })
            {
                var answers = new List<string>();
                foreach (var (name, c) in paths)
                {
                    await c.SendAsync(Encoding.ASCII.GetBytes(bad));
                    using var reply = await c.ReadAsync(TimeSpan.FromSeconds(10));
                    Assert.NotNull(reply);
                    answers.Add(name + ": " + Canonical(reply!));
                }

                string expected = answers[0]["qemu-ga: ".Length..];
                Assert.All(answers, a => Assert.EndsWith(": " + expected, a));
            }

            // Too deep. Both agents drop what they read up to the offending bracket and answer
            // the rest on its own, as QEMU's json-streamer does (1,027 replies here); the relay
            // answers its clients once and skips the rest of the value (docs/relay.md).
            string deep = "{\"execute\":\"guest-ping\",\"arguments\":{\"a\":" + new string('[', 1100) + new string(']', 1100) + "}}";
            var agentReplies = new List<List<string>>();
            foreach (var (name, c) in paths.Take(2))
            {
                await c.SendAsync(deep + "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77}}");
                var replies = new List<string>();
                while (true)
                {
                    using var reply = await c.ReadAsync(TimeSpan.FromSeconds(30));
                    Assert.True(reply is not null, name + ": no sync reply after " + replies.Count + " replies");
                    if (reply!.RootElement.TryGetProperty("return", out var r) && r.ValueKind == JsonValueKind.Number && r.GetInt64() == 77)
                    {
                        break;
                    }

                    replies.Add(Canonical(reply));
                }

                agentReplies.Add(replies);
            }

            Assert.Equal("GenericError|JSON nesting depth limit exceeded|", agentReplies[0][0]);
            Assert.Equal(agentReplies[0], agentReplies[1]);

            foreach (var (name, c) in paths.Skip(2))
            {
                using var reply = await c.RequestAsync(deep);
                Assert.Equal("GenericError|JSON nesting depth limit exceeded|", Canonical(reply));
                using var ping = await c.RequestAsync("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77}}");
                Assert.Equal(77, ping.Return().GetInt64());
            }
        }
        finally
        {
            foreach (var (_, c) in paths)
            {
                c.Dispose();
            }
        }
    }

    private static string Canonical(JsonDocument d)
    {
        // Key order is not stable on the wire; compare class, desc, id.
        return d.ErrorClass() + "|" + d.ErrorDesc() + "|" + d.IdText();
    }
}
