using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Facade;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// The relay does not carry the binary bulk mode's frames yet: it refuses the command with a
/// named error before the guest sees it, and a copy through it falls back to
/// guest-file-read/write with our agent, which does offer the mode.
/// </summary>
public class BulkRefusalTests
{
    [Fact]
    public async Task The_relay_refuses_bulk_and_a_copy_through_it_uses_json()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent.SocketPath);
            RelayProcess.PatientReplies(r);
        });
        await relay.WaitReadyAsync("vm1");
        string path = dir["bulk.bin"];
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm1")))
        {
            long handle;
            using (var open = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"wb\"},\"id\":1}"))
            {
                handle = open.Return().GetInt64();
            }

            using var refused = await c.RequestAsync("{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"write\",\"count\":10},\"id\":2}");
            Assert.Equal("CommandNotFound", refused.ErrorClass());
            Assert.Contains("BulkNotRelayed", refused.ErrorDesc(), StringComparison.Ordinal);

            // The channel is in step: the next request is answered.
            using var close = await c.RequestAsync("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "},\"id\":3}");
            Assert.Null(close.ErrorClass());
        }

        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm1"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
        var trace = new ConcurrentQueue<string>();
        var options = new QgaCallOptions { Timeout = TimeSpan.FromSeconds(60) };
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var engine = await GuestTransferEngine.OpenAsync(new TracingChannel(client, trace.Enqueue, "vm1"), options, "vm1", cts.Token);
        engine.BulkEnabled = true;
        Assert.True(engine.Profile.CanBulk);
        byte[] data = new byte[(2 * 1024 * 1024) + 5];
        new Random(5).NextBytes(data);
        string local = dir["local.bin"];
        File.WriteAllBytes(local, data);
        await engine.UploadAsync(local, path, new TransferOptions(), null, cts.Token);
        Assert.Equal(data, File.ReadAllBytes(path));
        string back = dir["back.bin"];
        await engine.DownloadAsync(path, back, data.Length, new TransferOptions(), null, cts.Token);
        Assert.Equal(data, File.ReadAllBytes(back));

        // Asked once, refused, never again in this session; the bytes went as guest-file-write/read.
        Assert.Single(trace, line => line.Contains(GuestAgentClient.BulkCommand + " failed", StringComparison.Ordinal) && line.Contains("BulkNotRelayed", StringComparison.Ordinal));
        Assert.Contains(trace, line => line.Contains("guest-file-write answered", StringComparison.Ordinal));
        Assert.Contains(trace, line => line.Contains("guest-file-read answered", StringComparison.Ordinal));
    }
}
