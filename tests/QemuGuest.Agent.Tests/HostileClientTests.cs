using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using Xunit.Abstractions;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// Hostile clients against our agent as a real process: every input of
/// <see cref="HostileClientInputs"/> on its own connection, floods of connections and of
/// pipelined requests. The agent never exits, answers the next client after a 0xFF resync,
/// keeps its open handles, leaks no descriptors and stays within its memory bound.
/// </summary>
public class HostileClientTests
{
    /// <summary>Agent RSS bound: one request of at most 65 MiB is buffered (see docs/threat-model.md).</summary>
    public const long AgentPeakBound = 400L * 1024 * 1024;

    private readonly ITestOutputHelper _output;

    public HostileClientTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Every_hostile_input_leaves_our_agent_serving()
    {
        using var agent = new AgentProcess(AgentKind.Ours);
        string file = Path.Combine(agent.StateDir, "kept.txt");
        long handle = agent.Execute("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + file + "\",\"mode\":\"w\"}}").GetProperty("return").GetInt64();
        Assert.Equal(1000, handle); // the bad-base64 input writes to handle 1000
        agent.Disconnect();
        int fdsBefore = OpenDescriptors(agent.Pid);

        foreach (HostileInput input in HostileClientInputs.All)
        {
            var clock = Stopwatch.StartNew();
            var (replies, closedByAgent) = await SendOnOwnConnectionAsync(agent.SocketPath, input);
            _output.WriteLine($"{input.Name}: {replies.Count} repl(ies){(closedByAgent ? ", agent closed the connection" : "")} in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(" | ", replies.Take(4).Select(r => r.Length > 160 ? r[..160] + "..." : r))}");
            foreach (string reply in replies)
            {
                // Whatever comes back is the agent's own well-formed, pure-ASCII JSON.
                Assert.True(reply.All(ch => ch < 0x80), reply);
                using var doc = JsonDocument.Parse(reply.TrimStart('\uFFFD'));
            }

            AssertServes(agent, input.Name);
            agent.Disconnect();
        }

        // The handle opened before the onslaught is still there, and nothing leaked.
        agent.Connect();
        Assert.Equal(JsonValueKind.Object, agent.Execute("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}").GetProperty("return").ValueKind);
        agent.Disconnect();
        await Task.Delay(300);
        int fdsAfter = OpenDescriptors(agent.Pid);
        var (rss, peak) = Memory(agent.Pid);
        _output.WriteLine($"{HostileClientInputs.All.Count} inputs; agent fds {fdsBefore} -> {fdsAfter}; RSS {rss / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB");
        Assert.True(fdsAfter <= fdsBefore, $"descriptors {fdsBefore} -> {fdsAfter}");
        Assert.True(peak < AgentPeakBound, $"agent peak RSS {peak / 1048576} MiB");
    }

