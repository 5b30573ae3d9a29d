using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Relay.Tests.Fixtures;
using Xunit.Abstractions;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Many clients x many requests across several real agents (two of ours, Debian's qemu-ga)
/// through one relay, for a fixed time (QEMUGUEST_LOAD_SECONDS, default 20). Every reply must
/// carry its own request's id and, for file round trips, the bytes that client wrote; no
/// handle, descriptor or thread is left behind, and memory is steady.
/// </summary>
public class LoadTests
{
    private readonly ITestOutputHelper _output;

    public LoadTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Many_clients_many_requests_several_agents_nothing_crossed_or_leaked()
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("QEMUGUEST_LOAD_SECONDS"), out int s) && s > 0 ? s : 20;
        const int clientsPerVm = 4;
        using var dir = new TempDir();
        string files = dir["files"];
        Directory.CreateDirectory(files);
        using var ours1 = await TestAgents.StartAsync(AgentKind.Ours, dir, "a1");
        using var ours2 = await TestAgents.StartAsync(AgentKind.Ours, dir, "a2");
        using var stock = await TestAgents.StartAsync(AgentKind.Stock, dir, "a3");
        var agents = new Dictionary<string, RealAgentProcess> { ["a1"] = ours1, ["a2"] = ours2, ["a3"] = stock };
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            var vms = (Dictionary<string, object?>)r["Vms"]!;
            vms["a1"] = RelayProcess.Vm(ours1.SocketPath);
            vms["a2"] = RelayProcess.Vm(ours2.SocketPath);
            vms["a3"] = RelayProcess.Vm(stock.SocketPath);
            // Generous per-reply bounds: a loaded 2-core machine, and this is about matching, not speed.
            var l = (Dictionary<string, object?>)r["Limits"]!;
            l["FirstByteTimeoutSeconds"] = 30.0;
            l["LastByteTimeoutSeconds"] = 30.0;
            l["SyncTimeoutSeconds"] = 10.0;
        });
        foreach (string vm in agents.Keys)
        {
            await relay.WaitReadyAsync(vm);
        }

        // Warm up once so that the baseline is a running relay, not a cold one.
        await RunAsync(relay, agents.Keys, clientsPerVm, files, TimeSpan.FromSeconds(2), new ConcurrentBag<string>());
        var before = Snapshot(relay.Process.Id);
        var samples = new List<long>();
        var failures = new ConcurrentBag<string>();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                lock (samples)
                {
                    samples.Add(relay.Memory().Rss);
                }

                try
                {
                    await Task.Delay(1000, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        var clock = Stopwatch.StartNew();
        var (requests, roundTrips) = await RunAsync(relay, agents.Keys, clientsPerVm, files, TimeSpan.FromSeconds(seconds), failures);
        clock.Stop();
        sampling.Cancel();
        await sampler;
        await Task.Delay(1000);
        var after = Snapshot(relay.Process.Id);

        var stats = new Dictionary<string, Dictionary<string, long>>();
        foreach (string vm in agents.Keys)
        {
            stats[vm] = await relay.StatsAsync(vm);
        }

        using var list = await relay.ControlAsync("relay-list-vms");
        long queued = list.Return().EnumerateArray().Sum(v => v.GetProperty("queued").GetInt64());
        var leakedHandles = agents.ToDictionary(a => a.Key, a => OpenFilesUnder(a.Value.Process.Id, files));
        long[] rss;
        lock (samples)
        {
            rss = samples.ToArray();
        }

        _output.WriteLine($"{agents.Count} agents x {clientsPerVm} clients for {clock.Elapsed.TotalSeconds:0.0} s: {requests} requests ({requests / clock.Elapsed.TotalSeconds:0}/s), {roundTrips} file round trips verified, {failures.Count} failures");
        _output.WriteLine($"relay sockets {before.Fds} -> {after.Fds}, threads {before.Threads} -> {after.Threads}, RSS samples (MiB): {string.Join(" ", rss.Select(x => (x / 1048576).ToString(System.Globalization.CultureInfo.InvariantCulture)))}");
        _output.WriteLine("per VM: " + string.Join("; ", stats.Select(v => $"{v.Key} requests {v.Value["requests"]} replies {v.Value["replies"]} relay-errors {v.Value["relay-errors"]} dropped {v.Value["dropped"]} timeouts {v.Value["timeouts"]}")));
        _output.WriteLine("files left open in the agents: " + string.Join(", ", leakedHandles.Select(h => h.Key + "=" + h.Value)));

        Assert.Empty(failures.Take(20));
        Assert.True(requests > 0);
        Assert.Equal(0, queued);
        Assert.All(stats.Values, v => Assert.Equal(0, v["relay-errors"] + v["timeouts"] + v["dropped"]));
        Assert.All(leakedHandles.Values, n => Assert.Equal(0, n));
        Assert.True(after.Fds <= before.Fds, $"relay sockets {before.Fds} -> {after.Fds}");
        Assert.True(after.Threads <= before.Threads + 4, $"relay threads {before.Threads} -> {after.Threads}");
        // Steady: the second half of the run never rises more than 32 MiB above the first half's peak.
        long firstHalf = rss.Take(Math.Max(1, rss.Length / 2)).Max();
        long secondHalf = rss.Skip(rss.Length / 2).DefaultIfEmpty(firstHalf).Max();
        Assert.True(secondHalf <= firstHalf + 32L * 1024 * 1024, $"RSS grew: {firstHalf / 1048576} -> {secondHalf / 1048576} MiB");
        Assert.False(relay.Process.HasExited);
    }

    /// <summary>Every client loops until the deadline over a mix of commands and file round trips, checking ids and content.</summary>
    private static async Task<(long Requests, long RoundTrips)> RunAsync(RelayProcess relay, IEnumerable<string> vms, int clientsPerVm, string files, TimeSpan duration, ConcurrentBag<string> failures)
    {
        long requests = 0, roundTrips = 0;
        var deadline = DateTime.UtcNow + duration;
        var clients = vms.SelectMany(vm => Enumerable.Range(0, clientsPerVm).Select(k => (vm, k))).Select(x => Task.Run(async () =>
        {
            string me = x.vm + "-c" + x.k;
            using var c = await TestClient.ConnectAsync(relay.Socket(x.vm));
            var rng = new Random(me.GetHashCode(StringComparison.Ordinal));
            long seq = 0;
            async Task<System.Text.Json.JsonDocument?> Ask(string command, string args)
            {
                string id = "\"" + me + "-" + seq++ + "\"";
                var r = await c.RequestAsync("{\"execute\":\"" + command + "\"" + (args.Length > 0 ? ",\"arguments\":" + args : "") + ",\"id\":" + id + "}", TimeSpan.FromSeconds(60));
                Interlocked.Increment(ref requests);
                if (r.IdText() != id)
                {
                    failures.Add($"{me}: {command} {id} got the reply for {r.IdText()}: {r.RootElement.GetRawText()}");
                    r.Dispose();
                    return null;
                }

                if (!r.RootElement.TryGetProperty("return", out _))
                {
                    failures.Add($"{me}: {command} {id}: {r.RootElement.GetRawText()}");
                    r.Dispose();
                    return null;
                }

                return r;
            }

            while (DateTime.UtcNow < deadline && failures.IsEmpty)
            {
                switch (rng.Next(4))
                {
                    case 0:
                        (await Ask("guest-get-host-name", ""))?.Dispose();
                        break;
                    case 1:
                        (await Ask("guest-get-time", ""))?.Dispose();
                        break;
                    case 2:
                        (await Ask("guest-info", ""))?.Dispose();
                        break;
                    default:
                        // A file round trip with content only this client knows.
                        var payload = Encoding.ASCII.GetBytes(me + ":" + seq + ":" + new string((char)('a' + rng.Next(26)), rng.Next(1, 3000)));
                        string path = Path.Combine(files, me + ".dat");
                        using (var open = await Ask("guest-file-open", "{\"path\":\"" + path + "\",\"mode\":\"w+\"}"))
                        {
                            if (open is null)
                            {
                                break;
                            }

                            long h = open.Return().GetInt64();
                            (await Ask("guest-file-write", "{\"handle\":" + h + ",\"buf-b64\":\"" + Convert.ToBase64String(payload) + "\"}"))?.Dispose();
                            (await Ask("guest-file-seek", "{\"handle\":" + h + ",\"offset\":0,\"whence\":\"set\"}"))?.Dispose();
                            using (var read = await Ask("guest-file-read", "{\"handle\":" + h + ",\"count\":65536}"))
                            {
                                if (read is not null)
                                {
                                    byte[] back = Convert.FromBase64String(read.Return().GetProperty("buf-b64").GetString()!);
                                    if (!back.AsSpan().SequenceEqual(payload))
                                    {
                                        failures.Add($"{me}: read back {back.Length} bytes that are not what it wrote ({payload.Length})");
                                    }
                                    else
                                    {
                                        Interlocked.Increment(ref roundTrips);
                                    }
                                }
                            }

                            (await Ask("guest-file-close", "{\"handle\":" + h + "}"))?.Dispose();
                        }

                        break;
                }
            }
        })).ToArray();
        await Task.WhenAll(clients).WaitAsync(duration + TimeSpan.FromSeconds(120));
        return (requests, roundTrips);
    }

    private static (int Fds, int Threads) Snapshot(int pid)
    {
        int threads = 0;
        foreach (string line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                threads = int.Parse(line.AsSpan(8).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return (HostileClientTests.Sockets(pid), threads);
    }

    /// <summary>Open descriptors of <paramref name="pid"/> on files under <paramref name="folder"/>: guest file handles still open.</summary>
    private static int OpenFilesUnder(int pid, string folder) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Count(f =>
    {
        try
        {
            return (new FileInfo(f).LinkTarget ?? "").StartsWith(folder, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    });
}
