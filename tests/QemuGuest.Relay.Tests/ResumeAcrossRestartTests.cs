using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Issue 23, stage 1: the guest's agent is killed in the middle of a copy through the relay and a
/// new one starts on the same socket (what an agent restart or a reboot looks like from the
/// host). The copy resumes by position and its destination has the source's SHA-256; a client
/// pinging on its own connection meanwhile, with the same ids as the copy's client, sees at most
/// one error (the ping in flight, marked as an interruption) and only its own replies; the
/// relay's counters show the reconnect and the resync. Real relay, real agents, real sockets.
/// </summary>
public class ResumeAcrossRestartTests
{
    private const int Size = 24 * 1024 * 1024;
    private const long KillAtBytes = 6 * 1024 * 1024;

    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Theory]
    [InlineData(AgentKind.Ours, true)]
    [InlineData(AgentKind.Ours, false)]
    [InlineData(AgentKind.Stock, true)]
    [InlineData(AgentKind.Stock, false)]
    public async Task A_copy_resumes_when_the_agent_restarts_under_it(AgentKind kind, bool intoGuest)
    {
        using var dir = new TempDir();
        string socket = dir["vm.qga"];
        string state = dir["vm-state"];
        var agent = await TestAgents.StartAsync(kind, dir, "vm");
        try
        {
            using var relay = await RelayProcess.StartAsync(dir, r =>
            {
                ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(socket);
                RelayProcess.PatientReplies(r);
                // A restarted dotnet agent may take a while to listen on a loaded machine.
                ((Dictionary<string, object?>)r["Limits"]!)["QueueTimeoutSeconds"] = 90.0;
            });
            await relay.WaitReadyAsync("vm");
            var before = await relay.StatsAsync("vm");

            byte[] data = new byte[Size];
            new Random(23).NextBytes(data);
            string local = dir["local.bin"];
            string guest = dir["guest.bin"];
            string source = intoGuest ? local : guest;
            string destination = intoGuest ? guest : local;
            await File.WriteAllBytesAsync(source, data);

            using var stop = new CancellationTokenSource();
            var pings = PingLoopAsync(relay.Socket("vm"), stop.Token);

            await using var client = new GuestAgentClient("unix:" + relay.Socket("vm"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
            using var deadline = new CancellationTokenSource(Patience);
            var call = new QgaCallOptions { Timeout = TimeSpan.FromSeconds(60) };
            var engine = await GuestTransferEngine.OpenAsync(client, call, "vm", deadline.Token);
            // Small blocks: many requests in flight around the kill.
            var options = new TransferOptions { ChunkSize = 256 * 1024 };
            // The agent dies inside the engine's progress report, so the copy is always
            // interrupted in its middle, whatever the machine's speed.
            var killer = new KillAt(KillAtBytes, () =>
            {
                agent.Process.Kill();
                agent.Process.WaitForExit(30_000);
            });
            Task<TransferResult> copy = intoGuest
                ? engine.UploadAsync(local, guest, options, killer, deadline.Token)
                : engine.DownloadAsync(guest, local, Size, options, killer, deadline.Token);

            await killer.Fired.Task.WaitAsync(Patience);
            agent.Dispose();
            agent = RealAgentProcess.Start(kind, socket, state);
            await Task.Run(agent.WaitUntilListening);

            TransferResult result = await copy.WaitAsync(Patience);
            Assert.Equal(Size, result.Bytes);
            Assert.Equal(Sha256(data), result.Hash); // checked against the guest file after the resume, without -Verify
            Assert.Equal(Sha256(data), Sha256(await File.ReadAllBytesAsync(destination)));
            Assert.Empty(Directory.GetFiles(dir.Path, "*.qgtmp-*"));

            // A few pings after the restart, then the loop's record.
            await Task.Delay(500);
            stop.Cancel();
            var (replies, errors, crossed) = await pings.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Empty(crossed);
            Assert.True(errors.Count <= 1, "pings that failed: " + string.Join(" | ", errors));
            foreach (var e in errors)
            {
                Assert.StartsWith("qemuguest-relay: guest-ping: ", e);
            }

            Assert.True(replies > 0);

            var after = await relay.StatsAsync("vm");
            Assert.True(after["disconnects"] > before["disconnects"], "disconnects");
            Assert.True(after["connects"] > before["connects"], "connects");
            Assert.True(after["resyncs"] > before["resyncs"], "resyncs");
        }
        finally
        {
            agent.Dispose();
        }
    }

    /// <summary>
    /// Pings on a connection of its own with ids 1, 2, 3... (the same ids the copy's client uses)
    /// until stopped; returns the replies, the error descs, and any reply that was not this
    /// ping's: an id other than the one sent, or a return other than {}.
    /// </summary>
    private static async Task<(int Replies, List<string> Errors, List<string> Crossed)> PingLoopAsync(string socket, CancellationToken stop)
    {
        await Task.Yield();
        using var c = await TestClient.ConnectAsync(socket);
        int replies = 0;
        var errors = new List<string>();
        var crossed = new List<string>();
        for (int id = 1; !stop.IsCancellationRequested; id++)
        {
            using var reply = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":" + id + "}", TimeSpan.FromMinutes(2));
            JsonElement root = reply.RootElement;
            if (reply.IdText() != id.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                crossed.Add("sent id " + id + ", got " + root.GetRawText());
            }
            else if (root.TryGetProperty("error", out JsonElement error))
            {
                Assert.True(error.TryGetProperty(QgaInterruptions.Member, out _), "an error without the interruption mark: " + root.GetRawText());
                errors.Add(error.GetProperty("desc").GetString()!);
            }
            else if (root.GetProperty("return").GetRawText() != "{}")
            {
                crossed.Add("ping " + id + " returned " + root.GetRawText());
            }
            else
            {
                replies++;
            }

            await Task.Delay(20);
        }

        return (replies, errors, crossed);
    }

    private static string Sha256(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    /// <summary>Runs an action, once, inside the engine's progress report when it first reaches a byte count.</summary>
    private sealed class KillAt : IProgress<TransferProgressInfo>
    {
        private readonly long _at;
        private readonly Action _action;
        private int _done;

        public KillAt(long at, Action action)
        {
            _at = at;
            _action = action;
        }

        public TaskCompletionSource Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Report(TransferProgressInfo value)
        {
            if (value.Done >= _at && Interlocked.Exchange(ref _done, 1) == 0)
            {
                _action();
                Fired.TrySetResult();
            }
        }
    }
}
