using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;
using Xunit.Abstractions;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// A scripted hostile agent behind the relay (a separate process): every client gets its own
/// correct reply or a clear error, the relay stays up, and counters show what was dropped.
/// </summary>
public class HostileAgentTests
{
    private readonly ITestOutputHelper _output;

    public HostileAgentTests(ITestOutputHelper output) => _output = output;

    private static async Task<(TempDir Dir, FakeAgent Agent, RelayProcess Relay)> StartAsync(Func<FakeRequest, Task> behavior, Action<Dictionary<string, object?>>? limits = null, Action<Dictionary<string, object?>>? vm = null)
    {
        var dir = new TempDir();
        var agent = new FakeAgent(dir["vm.qga"], behavior);
        var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var v = RelayProcess.Vm(agent.SocketPath);
            vm?.Invoke(v);
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = v;
            limits?.Invoke((Dictionary<string, object?>)r["Limits"]!);
        });
        await relay.WaitReadyAsync("vm");
        return (dir, agent, relay);
    }

    private static async Task AssertStillServesAsync(RelayProcess relay, FakeAgent agent)
    {
        agent.Handler = FakeAgent.Normal;
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":\"after\"}", TimeSpan.FromSeconds(30));
        Assert.Equal("\"after\"", r.IdText());
        Assert.Equal(1234567890, r.Return().GetInt64());
        Assert.False(relay.Process.HasExited);
    }

    [Fact]
    public async Task Forged_stale_and_duplicate_replies_are_dropped_and_counted()
    {
        var (dir, agent, relay) = await StartAsync(async r =>
        {
            // A forged id, an id-less reply, the real one, then a duplicate of it.
            await r.SendAsync("{\"return\": 666, \"id\": 12345}\n");
            await r.SendAsync("{\"return\": 667}\n");
            await r.SendAsync("{\"return\": 1" + r.IdMember + "}\n");
            await r.SendAsync("{\"return\": 2" + r.IdMember + "}\n");
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            for (int i = 0; i < 5; i++)
            {
                using var reply = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":" + i + "}");
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), reply.IdText());
                Assert.Equal(1, reply.Return().GetInt64());
            }

            var s = await relay.StatsAsync("vm");
            // Per request: forged + id-less dropped; the duplicate of request i arrives before
            // request i+1 is sent or during it: dropped or unsolicited either way.
            Assert.True(s["dropped"] >= 10, "dropped " + s["dropped"]);
            Assert.True(s["dropped"] + s["unsolicited"] >= 15);
            Assert.Equal(5, s["replies"]);
        }
    }

    [Fact]
    public async Task Wrong_shape_replies_become_clear_errors()
    {
        var (dir, agent, relay) = await StartAsync(r => r.Command switch
        {
            "guest-get-time" => r.SendAsync("{\"return\": \"noon\"" + r.IdMember + "}\n"),
            "guest-get-host-name" => r.SendAsync("{\"return\": {\"host-name\": \"h\", \"evil\": [1]}" + r.IdMember + "}\n"),
            _ => r.SendAsync("{\"return\": {}, \"error\": {\"class\": \"X\", \"desc\": \"y\"}" + r.IdMember + "}\n"),
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            foreach (var (command, text) in new[] { ("guest-get-time", "expected: integer"), ("guest-get-host-name", "'evil' is unexpected"), ("guest-ping", "exactly one") })
            {
                using var reply = await c.RequestAsync("{\"execute\":\"" + command + "\",\"id\":\"" + command + "\"}");
                Assert.Equal("\"" + command + "\"", reply.IdText());
                Assert.Equal("GenericError", reply.ErrorClass());
                Assert.StartsWith("qemuguest-relay: the guest agent's reply to " + command + " does not match the schema", reply.ErrorDesc());
                Assert.Contains(text, reply.ErrorDesc());
            }

            Assert.Equal(3, (await relay.StatsAsync("vm"))["invalid-replies"]);
            await AssertStillServesAsync(relay, agent);
        }
    }

    [Fact]
    public async Task Garbage_oversized_deep_and_token_floods_are_bounded()
    {
        const int maxReply = 256 * 1024;
        var rng = new Random(7);
        var (dir, agent, relay) = await StartAsync(async r =>
        {
            switch (r.Arguments.GetProperty("path").GetString())
            {
                case "garbage":
                    var junk = new byte[200_000];
                    rng.NextBytes(junk);
                    await r.SendAsync(junk);
                    await r.SendAsync("{\"return\": {\"pid\": 1}" + r.IdMember + "}\n");
                    break;
                case "oversized":
                    await r.SendAsync("{\"return\": {\"pid\": 1, \"x\": \"" + new string('a', 2 * maxReply) + "\"}" + r.IdMember + "}\n");
                    break;
                case "deep":
                    await r.SendAsync("{\"return\": " + new string('[', 5000) + new string(']', 5000) + r.IdMember + "}\n");
                    break;
                case "tokens":
                    await r.SendAsync("{\"return\": {\"pid\": [" + string.Join(",", Enumerable.Repeat("0", 60_000)) + "]}" + r.IdMember + "}\n");
                    break;
                case "endless":
                    // Never-ending unframed noise with no restart point.
                    for (int i = 0; i < 40; i++)
                    {
                        await r.SendAsync(Encoding.ASCII.GetBytes(new string('z', 64 * 1024)));
                    }

                    break;
            }
        }, limits: l =>
        {
            l["MaxReplyBytes"] = maxReply;
            l["MaxGarbageBytes"] = 64 * 1024;
            l["MaxTokens"] = 50_000;
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using (var r = await c.RequestAsync(Exec("garbage", 1)))
            {
                // 200 kB of random bytes: stray bytes skipped, the reply still found (or a clear error).
                Assert.Equal("1", r.IdText());
                Assert.True(r.RootElement.TryGetProperty("return", out _) || r.ErrorDesc()!.StartsWith("qemuguest-relay: ", StringComparison.Ordinal), r.RootElement.GetRawText());
            }

            foreach (var (kind, text) in new[] { ("oversized", "larger than"), ("deep", "nested deeper"), ("tokens", "JSON tokens"), ("endless", "") })
            {
                using var r = await c.RequestAsync(Exec(kind, 2));
                Assert.Equal("2", r.IdText());
                Assert.Equal("GenericError", r.ErrorClass());
                Assert.StartsWith("qemuguest-relay: guest-exec: ", r.ErrorDesc());
                Assert.Contains(text, r.ErrorDesc());
            }

            var s = await relay.StatsAsync("vm");
            Assert.True(s["oversized"] >= 2);
            Assert.True(s["garbage-resyncs"] + s["timeouts"] >= 1);
            await AssertStillServesAsync(relay, agent);
            var (rss, peak) = relay.Memory();
            _output.WriteLine($"relay RSS {rss / 1048576.0:0.0} MiB, peak {peak / 1048576.0:0.0} MiB");
            Assert.True(peak < 200L * 1024 * 1024, $"peak RSS {peak}");
        }
    }

    [Fact]
    public async Task Slowloris_replies_time_out_by_the_last_byte_bound()
    {
        var (dir, agent, relay) = await StartAsync(async r =>
        {
            byte[] reply = Encoding.ASCII.GetBytes("{\"return\": 5" + r.IdMember + "}\n");
            foreach (byte b in reply)
            {
                await r.SendAsync(new[] { b });
                await Task.Delay(300);
            }
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            var started = DateTime.UtcNow;
            using var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":1}");
            Assert.Equal("1", r.IdText());
            Assert.Contains("did not complete within 2 s of its first byte", r.ErrorDesc());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
            Assert.Equal(1, (await relay.StatsAsync("vm"))["timeouts"]);
        }
    }

    [Fact]
    public async Task Silent_agent_times_out_then_resyncs_and_drops_the_late_reply()
    {
        int calls = 0;
        var (dir, agent, relay) = await StartAsync(async r =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await Task.Delay(4500); // well past the 2 s first-byte bound; the stock agent blocks likewise
            }

            await r.SendAsync("{\"return\": " + calls + r.IdMember + "}\n");
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using (var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":1}"))
            {
                Assert.Contains("no reply began within 2 s", r.ErrorDesc());
                Assert.Equal("1", r.IdText());
            }

            using (var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":2}"))
            {
                Assert.Equal("2", r.IdText());
                Assert.Equal(2, r.Return().GetInt64());
            }

            var s = await relay.StatsAsync("vm");
            Assert.Equal(1, s["timeouts"]);
            Assert.True(s["resyncs"] >= 2);
            Assert.True(s["sync-discarded"] + s["dropped"] >= 1, "the late reply to request 1 must not reach anyone");
        }
    }

    [Fact]
    public async Task Agent_dies_mid_request_and_comes_back()
    {
        var (dir, agent, relay) = await StartAsync(r =>
        {
            r.Connection.Close();
            return Task.CompletedTask;
        });
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using (var r = await c.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":1}"))
            {
                Assert.Equal("1", r.IdText());
                Assert.Contains("connection to the guest agent was lost", r.ErrorDesc());
            }

            await AssertStillServesAsync(relay, agent);
            Assert.True(agent.Connections >= 2);
        }
    }

    [Fact]
    public async Task No_response_commands_get_no_reply_and_errors_pass()
    {
        bool fail = false;
        var (dir, agent, relay) = await StartAsync(r =>
            fail ? r.SendAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"shutdown refused\"}" + r.IdMember + "}\n") : Task.CompletedTask);
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            await c.SendAsync("{\"execute\":\"guest-shutdown\",\"id\":1}");
            using (var none = await c.ReadAsync(TimeSpan.FromSeconds(2.5)))
            {
                Assert.Null(none);
            }

            fail = true;
            using (var r = await c.RequestAsync("{\"execute\":\"guest-suspend-ram\",\"id\":2}"))
            {
                Assert.Equal("2", r.IdText());
                Assert.Equal("shutdown refused", r.ErrorDesc());
            }

            await AssertStillServesAsync(relay, agent);
            Assert.Equal(new[] { "guest-shutdown", "guest-suspend-ram", "guest-get-time" }, agent.Seen.Select(s => s.Command).ToArray());
            Assert.Equal(2, (await relay.StatsAsync("vm"))["no-response-commands"]);
        }
    }

    [Fact]
    public async Task Client_ids_never_reach_the_guest()
    {
        var (dir, agent, relay) = await StartAsync(FakeAgent.Normal);
        using (dir)
        using (relay)
        await using (agent)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using var r = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":{\"secret\":\"client-token\"}}");
            Assert.Equal("{\"secret\":\"client-token\"}", r.IdText());
            var seen = agent.Seen.Single();
            Assert.DoesNotContain("secret", seen.IdText);
            Assert.True(long.TryParse(seen.IdText, out _));
        }
    }

    [Fact]
    public async Task Unsynchronisable_agent_fails_requests_clearly()
    {
        var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"], FakeAgent.Normal) { AnswersSync = false };
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            ((Dictionary<string, object?>)r["Limits"]!)["QueueTimeoutSeconds"] = 3.0;
        });
        using (dir)
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
            using var r = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":1}");
            Assert.Equal("1", r.IdText());
            Assert.Contains("was not ready within 3 s", r.ErrorDesc());
            Assert.Empty(agent.Seen);
            Assert.True((await relay.StatsAsync("vm"))["sync-failures"] >= 1);
        }
    }

    private static string Exec(string path, int id) => "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"" + path + "\"},\"id\":" + id + "}";
}