    [Fact]
    public async Task Floods_of_connections_and_pipelined_requests_are_served_in_order()
    {
        using var agent = new AgentProcess(AgentKind.Ours);
        agent.Disconnect();
        int fdsBefore = OpenDescriptors(agent.Pid);

        // 32 clients at once, 8 connections each: some close at once, some leave half a request,
        // some send one and go away without reading the reply.
        int attempts = 0, refused = 0, timedOut = 0;
        var flood = Enumerable.Range(0, 32).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < 8; i++)
            {
                Interlocked.Increment(ref attempts);
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(agent.SocketPath), cts.Token);
                    switch ((t + i) % 3)
                    {
                        case 1:
                            await s.SendAsync(Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\",\"ar"), SocketFlags.None, cts.Token);
                            break;
                        case 2:
                            await s.SendAsync(Encoding.ASCII.GetBytes("{\"execute\":\"guest-info\"}"), SocketFlags.None, cts.Token);
                            break;
                    }
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref refused); // a full backlog refuses at once (EAGAIN): the client's problem, not the agent's
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref timedOut);
                }
            }
        })).ToArray();
        await Task.WhenAll(flood).WaitAsync(TimeSpan.FromSeconds(120));
        _output.WriteLine($"connection flood: {attempts} connections, {refused} refused by a full backlog, {timedOut} timed out");
        Assert.Equal(0, timedOut);
        AssertServes(agent, "connection flood");

        // 20,000 requests pipelined in one write; every reply carries its own id, in order.
        const int n = 20_000;
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            sb.Append(i % 2 == 0 ? "{\"execute\":\"guest-ping\",\"id\":" : "{\"execute\":\"guest-get-time\",\"id\":").Append(i).Append('}');
        }

        var clock = Stopwatch.StartNew();
        var send = Task.Run(() => agent.Send(sb.ToString()));
        for (int i = 0; i < n; i++)
        {
            JsonElement reply = agent.ReadReply();
            Assert.Equal(i, reply.GetProperty("id").GetInt32());
            Assert.Equal(i % 2 == 0 ? JsonValueKind.Object : JsonValueKind.Number, reply.GetProperty("return").ValueKind);
        }

        await send;
        agent.Disconnect();
        await Task.Delay(300); // the agent closes its side once it sees ours go
        int fdsAfter = OpenDescriptors(agent.Pid);
        var (rss, peak) = Memory(agent.Pid);
        _output.WriteLine($"request flood: {n} pipelined requests answered in order in {clock.Elapsed.TotalSeconds:0.0} s; fds {fdsBefore} -> {fdsAfter}; RSS {rss / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB");
        Assert.True(fdsAfter <= fdsBefore, $"descriptors {fdsBefore} -> {fdsAfter}: {Descriptors(agent.Pid)}");
        Assert.True(peak < AgentPeakBound, $"agent peak RSS {peak / 1048576} MiB");
    }

    internal static string Descriptors(int pid) => string.Join(" ", Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(f =>
    {
        try
        {
            return new FileInfo(f).LinkTarget ?? "?";
        }
        catch (IOException)
        {
            return "gone";
        }
    }).GroupBy(t => t.Split(':')[0].Split('[')[0]).Select(g => g.Key + "x" + g.Count()));

    /// <summary>A new client resyncs the way every manager does (0xFF + guest-sync-delimited) and is served.</summary>
    internal static void AssertServes(AgentProcess agent, string after)
    {
        agent.Connect();
        agent.SendRaw(new byte[] { 0xFF });
        long syncId = Random.Shared.NextInt64(1, 1L << 52);
        agent.Send("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":" + syncId + "}}");
        for (int i = 0; ; i++)
        {
            Assert.True(i < 50, "no sync reply after " + after);
            JsonElement r = agent.ReadReply();
            if (r.TryGetProperty("return", out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.GetInt64() == syncId)
            {
                break;
            }
        }

        JsonElement ping = agent.Execute("{\"execute\":\"guest-ping\",\"id\":\"alive\"}");
        Assert.Equal("alive", ping.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Object, ping.GetProperty("return").ValueKind);
    }

    /// <summary>Writes the input on a fresh connection, collects replies for a moment, closes. Every step bounded.</summary>
    internal static async Task<(List<string> Replies, bool ClosedByPeer)> SendOnOwnConnectionAsync(string socketPath, HostileInput input)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), bound.Token);
        using var stream = new NetworkStream(s, ownsSocket: false);
        var received = new MemoryStream();
        bool closed = false;
        var reading = Task.Run(async () =>
        {
            var buf = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int got = await stream.ReadAsync(buf, bound.Token);
                    if (got == 0)
                    {
                        closed = true;
                        return;
                    }

                    if (received.Length < 4 * 1024 * 1024)
                    {
                        received.Write(buf, 0, got);
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                closed = !bound.IsCancellationRequested;
            }
        });
        try
        {
            await input.WriteAsync(stream, bound.Token);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // The peer closed on us half-way: allowed.
        }

        await Task.WhenAny(reading, Task.Delay(700));
        bool closedByPeer = reading.IsCompleted && closed;
        s.Shutdown(SocketShutdown.Both);
        await Task.WhenAny(reading, Task.Delay(5000));
        string text = Encoding.Latin1.GetString(received.ToArray()).Replace("\u00FF", string.Empty, StringComparison.Ordinal);
        var replies = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        return (replies, closedByPeer);
    }

    /// <summary>Sockets and files outside the runtime's own mappings: what a leaked connection or handle would add (loaded assemblies and runtime pipes grow on warm-up and are not counted).</summary>
    internal static int OpenDescriptors(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Count(f =>
    {
        try
        {
            string t = new FileInfo(f).LinkTarget ?? "";
            return t.StartsWith("socket:", StringComparison.Ordinal) || (t.StartsWith('/') && !t.EndsWith(".dll", StringComparison.Ordinal) && !t.EndsWith(".pdb", StringComparison.Ordinal) && !t.EndsWith(".so", StringComparison.Ordinal) && !t.StartsWith("/dev/", StringComparison.Ordinal) && !t.StartsWith("/memfd", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    });

    internal static (long Rss, long Peak) Memory(int pid)
    {
        long rss = 0, peak = 0;
        foreach (string line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kb(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kb(line);
            }
        }

        return (rss, peak);

        static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
