using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Facade;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// Copies through the transfer engine with the binary bulk mode: our agent offers it and the
/// engine uses it (the trace shows the command; the stock agent's copies never ask), bytes
/// arrive intact both ways and resume-by-position still applies; hostile agents that break
/// frames end the copy with a named error and the next call works.
/// </summary>
public sealed class BulkTransferTests : IClassFixture<RealAgentsFixture>, IDisposable
{
    private readonly RealAgentsFixture _agents;
    private readonly string _local = Path.Combine(Path.GetTempPath(), "qgbulk-" + Guid.NewGuid().ToString("N").Substring(0, 8));

    public BulkTransferTests(RealAgentsFixture agents)
    {
        _agents = agents;
        Directory.CreateDirectory(_local);
    }

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    private static QgaCallOptions Call => new() { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose()
    {
        try
        {
            Directory.Delete(_local, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory]
    [InlineData(AgentKind.Ours, true)]
    [InlineData(AgentKind.Stock, false)]
    public async Task Copies_use_the_bulk_mode_only_with_an_agent_that_offers_it(AgentKind kind, bool bulk)
    {
        await using GuestAgentClient client = _agents.CreateClient(kind);
        var trace = new ConcurrentQueue<string>();
        var channel = new TracingChannel(client, trace.Enqueue, kind.ToString());
        var engine = await GuestTransferEngine.OpenAsync(channel, Call, kind.ToString(), Ct);
        engine.BulkEnabled = true;
        Assert.Equal(bulk, engine.Profile.CanBulk);

        // Into our agent more than 64 MiB (the longest turn); the stock agent (JSON at its pace) gets a small file.
        byte[] data = new byte[bulk ? (64 * 1024 * 1024) + 12345 : 1024 * 1024];
        new Random(70).NextBytes(data);
        string source = Path.Combine(_local, "source.bin");
        File.WriteAllBytes(source, data);
        string guest = Path.Combine(_agents.Directory, kind + "-bulk-" + Guid.NewGuid().ToString("N").Substring(0, 6) + ".bin");

        TransferResult up = await engine.UploadAsync(source, guest, new TransferOptions { Verify = true }, null, Ct);
        Assert.Equal(data.Length, up.Bytes);
        Assert.Equal(data, File.ReadAllBytes(guest));

        string back = Path.Combine(_local, "back.bin");
        TransferResult down = await engine.DownloadAsync(guest, back, data.Length, new TransferOptions { Verify = true }, null, Ct);
        Assert.Equal(data.Length, down.Bytes);
        Assert.Equal(data, File.ReadAllBytes(back));

        // In turns of 1 to 64 MiB each way (docs/copy.md, "Fair turns"; the first is 1 MiB), none with the stock agent.
        int bulkCalls = trace.Count(line => line.Contains(GuestAgentClient.BulkCommand + " answered", StringComparison.Ordinal));
        if (bulk)
        {
            Assert.InRange(bulkCalls, 4, 2 * 66);
        }
        else
        {
            Assert.Equal(0, bulkCalls);
        }

        Assert.DoesNotContain(trace, line => line.Contains(" failed", StringComparison.Ordinal));
        File.Delete(guest);
    }

    [Fact]
    public async Task An_empty_file_and_a_file_that_grew_go_through_the_bulk_mode()
    {
        await using GuestAgentClient client = _agents.CreateClient(AgentKind.Ours);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "ours", Ct);
        engine.BulkEnabled = true;
        string guest = Path.Combine(_agents.Directory, "grew-" + Guid.NewGuid().ToString("N").Substring(0, 6) + ".bin");
        File.WriteAllBytes(guest, Array.Empty<byte>());
        string back = Path.Combine(_local, "empty.bin");
        Assert.Equal(0, (await engine.DownloadAsync(guest, back, 0, new TransferOptions(), null, Ct)).Bytes);
        Assert.Empty(File.ReadAllBytes(back));

        // The guest reported 1000 bytes, the file has 5000 by now: stopped at the limit, nothing kept.
        File.WriteAllBytes(guest, new byte[5000]);
        string grown = Path.Combine(_local, "grown.bin");
        var ex = await Assert.ThrowsAsync<TransferException>(() => engine.DownloadAsync(guest, grown, 1000, new TransferOptions(), null, Ct));
        Assert.Equal(TransferFailureKind.SourceSizeExceeded, ex.Kind);
        Assert.False(File.Exists(grown));
        Assert.Equal(System.Text.Json.JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", Ct)).ValueKind);
        File.Delete(guest);
    }

    /// <summary>
    /// Out of the guest what the client holds for a slow sink is bounded: while the sink is
    /// stuck the client stops reading after a few frames, so the agent (seen through its file
    /// position in /proc) stops sending long before the end of a 64 MiB file; once the sink moves
    /// again every byte arrives in order. (A queue between reader and sink without a bound let
    /// the agent send the whole file: position 67108864, tried in issue 19 stage 6.)
    /// </summary>
    [Fact]
    public async Task A_stuck_sink_holds_a_bulk_read_back_after_a_few_frames()
    {
        await using GuestAgentClient client = _agents.CreateClient(AgentKind.Ours);
        var commands = new QemuGuest.Protocol.Qga.GuestAgentCommands(client);
        byte[] data = new byte[64 * 1024 * 1024];
        new Random(71).NextBytes(data);
        string guest = Path.Combine(_agents.Directory, "stuck-" + Guid.NewGuid().ToString("N").Substring(0, 6) + ".bin");
        File.WriteAllBytes(guest, data);
        long handle = await commands.GuestFileOpenAsync(guest, "rb", Call, Ct);
        using var release = new ManualResetEventSlim();
        var received = new MemoryStream();
        Task<GuestBulkResult> read = client.ReadBulkAsync(handle, data.Length, (b, o, n) =>
        {
            release.Wait(TimeSpan.FromSeconds(60));
            received.Write(b, o, n);
        }, TimeSpan.FromSeconds(60), Ct);

        // The agent's position in the file, once it stopped moving for a second (bounded wait).
        long position = -1;
        for (int i = 0; i < 60; i++)
        {
            await Task.Delay(1000);
            long now = AgentFilePosition(_agents.ProcessId(AgentKind.Ours), guest);
            if (now > 0 && now == position)
            {
                break;
            }

            position = now;
        }

        // A few frames in the client and the agent plus the socket buffers: far below the whole file.
        Assert.InRange(position, 1, 24L * 1024 * 1024);
        release.Set();
        GuestBulkResult result = await read;
        Assert.Equal(data.Length, result.Count);
        Assert.Equal(data, received.ToArray());
        await commands.GuestFileCloseAsync(handle, Call, Ct);
        File.Delete(guest);
    }

    private static long AgentFilePosition(int pid, string path)
    {
        foreach (string fd in Directory.GetFiles("/proc/" + pid + "/fd"))
        {
            FileSystemInfo? target = new FileInfo(fd).ResolveLinkTarget(false);
            if (target?.FullName == path)
            {
                string info = File.ReadAllText("/proc/" + pid + "/fdinfo/" + Path.GetFileName(fd));
                return long.Parse(info.Split('\n')[0].Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    [Theory]
    [InlineData("bulk-bad-crc", "has checksum 0x")]
    [InlineData("bulk-overlong", "where bulk frame 2 or the end frame belongs")]
    [InlineData("bulk-over-bound", "announces 1048577 bytes, over the bound of 1048576")]
    [InlineData("bulk-endless", "where at most 1048576 were asked for")]
    public async Task Broken_frames_end_the_copy_with_a_named_error_and_the_channel_recovers(string mode, string named)
    {
        await using var agent = new FakeAgent();
        HostileModes.Apply(agent, mode);
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(10) });
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "hostile", Ct);
        engine.BulkEnabled = true;
        Assert.True(engine.Profile.CanBulk);
        string local = Path.Combine(_local, mode + ".bin");

        var ex = await Assert.ThrowsAnyAsync<Exception>(() =>
            engine.DownloadAsync("/guest/file", local, 0, new TransferOptions { MaxBytes = 1 << 20 }, null, Ct));
        Assert.True(ex.ToString().Contains(named, StringComparison.Ordinal), ex.ToString());
        Assert.Empty(Directory.GetFileSystemEntries(_local));

        // The link that carried the broken frames is gone; the next call reconnects and syncs.
        Assert.Equal(System.Text.Json.JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", Ct)).ValueKind);
    }
}
