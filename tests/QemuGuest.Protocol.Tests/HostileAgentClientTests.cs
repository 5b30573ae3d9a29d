using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Transfer;
using Xunit.Abstractions;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The protocol client (the one the cmdlets use) against every hostile mode: each call ends in a
/// named QgaException within its bound, allocation stays bounded, and the same client object
/// serves the next request once the agent behaves.
/// </summary>
[Collection(nameof(HostileAgentClientTests))]
public class HostileAgentClientTests
{
    // 10 s, not less: at load 30 skipping the "huge" 1 GiB reply took over 3 s (CI, ci11).
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;

    public HostileAgentClientTests(ITestOutputHelper output) => _output = output;

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Theory]
    [InlineData("garbage", typeof(QgaException))] // random bytes: malformed, or a timeout if they happen to open a message
    [InlineData("truncated", typeof(QgaDisconnectedException))]
    [InlineData("huge", typeof(QgaProtocolException))]
    [InlineData("deep", typeof(QgaProtocolException))]
    [InlineData("invalid-utf8", typeof(QgaProtocolException))]
    [InlineData("other-id", typeof(QgaTimeoutException))]
    [InlineData("wrong-type", typeof(QgaProtocolException))]
    [InlineData("stall", typeof(QgaTimeoutException))]
    public async Task Each_hostile_reply_is_a_named_error_and_the_client_recovers(string mode, Type expected)
    {
        using var agent = new FakeAgent();
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = CallTimeout, SyncTimeout = TimeSpan.FromSeconds(0.5) });
        await client.ConnectAsync(Ct);
        var commands = new GuestAgentCommands(client);
        HostileModes.Apply(agent, mode);

        using var heap = new HeapSampler();
        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<QgaException>(() => commands.GuestGetHostNameAsync(null, Ct));
        clock.Stop();
        var (peak, retained) = heap.Stop();
        _output.WriteLine($"{mode}: {ex.GetType().Name}: {ex.Message} ({clock.Elapsed.TotalSeconds:0.0} s, managed heap peak +{peak / 1048576.0:0.0} MiB, retained +{retained / 1048576.0:0.0} MiB)");

        Assert.IsAssignableFrom(expected, ex);
        // Named: the command when the failure belongs to it, the agent's endpoint when the
        // stream itself broke (framing errors are found before any reply is matched).
        Assert.True(ex.Message.Contains("guest-get-host-name", StringComparison.Ordinal) || ex.Message.Contains(agent.SocketPath, StringComparison.Ordinal), ex.Message);
        // Bounded in time: the call's timeout plus slack for a loaded machine...
        Assert.True(clock.Elapsed < CallTimeout + TimeSpan.FromSeconds(15), clock.Elapsed.ToString());
        // ...and in memory: one message of at most MaxMessageBytes (65 MiB) is buffered; growing
        // to it by doubling leaves at worst 4 KiB + ... + 64 MiB (128 MiB) uncollected beside
        // the final 65 MiB buffer: 193 MiB. A 1 GiB reply is skipped past that, never stored, and
        // nothing of it is kept afterwards.
        Assert.True(peak < 224L * 1024 * 1024, $"managed heap grew by {peak} bytes");
        Assert.True(retained < 16L * 1024 * 1024, $"{retained} bytes retained after the call");

        HostileModes.Apply(agent, "normal");
        await AssertRecoversAsync(commands, _output);
    }

    /// <summary>
    /// The next request succeeds; after a stall the agent may still be stuck on the old
    /// connection, so one more request may first fail its sync (and drop that connection).
    /// </summary>
    internal static async Task AssertRecoversAsync(GuestAgentCommands commands, ITestOutputHelper output)
    {
        try
        {
            Assert.Equal(1234567890, await commands.GuestGetTimeAsync(null, Ct));
            return;
        }
        catch (QgaTimeoutException ex) when (ex.Command == "guest-sync-delimited")
        {
            output.WriteLine("first request after: " + ex.Message);
        }

        Assert.Equal(1234567890, await commands.GuestGetTimeAsync(null, Ct));
    }

    [Fact]
    public async Task Unsolicited_replies_never_reach_a_caller()
    {
        using var agent = new FakeAgent();
        HostileModes.Apply(agent, "unsolicited");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = CallTimeout, SyncTimeout = TimeSpan.FromSeconds(0.5) });
        var commands = new GuestAgentCommands(client);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal("fake", (await commands.GuestGetHostNameAsync(null, Ct)).HostName);
            Assert.Equal(1234567890, await commands.GuestGetTimeAsync(null, Ct));
        }
    }

    [Theory]
    // Each put its bytes into System.Text.Json's message ("'Q' is an invalid start of a
    // value", "'\"' is invalid after a value"): the guest must not choose the text.
    [InlineData("{\"return\": QEMUISBROKEN}")]
    [InlineData("{\"return\": {\"host-name\": \"a\"} \"FAKE\"}")]
    [InlineData("{\"return\": [1 2]}")]
    public async Task Malformed_json_is_described_in_qemu_words_not_the_guests(string reply)
    {
        using var agent = new FakeAgent(r => r.Command == "guest-get-host-name" ? r.ReplyAsync(reply) : FakeAgent.Normal(r));
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = CallTimeout, SyncTimeout = TimeSpan.FromSeconds(0.5) });
        var commands = new GuestAgentCommands(client);
        var ex = await Assert.ThrowsAsync<QgaProtocolException>(() => commands.GuestGetHostNameAsync(null, Ct));
        Assert.Matches(@"sent malformed JSON \((invalid JSON|expected separator in dict|expected separator in list) at byte \d+\)\.$", ex.Message);
        Assert.DoesNotContain("QEMU", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Base64_that_is_not_base64_is_a_protocol_error()
    {
        using var agent = new FakeAgent();
        HostileModes.Apply(agent, "bad-base64");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = CallTimeout });
        var buffer = new byte[4096];
        var ex = await Assert.ThrowsAsync<QgaProtocolException>(() => GuestFileIO.ReadAsync(client, 1000, buffer, null, Ct));
        Assert.Contains("invalid base64", ex.Message);
        HostileModes.Apply(agent, "normal");
        Assert.True((await GuestFileIO.ReadAsync(client, 1000, buffer, null, Ct)).Eof);
    }

    [Fact]
    public async Task A_read_that_never_reaches_eof_streams_in_constant_memory_until_cancelled()
    {
        using var agent = new FakeAgent();
        HostileModes.Apply(agent, "endless-read");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = CallTimeout });
        var buffer = new byte[60 * 1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        long total = 0;
        GC.Collect();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            while (true)
            {
                var r = await GuestFileIO.ReadAsync(client, 1000, buffer, null, cts.Token);
                Assert.False(r.Eof);
                total += r.Count;
            }
        });
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        _output.WriteLine($"read {total / 1048576.0:0.0} MiB from an endless file, allocated {(GC.GetTotalAllocatedBytes(true) - allocatedBefore) / 1048576.0:0.0} MiB, live heap {heapBefore / 1048576.0:0.0} -> {heapAfter / 1048576.0:0.0} MiB");
        Assert.True(total > 4 * buffer.Length, "read " + total);
        Assert.True(heapAfter < heapBefore + 16L * 1024 * 1024, $"live heap grew from {heapBefore} to {heapAfter}");

        // Cancelled mid-call: the client resyncs and serves the next request.
        HostileModes.Apply(agent, "normal");
        await AssertRecoversAsync(new GuestAgentCommands(client), _output);
    }

    [Fact]
    public async Task Large_reads_are_decoded_in_place_without_per_reply_buffers()
    {
        // Issue 19: each large guest-file-read reply used to cost a framing buffer grown again
        // by doubling (~2x the reply) and a clone of the return value (1x) before its base64 was
        // decoded. Now the framing buffer is kept while large replies keep coming and the text
        // is decoded from it straight into the destination. What is left per reply is
        // JsonDocument's row table, which it rents from the shared pool (1 MiB for a reply of
        // 1 to 4 MiB; a miss when the receive loop resumes on another thread): at most 1 MiB per
        // read. The agent side sends prebuilt bytes, so what is counted is the client's.
        const int count = 2 << 20;
        byte[] payload = new byte[count];
        new Random(19).NextBytes(payload);
        byte[] text = System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(payload));
        using var agent = new FakeAgent(async r =>
        {
            if (r.Command != "guest-file-read")
            {
                await FakeAgent.Normal(r);
                return;
            }

            await r.SendAsync("{\"return\": {\"count\": " + count + ", \"buf-b64\": \"");
            await r.SendAsync(text);
            await r.SendAsync("\", \"eof\": false}" + r.IdMember + "}\n");
        });
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(60) });
        var destination = new byte[count];
        Assert.Equal(count, (await GuestFileIO.ReadAsync(client, 1000, destination, null, Ct)).Count);
        Assert.Equal(payload, destination);

        const int reads = 4;
        GC.Collect();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < reads; i++)
        {
            Array.Clear(destination);
            Assert.Equal(count, (await GuestFileIO.ReadAsync(client, 1000, destination, null, Ct)).Count);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(payload, destination);
        _output.WriteLine($"{reads} reads of {count >> 20} MiB after the first: {allocated / 1048576.0:0.00} MiB allocated");
        Assert.True(allocated < 2L * text.Length, $"{reads} reads of {count} bytes allocated {allocated} bytes");
    }
}
