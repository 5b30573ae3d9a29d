using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// What the agent keeps in memory (issue 19): a guest may have 512 MiB in all, so large
/// requests must not leave the agent large, and starting must not map libraries it does not
/// need. Sizes only, generously bounded; no timing is asserted (the waits are polls with a
/// deadline).
/// </summary>
public sealed class FootprintTests
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LargeReplyTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Starting_does_not_load_OpenSSL()
    {
        // Writing qga.state at start picks a random temporary name; RandomNumberGenerator would
        // map libssl and libcrypto (3.5 MiB of RSS) into every agent for that alone.
        using var agent = new AgentProcess(AgentKind.Ours);
        Assert.True(agent.Execute("{\"execute\":\"guest-ping\"}").TryGetProperty("return", out _));
        Assert.True(File.Exists(Path.Combine(agent.StateDir, "qga.state")));
        string[] crypto = File.ReadAllLines("/proc/" + agent.Pid + "/maps")
            .Where(l => l.Contains("libssl", StringComparison.Ordinal) || l.Contains("libcrypto", StringComparison.Ordinal))
            .ToArray();
        Assert.Empty(crypto);
    }

    [Fact]
    public void Memory_goes_back_after_large_requests()
    {
        using var agent = new AgentProcess(AgentKind.Ours);
        agent.Execute("{\"execute\":\"guest-ping\"}");
        long before = RssKib(agent.Pid);
        long w = agent.Execute("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/dev/null\",\"mode\":\"wb\"}}").GetProperty("return").GetInt64();
        long r = agent.Execute("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/dev/zero\",\"mode\":\"rb\"}}").GetProperty("return").GetInt64();
        string block = Convert.ToBase64String(new byte[8 << 20]);
        for (int i = 0; i < 2; i++)
        {
            JsonElement wrote = agent.ExecuteLarge("{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":" + w + ",\"buf-b64\":\"" + block + "\"}}", LargeReplyTimeout);
            Assert.Equal(8 << 20, wrote.GetProperty("return").GetProperty("count").GetInt32());
            Assert.Equal(16 << 20, Read(agent, r, 16 << 20));
        }

        // The largest count the protocol allows: a 64 MiB reply.
        Assert.Equal(48 << 20, Read(agent, r, 48 << 20));

        // The last request was large and nothing follows it: what the agent holds now is what
        // it would hold for hours. Before issue 19 it kept the last reply's buffer (128 MiB for
        // 64 MiB of text) and a GC heap sized for such messages (the native agent: 476 MiB after
        // 8 and 48 MiB requests). The slack covers what the JIT compiles for these requests.
        long bound = before + (96 << 10);
        DateTime deadline = DateTime.UtcNow + SettleTimeout;
        long now;
        while ((now = RssKib(agent.Pid)) > bound && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(250);
        }

        Assert.True(now <= bound, $"RSS {now} KiB after large requests; {before} KiB before them (bound {bound} KiB)");
    }

    private static int Read(AgentProcess agent, long handle, int count) =>
        agent.ExecuteLarge("{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + ",\"count\":" + count + "}}", LargeReplyTimeout)
            .GetProperty("return").GetProperty("count").GetInt32();

    private static long RssKib(int pid)
    {
        string line = File.ReadAllLines("/proc/" + pid + "/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
