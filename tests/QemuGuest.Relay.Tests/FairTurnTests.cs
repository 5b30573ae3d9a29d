using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// A bulk copy shares the VM's channel (docs/copy.md, "Fair turns"): it moves its file in
/// turns, and the relay's round-robin queue gives another client's waiting request the channel
/// between two of them. Real relay process, our agent, two client connections. No clock: client
/// B's ping is put in the relay's queue while A's first turn is open (A's progress handler
/// waits for the relay's own queue count to show it), and A's progress when B's answer arrives
/// must be at most half the file. Stage 6's one transfer per 64 MiB into the guest and per file out
/// of it answered the ping only after the last byte (checked: QEMUGUEST_BULK=whole and main's
/// engine both fail this test).
/// </summary>
public class FairTurnTests
{
    private const int Size = 24 << 20;

    private static readonly QgaCallOptions Call = new() { Timeout = TimeSpan.FromSeconds(60) };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Another_clients_ping_is_answered_while_a_bulk_copy_is_still_moving_its_file(bool intoGuest)
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath);
            RelayProcess.PatientReplies(r);
        });
        await relay.WaitReadyAsync("vm1");
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var options = new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) };
        await using var a = new GuestAgentClient("unix:" + relay.Socket("vm1"), options);
        await using var b = new GuestAgentClient("unix:" + relay.Socket("vm1"), options);
        await b.ExecuteAsync("guest-ping", cts.Token);
        var engine = await GuestTransferEngine.OpenAsync(a, Call, "vm1", cts.Token);
        engine.BulkEnabled = true;
        Assert.True(engine.Profile.CanBulk);

        byte[] data = new byte[Size];
        new Random(19).NextBytes(data);
        string local = dir["local.bin"];
        string guest = dir["guest.bin"];
        File.WriteAllBytes(intoGuest ? local : guest, data);
        var before = await relay.StatsAsync("vm1");

        var progress = new PingOnFirstBytes(relay, b, cts.Token);
        if (intoGuest)
        {
            await engine.UploadAsync(local, guest, new TransferOptions(), progress, cts.Token);
        }
        else
        {
            await engine.DownloadAsync(guest, local, Size, new TransferOptions(), progress, cts.Token);
        }

        long answeredAt = await progress.Answered!.WaitAsync(TimeSpan.FromSeconds(60), cts.Token);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(File.ReadAllBytes(intoGuest ? guest : local)));
        var after = await relay.StatsAsync("vm1");
        // Half the file, not all of it: out of the guest the relay may be done while the last
        // frames still sit in the socket buffers on their way to A.
        Assert.True(answeredAt > 0 && answeredAt <= Size / 2,
            $"client B's ping was answered when A's copy had moved {answeredAt} of {Size} bytes (bulk transfers: {after["bulk-transfers"] - before["bulk-transfers"]})");
        Assert.True(after["bulk-transfers"] - before["bulk-transfers"] >= 2, "bulk transfers: " + (after["bulk-transfers"] - before["bulk-transfers"]));
        Assert.Equal(Size, after[intoGuest ? "bulk-bytes-to-guest" : "bulk-bytes-from-guest"] - before[intoGuest ? "bulk-bytes-to-guest" : "bulk-bytes-from-guest"]);
        Assert.Equal(0, after["bulk-rejected"]);
    }

    /// <summary>
    /// A's progress: on its first bytes it sends B's ping and waits, at most 1 s (a write's agent
    /// gives up after 2 s without a frame), until the relay's queue holds it (into the guest A's
    /// first turn is open and cannot end meanwhile) or it is answered (out of the guest the
    /// first turn's one frame may be the whole turn, already over at the relay); afterwards it
    /// only records how far A got.
    /// </summary>
    private sealed class PingOnFirstBytes : IProgress<TransferProgressInfo>
    {
        private readonly RelayProcess _relay;
        private readonly GuestAgentClient _b;
        private readonly CancellationToken _ct;
        private long _bytes;

        public PingOnFirstBytes(RelayProcess relay, GuestAgentClient b, CancellationToken ct)
        {
            _relay = relay;
            _b = b;
            _ct = ct;
        }

        public Task<long>? Answered { get; private set; }

        public void Report(TransferProgressInfo value)
        {
            Volatile.Write(ref _bytes, value.Done);
            if (Answered is not null || value.Done == 0)
            {
                return;
            }

            Answered = PingAsync();
            Task.Run(WaitQueuedAsync).GetAwaiter().GetResult();
        }

        private async Task<long> PingAsync()
        {
            await _b.ExecuteAsync("guest-ping", _ct).ConfigureAwait(false);
            return Volatile.Read(ref _bytes);
        }

        private async Task WaitQueuedAsync()
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            while (DateTime.UtcNow < deadline && !Answered!.IsCompleted)
            {
                using var vms = await _relay.ControlAsync("relay-list-vms").ConfigureAwait(false);
                foreach (var vm in vms.Return().EnumerateArray())
                {
                    if (vm.GetProperty("name").GetString() == "vm1" && vm.GetProperty("queued").GetInt32() >= 1)
                    {
                        return;
                    }
                }
            }
        }
    }
}
