using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The binary bulk mode (__com.qemuguest_guest-file-bulk) against our agent as a real process
/// over its socket: bytes both ways, and every way a client can break a transfer (bad
/// checksum, a frame over the bound, garbage, a cut frame, more or fewer bytes than announced).
/// After each the agent answers with an error naming what was wrong and 0xFF +
/// guest-sync-delimited brings the channel back.
/// </summary>
public sealed class BulkModeTests : IDisposable
{
    private readonly AgentProcess _agent = new(AgentKind.Ours);
    private long _syncId = 7000;

    public void Dispose() => _agent.Dispose();

    [Fact]
    public void Capabilities_advertise_the_bulk_mode()
    {
        _agent.Connect();
        JsonElement caps = _agent.Execute("{\"execute\":\"__com.qemuguest_guest-agent-capabilities\"}").GetProperty("return");
        Assert.Equal(BulkFrame.MaxPayloadBytes, caps.GetProperty("max-bulk-frame-bytes").GetInt32());
        Assert.Contains("__com.qemuguest_guest-file-bulk", caps.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Bytes_go_in_and_come_back_out_in_frames()
    {
        _agent.Connect();
        byte[] data = new byte[(3 * BulkFrame.MaxPayloadBytes) + 17];
        new Random(19).NextBytes(data);
        string path = Path.Combine(_agent.StateDir, "bulk.bin");

        long handle = Open(path, "w");
        JsonElement accept = Bulk(handle, "write", data.Length, id: 41);
        Assert.Equal(41, accept.GetProperty("id").GetInt64());
        int max = accept.GetProperty("return").GetProperty("max-frame-bytes").GetInt32();
        Assert.Equal(BulkFrame.MaxPayloadBytes, max);
        uint seq = 0;
        for (int at = 0; at < data.Length; at += max)
        {
            _agent.SendRaw(Frame(data.AsSpan(at, Math.Min(max, data.Length - at)), seq++));
        }

        _agent.SendRaw(Frame(ReadOnlySpan<byte>.Empty, seq));
        JsonElement done = _agent.ReadReply();
        Assert.Equal(41, done.GetProperty("id").GetInt64());
        Assert.Equal(data.Length, done.GetProperty("return").GetProperty("count").GetInt64());
        Close(handle);
        Assert.Equal(data, File.ReadAllBytes(path));

        // Out again, asking for more than there is: frames up to the end of the file, then eof.
        handle = Open(path, "r");
        Assert.Equal(42, Bulk(handle, "read", data.Length + 100, id: 42).GetProperty("id").GetInt64());
        var received = new MemoryStream();
        using var reader = new BulkFrameReader(BulkFrame.MaxPayloadBytes);
        while (true)
        {
            byte[] header = _agent.ReadExactly(BulkFrame.HeaderBytes);
            int length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(1));
            byte[] whole = header.Concat(_agent.ReadExactly(length)).ToArray();
            BulkFrameKind kind = reader.Read(whole, out int used);
            Assert.Equal(whole.Length, used);
            if (kind == BulkFrameKind.End)
            {
                break;
            }

            Assert.Equal(BulkFrameKind.Data, kind);
            received.Write(reader.Payload.Span);
        }

        JsonElement readDone = _agent.ReadReply();
        Assert.Equal(42, readDone.GetProperty("id").GetInt64());
        Assert.Equal(data.Length, readDone.GetProperty("return").GetProperty("count").GetInt64());
        Assert.True(readDone.GetProperty("return").GetProperty("eof").GetBoolean());
        Assert.Equal(data, received.ToArray());
        Close(handle);
    }

    [Fact]
    public void A_wrong_checksum_fails_the_transfer_and_a_sync_brings_the_channel_back()
    {
        StartWrite("crc.bin", 2000, id: 5);
        _agent.SendRaw(Frame(new byte[1000], 0));
        byte[] bad = Frame(Enumerable.Repeat((byte)7, 1000).ToArray(), 1);
        bad[BulkFrame.HeaderBytes + 500] ^= 1;
        _agent.SendRaw(bad);
        string error = ErrorOf(_agent.ReadReply(), 5);
        Assert.Contains("checksum", error);
        Assert.Contains("frame 1 ", error);
        AssertSyncs();
    }

    [Fact]
    public void A_frame_over_the_bound_fails_the_transfer_and_a_sync_brings_the_channel_back()
    {
        StartWrite("big.bin", 10L * BulkFrame.MaxPayloadBytes, id: 6);
        byte[] header = new byte[BulkFrame.HeaderBytes];
        header[0] = BulkFrame.Magic;
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(1), (uint)BulkFrame.MaxPayloadBytes + 1);
        _agent.SendRaw(header);

        // What follows the lying header (its "payload") is discarded up to the sync's 0xFF.
        _agent.SendRaw(new byte[300_000]);
        string error = ErrorOf(_agent.ReadReply(), 6);
        Assert.Contains((BulkFrame.MaxPayloadBytes + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), error);
        Assert.Contains("over the bound", error);
        AssertSyncs();
    }

    [Fact]
    public void Garbage_where_a_frame_belongs_fails_the_transfer_and_a_sync_brings_the_channel_back()
    {
        StartWrite("garbage.bin", 5000, id: 8);
        _agent.SendRaw(Frame(new byte[100], 0));
        _agent.SendRaw(Encoding.ASCII.GetBytes("GARBAGE"));
        string error = ErrorOf(_agent.ReadReply(), 8);
        Assert.Contains("byte 0x47 where frame 1 belongs", error);

        // The garbage itself is JSON input again: it earns the stock parse errors, then the sync works.
        AssertSyncs();
    }

