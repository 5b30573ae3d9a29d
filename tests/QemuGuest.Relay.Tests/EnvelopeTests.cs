using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
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
        using var stock = await StockAgent.StartAsync(dir, "vm1");
        // qemu-ga serves one connection at a time and the relay holds vm1's: ask a twin directly.
        using var twin = await StockAgent.StartAsync(dir, "twin");
        using var ours = await OurAgent.StartAsync(dir, "ours");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(stock.Socket));
        await relay.WaitReadyAsync("vm1");

        var paths = new (string Name, TestClient Client)[]
        {
            ("qemu-ga", await TestClient.ConnectAsync(twin.Socket)),
            ("our agent", await TestClient.ConnectAsync(ours.Socket)),
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

            // Too deep (our framer skips the rest, so only our three paths are compared here).
            string deep = "{\"execute\":\"guest-ping\",\"arguments\":{\"a\":" + new string('[', 1100) + new string(']', 1100) + "}}";
            var deepAnswers = new List<string>();
            foreach (var (name, c) in paths.Skip(1))
            {
                using var reply = await c.RequestAsync(deep);
                deepAnswers.Add(Canonical(reply));
                using var ping = await c.RequestAsync("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":77}}");
                Assert.Equal(77, ping.Return().GetInt64());
            }

            Assert.Equal("GenericError|JSON nesting depth limit exceeded|", deepAnswers[0]);
            Assert.All(deepAnswers, a => Assert.Equal(deepAnswers[0], a));
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
        using var agent = await StockAgent.StartAsync(dir, "vm1", "-b", "guest-sync-delimited");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.Socket));
        await relay.WaitReadyAsync("vm1", TimeSpan.FromSeconds(10));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm1"));
        using var ping = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}");
        Assert.Equal(JsonValueKind.Object, ping.Return().ValueKind);
        Assert.Equal(0, (await relay.StatsAsync("vm1"))["sync-failures"]);
    }
}
