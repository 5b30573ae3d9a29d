using System;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Facade;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Transfer;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// The relay carries the binary bulk mode (docs/relay.md, "Binary bulk mode"): every frame of
/// either side is checked before it is passed on, a side that lies gets a clean end and the
/// other a named error (BulkFrameRejected, mark bad-frame), and the channel works again for
/// every client. Real relay process; our agent for the copies, HostileAgent for the lies.
/// </summary>
public class BulkRelayTests
{
    private static readonly QgaCallOptions Call = new() { Timeout = TimeSpan.FromSeconds(60) };

    [Fact]
    public async Task A_copy_through_the_relay_moves_its_bytes_in_checked_frames_both_ways()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm1");
        using var relay = await StartRelayAsync(dir, agent.SocketPath);

        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm1"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
        var trace = new ConcurrentQueue<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var engine = await GuestTransferEngine.OpenAsync(new TracingChannel(client, trace.Enqueue, "vm1"), Call, "vm1", cts.Token);
        engine.BulkEnabled = true;
        Assert.True(engine.Profile.CanBulk);

        // Not a multiple of the frame size: the last frame is short.
        byte[] data = new byte[(5 * 1024 * 1024) + 12345];
        new Random(5).NextBytes(data);
        string local = dir["local.bin"];
        File.WriteAllBytes(local, data);
        string guest = dir["guest.bin"];
        await engine.UploadAsync(local, guest, new TransferOptions(), null, cts.Token);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(File.ReadAllBytes(guest)));
        var afterUpload = await relay.StatsAsync("vm1");

        string back = dir["back.bin"];
        await engine.DownloadAsync(guest, back, data.Length, new TransferOptions(), null, cts.Token);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(File.ReadAllBytes(back)));
        var s = await relay.StatsAsync("vm1");

        // Every byte went in frames: six frames each way (1 MiB bound; every turn but the last is
        // whole MiBs), no guest-file-write/read.
        Assert.Equal(6, afterUpload["bulk-frames-to-guest"]);
        Assert.Equal(data.Length, afterUpload["bulk-bytes-to-guest"]);
        Assert.Equal(6, s["bulk-frames-from-guest"]);
        Assert.Equal(data.Length, s["bulk-bytes-from-guest"]);
        // In turns (docs/copy.md, "Fair turns"): the first is 1 MiB, so at least two each way.
        Assert.True(s["bulk-transfers"] >= 4, "bulk-transfers " + s["bulk-transfers"]);
        Assert.True(s["bulk-rejected"] == 0, relay.Output);
        Assert.DoesNotContain(trace, line => line.Contains("guest-file-write answered", StringComparison.Ordinal));
        Assert.DoesNotContain(trace, line => line.Contains("guest-file-read answered", StringComparison.Ordinal));
        Assert.DoesNotContain(trace, line => line.Contains(GuestAgentClient.BulkCommand + " failed", StringComparison.Ordinal));

        // An empty file: a read whose guest acceptance, end frame and second reply come in one
        // read (the relay once passed on the reply with no end frame before it), as does the
        // last turn of a file whose size is a whole number of turns.
        string empty = dir["empty.bin"];
        File.WriteAllBytes(empty, Array.Empty<byte>());
        Assert.Equal(0, (await engine.DownloadAsync(empty, dir["empty-back.bin"], 0, new TransferOptions(), null, cts.Token)).Bytes);
        Assert.Empty(File.ReadAllBytes(dir["empty-back.bin"]));

        // The session is back in JSON on both sides of the relay.
        Assert.Equal(System.Text.Json.JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", cts.Token)).ValueKind);
    }

    [Theory]
    [InlineData("bulk-bad-crc", "has checksum 0x")]
    [InlineData("bulk-overlong", "where bulk frame 2 or the end frame belongs")]
    [InlineData("bulk-over-bound", "announces 1048577 bytes, over the bound of 1048576")]
    [InlineData("bulk-endless", "more than the 1048576 bytes asked for")]
    [InlineData("bulk-silent", "nothing moved for 2 s")]
    public async Task A_guest_that_lies_in_frames_gets_its_transfer_ended_and_the_VM_works_again(string mode, string named)
    {
        using var dir = new TempDir();
        await using var agent = new FakeAgent(dir["vm.qga"]);
        HostileModes.Apply(agent, mode);
        using var relay = await RelayProcess.StartAsync(dir, r => ((Dictionary<string, object?>)r["Vms"]!)["vm"] = RelayProcess.Vm(agent.SocketPath));
        await relay.WaitReadyAsync("vm");
        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(30) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "vm", cts.Token);
        engine.BulkEnabled = true;
        Assert.True(engine.Profile.CanBulk);
        string local = dir["out.bin"];

        var ex = await Assert.ThrowsAnyAsync<Exception>(() =>
            engine.DownloadAsync("/guest/file", local, 0, new TransferOptions { MaxBytes = 1 << 20 }, null, cts.Token));
        var named_ = Find<QgaCommandException>(ex);
        Assert.True(named_ is not null, ex.ToString());
        Assert.Equal(QgaInterruption.BadFrame, named_!.Interruption);
        Assert.Contains("qemuguest-relay: " + GuestAgentClient.BulkCommand + ": BulkFrameRejected: ", named_.Description, StringComparison.Ordinal);
        Assert.True(named_.Description.Contains(named, StringComparison.Ordinal), named_.Description);
        Assert.False(File.Exists(local));

        // The relay resynchronised: this client and a new one are answered.
        HostileModes.Apply(agent, "normal");
        Assert.Equal(System.Text.Json.JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", cts.Token)).ValueKind);
        using (var other = await TestClient.ConnectAsync(relay.Socket("vm")))
        using (var ok = await other.RequestAsync("{\"execute\":\"guest-get-time\",\"id\":\"after\"}", TimeSpan.FromSeconds(30)))
        {
            Assert.Equal(1234567890, ok.Return().GetInt64());
        }

        var s = await relay.StatsAsync("vm");
        Assert.True(s["bulk-rejected"] >= 1, string.Join(", ", s));
        Assert.False(relay.Process.HasExited, relay.Output);
    }

    [Theory]
    [InlineData("crc", "has checksum 0x")]
    [InlineData("sequence", "frame sequence number 5 where 1 was due")]
    [InlineData("json", "byte 0x7B where bulk frame 1 or the end frame belongs")]
    [InlineData("count", "more than the 3000 bytes asked for")]
    public async Task A_client_that_lies_in_frames_gets_a_named_error_and_the_guest_is_resynchronised(string lie, string named)
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm1");
        using var relay = await StartRelayAsync(dir, agent.SocketPath);
        string path = dir["lied.bin"];
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm1")))
        {
            long handle;
            using (var open = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"wb\"},\"id\":1}"))
            {
                handle = open.Return().GetInt64();
            }

            using (var accepted = await c.RequestAsync("{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"write\",\"count\":3000},\"id\":2}"))
            {
                Assert.Equal(1048576, accepted.Return().GetProperty("max-frame-bytes").GetInt64());
            }

            byte[] payload = new byte[1000];
            await c.SendAsync(Frame(payload, 0));
            byte[] bad = lie switch
            {
                "crc" => Corrupt(Frame(payload, 1)),
                "sequence" => Frame(payload, 5),
                "json" => System.Text.Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\"}"),
                _ => Frame(new byte[2001], 1),
            };
            await c.SendAsync(bad);
            using var refused = await c.ReadAsync(TimeSpan.FromSeconds(60));
            Assert.NotNull(refused);
            Assert.Equal("2", refused.IdText());
            Assert.Equal("GenericError", refused.ErrorClass());
            Assert.StartsWith("qemuguest-relay: " + GuestAgentClient.BulkCommand + ": BulkFrameRejected: a bulk frame from this client", refused.ErrorDesc(), StringComparison.Ordinal);
            Assert.Contains(named, refused.ErrorDesc(), StringComparison.Ordinal);
            Assert.Equal("bad-frame", refused!.RootElement.GetProperty("error").GetProperty(QgaInterruptions.Member).GetString());

            // Where this client's next message starts is unknown: the relay closed the connection
            // (an open one would answer this ping).
            try
            {
                await c.SendAsync("{\"execute\":\"guest-ping\",\"id\":9}");
            }
            catch (IOException)
            {
            }

            Assert.Null(await c.ReadAsync(TimeSpan.FromSeconds(30)));
        }

        // The guest got a clean end and a resync: every client is answered again.
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm1")))
        using (var ping = await c.RequestAsync("{\"execute\":\"guest-ping\",\"id\":3}", TimeSpan.FromSeconds(60)))
        {
            Assert.Null(ping.ErrorClass());
        }

        var s = await relay.StatsAsync("vm1");
        Assert.Equal(1, s["bulk-rejected"]);
        Assert.Equal(1, s["bulk-frames-to-guest"]);
    }

    [Fact]
    public async Task An_endpoint_that_may_read_files_but_not_write_them_carries_bulk_reads_and_refuses_bulk_writes()
    {
        using var dir = new TempDir();
        using var agent = await TestAgents.StartAsync(AgentKind.Ours, dir, "vm1");
        using var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(
                agent.SocketPath,
                new Dictionary<string, object?> { ["Name"] = "" },
                new Dictionary<string, object?> { ["Name"] = "ro", ["Policy"] = "read-only" },
                new Dictionary<string, object?> { ["Name"] = "files", ["Policy"] = "files-ro" });
            r["Policies"] = new Dictionary<string, object?> { ["files-ro"] = new Dictionary<string, object?> { ["Deny"] = new[] { "@file-write", "@exec" } } };
            RelayProcess.PatientReplies(r);
        });
        await relay.WaitReadyAsync("vm1");
        string path = dir["ro.bin"];
        byte[] data = new byte[300_000];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(path, data);

        long handle;
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm1")))
        using (var open = await c.RequestAsync("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"r+b\"},\"id\":1}"))
        {
            handle = open.Return().GetInt64();
        }

        foreach (string endpoint in new[] { "ro", "files" })
        {
            using var c = await TestClient.ConnectAsync(relay.Socket("vm1", endpoint));
            using var refused = await c.RequestAsync("{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"write\",\"count\":10},\"id\":2}");
            Assert.Equal("CommandNotFound", refused.ErrorClass());
            Assert.Equal("Command __com.qemuguest_guest-file-bulk has been disabled", refused.ErrorDesc());
        }

        // The built-in read-only opens no file handles, so it refuses a bulk read as it refuses guest-file-read.
        using (var c = await TestClient.ConnectAsync(relay.Socket("vm1", "ro")))
        using (var refused = await c.RequestAsync("{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"read\",\"count\":10},\"id\":3}"))
        {
            Assert.Equal("Command __com.qemuguest_guest-file-bulk has been disabled", refused.ErrorDesc());
        }

        await using var client = new GuestAgentClient("unix:" + relay.Socket("vm1", "files"), new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
        using var got = new MemoryStream();
        var result = await client.ReadBulkAsync(handle, data.Length + 1, (b, o, n) => got.Write(b, o, n), TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.Equal(data.Length, result.Count);
        Assert.True(result.Eof);
        Assert.Equal(data, got.ToArray());
        var s = await relay.StatsAsync("vm1");
        Assert.Equal(0, s["bulk-frames-to-guest"]);
        Assert.Equal(1, s["bulk-transfers"]);
        Assert.Equal(data.Length, s["bulk-bytes-from-guest"]);
    }

    private static async Task<RelayProcess> StartRelayAsync(TempDir dir, string agent)
    {
        var relay = await RelayProcess.StartAsync(dir, r =>
        {
            ((Dictionary<string, object?>)r["Vms"]!)["vm1"] = RelayProcess.Vm(agent);
            RelayProcess.PatientReplies(r);
        });
        try
        {
            await relay.WaitReadyAsync("vm1");
            return relay;
        }
        catch
        {
            relay.Dispose();
            throw;
        }
    }

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T t)
            {
                return t;
            }
        }

        return null;
    }

    private static byte[] Frame(byte[] payload, uint sequence)
    {
        byte[] frame = new byte[BulkFrame.HeaderBytes + payload.Length];
        BulkFrame.WriteHeader(frame, payload, sequence);
        payload.CopyTo(frame.AsSpan(BulkFrame.HeaderBytes));
        return frame;
    }

    private static byte[] Corrupt(byte[] frame)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(9), BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(9)) ^ 1);
        return frame;
    }
}