    [Fact]
    public void A_cut_frame_times_out_and_a_sync_brings_the_channel_back()
    {
        long handle = StartWrite("cut.bin", 100_000, id: 9);
        byte[] frame = Frame(new byte[65536], 0);
        _agent.SendRaw(frame.AsSpan(0, 1000).ToArray());

        // The 0xFF and the sync request land inside the cut frame's payload; the agent gives up
        // on the silent transfer and a repeated sync (as every client retries) gets through.
        string error = ErrorOf(SendSyncExpectingFirst(), 9);
        Assert.Contains("no frame for 2 s", error);
        AssertSyncs();
        Close(handle);
    }

    [Fact]
    public void Fewer_or_more_bytes_than_announced_are_errors()
    {
        long handle = StartWrite("count.bin", 3000, id: 10);
        _agent.SendRaw(Frame(new byte[1000], 0));
        _agent.SendRaw(Frame(ReadOnlySpan<byte>.Empty, 1));
        Assert.Contains("after 1000 of the 3000 bytes", ErrorOf(_agent.ReadReply(), 10));

        Bulk(handle, "write", 500, id: 11);
        _agent.SendRaw(Frame(new byte[1000], 0));
        _agent.SendRaw(Frame(ReadOnlySpan<byte>.Empty, 1));
        Assert.Contains("more than the 500 bytes", ErrorOf(_agent.ReadReply(), 11));
        Assert.Equal(JsonValueKind.Object, _agent.Execute("{\"execute\":\"guest-ping\"}").GetProperty("return").ValueKind);
        Close(handle);
    }

    [Fact]
    public void A_refused_transfer_stays_in_json()
    {
        _agent.Connect();
        Assert.Contains("has not been found", ErrorOf(Bulk(123456, "read", 10, id: 12), 12));
        Assert.Contains("invalid for argument count", ErrorOf(Bulk(Open(Path.Combine(_agent.StateDir, "x"), "w"), "write", -1, id: 13), 13));
        Assert.Equal(JsonValueKind.Object, _agent.Execute("{\"execute\":\"guest-ping\"}").GetProperty("return").ValueKind);
    }

    /// <summary>Connects, opens a new file in the agent's state folder and starts a bulk write of <paramref name="count"/> bytes to it; returns the handle.</summary>
    private long StartWrite(string name, long count, long id)
    {
        _agent.Connect();
        long handle = Open(Path.Combine(_agent.StateDir, name), "w");
        JsonElement accept = Bulk(handle, "write", count, id);
        Assert.True(accept.TryGetProperty("return", out _), accept.GetRawText());
        return handle;
    }

    private static byte[] Frame(ReadOnlySpan<byte> payload, uint sequence)
    {
        byte[] frame = new byte[BulkFrame.HeaderBytes + payload.Length];
        BulkFrame.WriteHeader(frame, payload, sequence);
        payload.CopyTo(frame.AsSpan(BulkFrame.HeaderBytes));
        return frame;
    }

    private long Open(string path, string mode) =>
        _agent.Execute("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":" + JsonSerializer.Serialize(path) + ",\"mode\":\"" + mode + "\"}}").GetProperty("return").GetInt64();

    private void Close(long handle) =>
        Assert.Equal(JsonValueKind.Object, _agent.Execute("{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}").GetProperty("return").ValueKind);

    private JsonElement Bulk(long handle, string direction, long count, long id) =>
        _agent.Execute("{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"" + direction + "\",\"count\":" + count + "},\"id\":" + id + "}");

    private static string ErrorOf(JsonElement reply, long id)
    {
        Assert.True(reply.TryGetProperty("error", out JsonElement error), reply.GetRawText());
        Assert.Equal(id, reply.GetProperty("id").GetInt64());
        return error.GetProperty("desc").GetString()!;
    }

    private byte[] SyncRequest(long id) =>
        new byte[] { 0xFF }.Concat(Encoding.ASCII.GetBytes("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":" + id + "}}")).ToArray();

    /// <summary>Sends a sync and returns the first reply, whatever it is.</summary>
    private JsonElement SendSyncExpectingFirst()
    {
        _agent.SendRaw(SyncRequest(++_syncId));
        return _agent.ReadReply();
    }

    /// <summary>0xFF + guest-sync-delimited, repeated as a client's sync rounds are, until its echo comes: within 3 rounds.</summary>
    private void AssertSyncs()
    {
        var seen = new List<string>();
        for (int round = 0; round < 3; round++)
        {
            long id = ++_syncId;
            _agent.SendRaw(SyncRequest(id));
            try
            {
                while (true)
                {
                    JsonElement reply = _agent.ReadReply();
                    if (reply.TryGetProperty("return", out JsonElement r) && r.ValueKind == JsonValueKind.Number && r.GetInt64() == id)
                    {
                        Assert.Equal(JsonValueKind.Object, _agent.Execute("{\"execute\":\"guest-ping\"}").GetProperty("return").ValueKind);
                        return;
                    }

                    seen.Add(reply.GetRawText());
                }
            }
            catch (Exception ex) when (ex is TimeoutException or System.Net.Sockets.SocketException)
            {
                seen.Add("(round " + round + " timed out)");
            }
        }

        Assert.Fail("no sync echo in 3 rounds; saw: " + string.Join(" | ", seen.Take(10)));
    }
}
