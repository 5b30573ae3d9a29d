using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;
using Xunit.Abstractions;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Hostile clients against the relay (our real agent behind it): every input of
/// <see cref="HostileClientInputs"/>, then floods of connections and pipelined requests. The relay
/// answers with the agent's own error texts or closes, never exits, never lets one client's
/// input reach another, and serves the next client.
/// </summary>
public class HostileClientTests
{
    private readonly ITestOutputHelper _output;

    public HostileClientTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Every_hostile_input_leaves_the_relay_serving()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm");
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");

        // A bystander with a request in the queue all along: it must get exactly its own reply.
        using var bystander = await TestClient.ConnectAsync(relay.Socket("vm"));
        foreach (HostileInput input in HostileClientInputs.All)
        {
            var clock = Stopwatch.StartNew();
            var replies = await SendAsync(relay.Socket("vm"), input);
            _output.WriteLine($"{input.Name}: {replies.Count} repl(ies) in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(" | ", replies.Take(3).Select(r => r.Length > 160 ? r[..160] + "..." : r))}");
            Assert.All(replies, r => Assert.True(r.All(ch => ch < 0x80), r));

            using var ok = await bystander.RequestAsync("{\"execute\":\"guest-get-host-name\",\"id\":\"by-" + input.Name + "\"}", TimeSpan.FromSeconds(30));
            Assert.Equal("\"by-" + input.Name + "\"", ok.IdText());
            Assert.False(string.IsNullOrEmpty(ok.Return().GetProperty("host-name").GetString()));
            Assert.False(relay.Process.HasExited, relay.Output);
        }

        var s = await relay.StatsAsync("vm");
        var (rss, peak) = relay.Memory();
        _output.WriteLine($"relay RSS {rss / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB; rejected {s["rejected"]}, clients {s["clients-accepted"]}");
        Assert.True(peak < HostileModesTests.RelayPeakBound, $"relay peak RSS {peak / 1048576} MiB");
        Assert.False(agent.Process.HasExited);
    }

    [Fact]
    public async Task Floods_of_connections_and_pipelined_requests_are_bounded_and_matched()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath);
            ((Dictionary<string, object?>)r["Limits"]!)["MaxClientsPerEndpoint"] = 16;
        });
        await relay.WaitReadyAsync("vm");
        int fdsBefore = Sockets(relay.Process.Id);

        // 100 connections held open at once: 16 are served, the rest closed at once and counted
        // (or refused by a full listen backlog before the relay even sees them).
        var held = new List<Socket>();
        int backlogRefused = 0;
        try
        {
            for (int i = 0; i < 100; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                held.Add(s);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(relay.Socket("vm")));
                }
                catch (SocketException)
                {
                    backlogRefused++;
                }
            }

            await Task.Delay(500);
            var stats = await relay.StatsAsync("vm");
            _output.WriteLine($"connection flood: 100 held, refused by the relay {stats["clients-refused"]}, by the backlog {backlogRefused}");
            Assert.True(stats["clients-refused"] + backlogRefused >= 100 - 16, "refused " + stats["clients-refused"]);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }

        // 400 connect/half-request/close cycles from 20 clients at once.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < 20; i++)
            {
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(relay.Socket("vm")));
                }
                catch (SocketException)
                {
                    continue; // backlog full: refused, as above
                }

                try
                {
                    await s.SendAsync(Encoding.ASCII.GetBytes(i % 2 == 0 ? "{\"execute\":\"guest-get-ti" : "{\"execute\":\"guest-ping\"}"), SocketFlags.None);
                }
                catch (SocketException)
                {
                    // Closed by the relay (over its client limit while earlier ones wind down).
                }
            }
        }))).WaitAsync(TimeSpan.FromSeconds(60));

        // 2,000 requests pipelined in one write by one client: every reply is its own, in order.
        const int n = 2000;
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            sb.Append(i % 2 == 0 ? "{\"execute\":\"guest-ping\",\"id\":" : "{\"execute\":\"guest-get-host-name\",\"id\":").Append(i).Append('}');
        }

        await Task.Delay(2000); // the relay notices the flood's closed connections and frees their slots
        long refusedBefore = (await relay.StatsAsync("vm"))["clients-refused"];
        var clock = Stopwatch.StartNew();
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm")))
        {
            var send = c.SendAsync(sb.ToString());
            for (int i = 0; i < n; i++)
            {
                using var r = await c.ReadAsync(TimeSpan.FromSeconds(30));
                Assert.True(r is not null, $"reply {i} of {n} never came; refused {(await relay.StatsAsync("vm"))["clients-refused"] - refusedBefore} more clients\n{relay.Output[^Math.Min(3000, relay.Output.Length)..]}");
                Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), r.IdText());
                _ = r.Return();
            }

            await send;
        }

        await Task.Delay(500);
        int fdsAfter = Sockets(relay.Process.Id);
        var (rss, peak) = relay.Memory();
        _output.WriteLine($"request flood: {n} pipelined requests matched in order in {clock.Elapsed.TotalSeconds:0.0} s; relay sockets {fdsBefore} -> {fdsAfter}; RSS {rss / 1048576.0:0} MiB, peak {peak / 1048576.0:0} MiB");
        Assert.True(fdsAfter <= fdsBefore, $"relay sockets {fdsBefore} -> {fdsAfter}");
        Assert.False(relay.Process.HasExited);
    }

    [Fact]
    public async Task Duplicate_member_names_get_qemu_gas_own_error_without_the_name()
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"]);
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        using var c = await TestClient.ConnectAsync(relay.Socket("vm"));
        using var r = await c.RequestAsync("{\"execute\":\"guest-ping\",\"execute\":\"guest-get-time\",\"id\":1}");
        Assert.Equal("JSON parse error, duplicate key", r.ErrorDesc());
        Assert.Empty(agent.Seen);
    }

    /// <summary>Open sockets of a process (loaded assemblies and runtime pipes grow on warm-up and are not leaks).</summary>
    internal static int Sockets(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Count(f =>
    {
        try
        {
            return (new FileInfo(f).LinkTarget ?? "").StartsWith("socket:", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    });

    private static async Task<List<string>> SendAsync(string socketPath, HostileInput input)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await s.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), bound.Token);
        using var stream = new NetworkStream(s, ownsSocket: false);
        var received = new MemoryStream();
        var reading = Task.Run(async () =>
        {
            var buf = new byte[64 * 1024];
            try
            {
                int got;
                while ((got = await stream.ReadAsync(buf, bound.Token)) > 0)
                {
                    if (received.Length < 4 * 1024 * 1024)
                    {
                        received.Write(buf, 0, got);
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        });
        try
        {
            await input.WriteAsync(stream, bound.Token);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
        }

        await Task.WhenAny(reading, Task.Delay(1500));
        s.Shutdown(SocketShutdown.Both);
        await Task.WhenAny(reading, Task.Delay(5000));
        return Encoding.Latin1.GetString(received.ToArray()).Replace("\u00FF", string.Empty, StringComparison.Ordinal)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
