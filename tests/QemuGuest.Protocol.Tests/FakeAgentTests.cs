using System;
using System.Diagnostics;
using System.IO.Pipes;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Tests;

/// <summary>Client behaviours that need a peer misbehaving on purpose.</summary>
public class FakeAgentTests
{
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static GuestAgentClient Client(FakeAgent agent, Action<GuestAgentClientOptions>? configure = null)
    {
        var options = new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20), SyncTimeout = TimeSpan.FromSeconds(2) };
        configure?.Invoke(options);
        return new GuestAgentClient(agent.ConnectionString, options);
    }

    [Fact]
    public async Task Timeout_then_resync_swallows_the_late_reply()
    {
        using var agent = new FakeAgent(async r =>
        {
            if (r.Command == "slow")
            {
                await Task.Delay(1500);
                await r.ReplyAsync("{\"return\": \"late\"}");
            }
            else
            {
                await r.ReplyAsync("{\"return\": \"" + r.Command + "\"}");
            }
        });
        await using GuestAgentClient client = Client(agent);
        Assert.Equal("first", (await client.ExecuteAsync("first", Ct)).GetString());

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<QgaTimeoutException>(() => client.ExecuteAsync("slow", null, new QgaCallOptions { Timeout = TimeSpan.FromMilliseconds(300) }, Ct));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.4), clock.Elapsed.ToString());
        Assert.Equal("slow", ex.Command);
        Assert.Equal(GuestAgentClientState.OutOfStep, client.State);

        // The next call re-syncs first; the late "late" reply is discarded.
        Assert.Equal("second", (await client.ExecuteAsync("second", Ct)).GetString());
        Assert.Equal(2, agent.Count("guest-sync-delimited"));
        Assert.Equal(2, agent.Count("0xFF"));
        Assert.Equal(1, agent.Connections);
        Assert.Equal(GuestAgentClientState.Ready, client.State);
    }

    [Fact]
    public async Task Sync_that_never_answers_fails_with_a_clear_timeout()
    {
        using var agent = new FakeAgent { AnswersSync = false };
        await using GuestAgentClient client = Client(agent, o => { o.SyncTimeout = TimeSpan.FromMilliseconds(200); o.SyncAttempts = 3; });
        var ex = await Assert.ThrowsAsync<QgaTimeoutException>(() => client.ExecuteAsync("guest-ping", Ct));
        Assert.Equal("guest-sync-delimited", ex.Command);
        Assert.Contains("did not answer guest-sync-delimited (3 round(s) of 0.2 s)", ex.Message);
        Assert.Equal(3, agent.Count("guest-sync-delimited"));

        agent.AnswersSync = true;
        await client.ExecuteAsync("guest-ping", Ct);
    }

    [Fact]
    public async Task Falls_back_to_plain_guest_sync()
    {
        using var agent = new FakeAgent { SupportsSyncDelimited = false };
        await using GuestAgentClient client = Client(agent);
        await client.ExecuteAsync("guest-ping", Ct);
        Assert.False(client.SupportsSyncDelimited);
        Assert.Equal(new[] { "0xFF", "guest-sync-delimited", "0xFF", "guest-sync", "guest-ping" }, agent.Log.ToArray());
    }

    [Fact]
    public async Task Without_response_channel_close_is_success()
    {
        using var agent = new FakeAgent(r =>
        {
            r.Connection.Close();
            return Task.CompletedTask;
        });
        await using GuestAgentClient client = Client(agent, o => o.NoResponseTimeout = TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        await client.ExecuteWithoutResponseAsync("guest-shutdown", new JsonArgs("{\"mode\":\"powerdown\"}"), null, Ct);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Contains("guest-shutdown", agent.Log);
    }

    [Fact]
    public async Task Without_response_quiet_timeout_is_success_then_resync()
    {
        using var agent = new FakeAgent(r => r.Command == "guest-ping" ? FakeAgent.Normal(r) : Task.CompletedTask);
        await using GuestAgentClient client = Client(agent);
        // Connected and synchronised first: the call's timeout is then the quiet wait alone
        // (with the connect inside 300 ms, a loaded machine timed the call out before it was sent).
        await client.ExecuteAsync("guest-ping", Ct);
        await client.ExecuteWithoutResponseAsync("guest-suspend-ram", null, new QgaCallOptions { Timeout = TimeSpan.FromMilliseconds(300) }, Ct);
        Assert.Equal(GuestAgentClientState.OutOfStep, client.State);
        await client.ExecuteAsync("guest-ping", Ct);
        Assert.Equal(2, agent.Count("guest-sync-delimited"));
    }

    [Fact]
    public async Task Without_response_error_reply_still_throws()
    {
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"suspend not supported\"}}"));
        await using GuestAgentClient client = Client(agent);
        var ex = await Assert.ThrowsAsync<QgaGenericErrorException>(() => client.ExecuteWithoutResponseAsync("guest-suspend-disk", null, null, Ct));
        Assert.Equal("suspend not supported", ex.Description);
        Assert.Equal("guest-suspend-disk", ex.Command);
    }

    [Fact]
    public async Task Unknown_error_class_is_still_a_command_exception()
    {
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"no such thing\"}}"));
        await using GuestAgentClient client = Client(agent);
        var ex = await Assert.ThrowsAsync<QgaCommandException>(() => client.ExecuteAsync("x", Ct));
        Assert.Equal("DeviceNotFound", ex.ErrorClass);
        Assert.Equal("x: no such thing", ex.Message);
    }

    [Fact]
    public async Task Oversize_reply_fails_that_call_only()
    {
        using var agent = new FakeAgent(r => r.Command == "big"
            ? r.ReplyAsync("{\"return\": \"" + new string('x', 5000) + "\"}")
            : r.ReplyAsync("{\"return\": 1}"));
        await using GuestAgentClient client = Client(agent, o => o.MaxMessageBytes = 1024);
        var ex = await Assert.ThrowsAsync<QgaProtocolException>(() => client.ExecuteAsync("big", Ct));
        Assert.Contains("exceeds 1024 bytes", ex.Message);
        Assert.Equal("big", ex.Command);
        Assert.Equal(1, (await client.ExecuteAsync("small", Ct)).GetInt32());
        Assert.Equal(1, agent.Count("guest-sync-delimited")); // the reader skipped it: still in step
    }

    [Fact]
    public async Task Malformed_reply_is_a_protocol_error_then_resync()
    {
        using var agent = new FakeAgent(r => r.Command == "bad"
            ? r.Connection.SendAsync("{\"return\": }\n")
            : r.ReplyAsync("{\"return\": 2}"));
        await using GuestAgentClient client = Client(agent);
        await Assert.ThrowsAsync<QgaProtocolException>(() => client.ExecuteAsync("bad", Ct));
        Assert.Equal(2, (await client.ExecuteAsync("good", Ct)).GetInt32());
        Assert.Equal(2, agent.Count("guest-sync-delimited"));
    }

    [Fact]
    public async Task Reply_without_return_or_error_is_a_protocol_error()
    {
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"huh\": 1}"));
        await using GuestAgentClient client = Client(agent);
        var ex = await Assert.ThrowsAsync<QgaProtocolException>(() => client.ExecuteAsync("odd", Ct));
        Assert.Contains("neither \"return\" nor", ex.Message);
    }

    [Fact]
    public async Task Stale_reply_with_a_foreign_id_is_dropped()
    {
        using var agent = new FakeAgent(async r =>
        {
            await r.ReplyAsync("{\"return\": \"stale\"}", id: "999999");
            await r.ReplyAsync("{\"return\": \"mine\"}");
        });
        await using GuestAgentClient client = Client(agent);
        Assert.Equal("mine", (await client.ExecuteAsync("x", Ct)).GetString());
    }

    [Fact]
    public async Task Disconnect_while_waiting_fails_the_call_and_the_next_one_reconnects()
    {
        using var agent = new FakeAgent(r =>
        {
            if (r.Command == "die")
            {
                r.Connection.Close();
                return Task.CompletedTask;
            }

            return r.ReplyAsync("{\"return\": 3}");
        });
        await using GuestAgentClient client = Client(agent);
        var ex = await Assert.ThrowsAsync<QgaDisconnectedException>(() => client.ExecuteAsync("die", Ct));
        Assert.Equal("die", ex.Command);
        Assert.Equal(3, (await client.ExecuteAsync("alive", Ct)).GetInt32());
        Assert.Equal(2, agent.Connections);
    }

    [Fact]
    public async Task Pipelining_puts_several_requests_on_the_wire()
    {
        // The fake answers strictly in order, like qemu-ga; replies must land on the right callers.
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"return\": " + r.Arguments.GetProperty("n").GetInt32() + "}"));
        await using GuestAgentClient client = Client(agent, o => o.MaxPipelineDepth = 4);
        var tasks = Enumerable.Range(0, 40).Select(i => client.ExecuteAsync("echo", new JsonArgs($"{{\"n\":{i}}}"), null, Ct)).ToArray();
        for (int i = 0; i < tasks.Length; i++)
        {
            Assert.Equal(i, (await tasks[i]).GetInt32());
        }
    }

    [Fact]
    public async Task Named_pipe_transport()
    {
        string name = "qgtest-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"return\": \"via pipe\"}"));
        var server = new NamedPipeServerStream(name, PipeDirection.InOut, 1, PipeTransmissionMode.Byte, PipeOptions.Asynchronous);
        Task serving = Task.Run(async () =>
        {
            await server.WaitForConnectionAsync();
            await agent.ServeAsync(server);
        });
        await using var client = new GuestAgentClient("pipe:" + name);
        Assert.Equal("pipe:" + name, client.Endpoint);
        Assert.Equal("via pipe", (await client.ExecuteAsync("x", Ct)).GetString());
    }

    [Fact]
    public async Task Connect_failure_exhausts_the_policy_with_a_clear_error()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "qg-nothing-" + Guid.NewGuid().ToString("N") + ".sock");
        await using var client = new GuestAgentClient("unix:" + path, new GuestAgentClientOptions
        {
            Reconnect = new ReconnectPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(20), BackoffFactor = 2 },
        });
        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<QgaDisconnectedException>(() => client.ExecuteAsync("guest-ping", Ct));
        Assert.Contains($"Cannot connect to the guest agent at unix:{path}: 3 attempt(s)", ex.Message);
        Assert.Equal("guest-ping", ex.Command);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(55), clock.Elapsed.ToString());
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public async Task Dispose_fails_waiting_calls()
    {
        using var agent = new FakeAgent(_ => Task.CompletedTask);
        var client = Client(agent);
        Task<JsonElement> pending = client.ExecuteAsync("never", Ct);
        await Task.Delay(200);
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ExecuteAsync("guest-ping", Ct));
    }

    [Fact]
    public void Vsock_connect_failure_is_an_exception_not_a_hang()
    {
        var transport = new VsockTransport(1, 1);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var ex = Record.Exception(() => transport.ConnectAsync(cts.Token).GetAwaiter().GetResult().Dispose());
        Assert.NotNull(ex); // no vsock peer here: refused, unsupported, or cancelled after 2 s
    }

    [Fact]
    public async Task A_pipelined_call_that_times_out_leaves_a_placeholder_and_the_others_match_by_id()
    {
        using var agent = new FakeAgent(async r =>
        {
            if (r.Command == "slow")
            {
                await Task.Delay(800);
            }

            await r.ReplyAsync("{\"return\": \"" + r.Command + "\"}");
        });
        await using GuestAgentClient client = Client(agent, o => o.MaxPipelineDepth = 4);
        await client.ConnectAsync(Ct);
        Assert.Equal(GuestAgentClientState.Ready, client.State);

        Task<JsonElement> a = client.ExecuteAsync("a", Ct);
        Task<JsonElement> b = client.ExecuteAsync("slow", null, new QgaCallOptions { Timeout = TimeSpan.FromMilliseconds(200) }, Ct);
        Task<JsonElement> c = client.ExecuteAsync("c", Ct);
        Task<JsonElement> d = client.ExecuteAsync("d", Ct);
        Assert.Equal("a", (await a).GetString());
        await Assert.ThrowsAsync<QgaTimeoutException>(() => b);
        Assert.Equal("c", (await c).GetString());
        Assert.Equal("d", (await d).GetString());
        Assert.Equal("e", (await client.ExecuteAsync("e", Ct)).GetString());
        Assert.Equal(2, agent.Count("guest-sync-delimited"));
    }

    [Fact]
    public async Task Raw_request_without_response_returns_null_on_silence()
    {
        using var agent = new FakeAgent(_ => Task.CompletedTask);
        await using GuestAgentClient client = Client(agent);
        JsonDocument? reply = await client.ExecuteRawAsync("{\"execute\":\"guest-shutdown\"}"u8.ToArray(), expectResponse: false, new QgaCallOptions { Timeout = TimeSpan.FromMilliseconds(300) }, Ct);
        Assert.Null(reply);
        await Assert.ThrowsAsync<ArgumentException>(() => client.ExecuteRawAsync("[1]"u8.ToArray(), cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => client.ExecuteRawAsync("{"u8.ToArray(), cancellationToken: Ct));
    }

    [Fact]
    public async Task Queue_is_bounded()
    {
        using var agent = new FakeAgent(_ => Task.CompletedTask);
        await using GuestAgentClient client = Client(agent, o => o.MaxQueuedCalls = 2);
        Task<JsonElement> first = client.ExecuteAsync("hang", Ct);
        var clock = Stopwatch.StartNew();
        while (!agent.Log.Contains("hang"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
            await Task.Delay(10);
        }

        Task<JsonElement> second = client.ExecuteAsync("q1", Ct);
        Task<JsonElement> third = client.ExecuteAsync("q2", Ct);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.ExecuteAsync("q3", Ct));
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => first);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => third);
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestAgentClient("unix:/x", new GuestAgentClientOptions { MaxPipelineDepth = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestAgentClient("unix:/x", new GuestAgentClientOptions { SyncTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestAgentClient("unix:/x", new GuestAgentClientOptions { Reconnect = new ReconnectPolicy { MaxAttempts = 0 } }));
        Assert.Throws<FormatException>(() => new GuestAgentClient("nonsense"));
        Assert.Equal(TimeSpan.FromMilliseconds(800), new ReconnectPolicy().GetDelay(3));
        Assert.Equal(TimeSpan.FromSeconds(5), new ReconnectPolicy().GetDelay(30));
    }

    [Fact]
    public async Task Tcp_transport()
    {
        using var agent = new FakeAgent(r => r.ReplyAsync("{\"return\": \"via tcp\"}"));
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        Task serving = Task.Run(async () =>
        {
            var tcp = await listener.AcceptTcpClientAsync();
            await agent.ServeAsync(tcp.GetStream());
        });
        try
        {
            await using var client = new GuestAgentClient($"127.0.0.1:{port}");
            Assert.Equal($"tcp:127.0.0.1:{port}", client.Endpoint);
            Assert.Equal("via tcp", (await client.ExecuteAsync("x", Ct)).GetString());
        }
        finally
        {
            listener.Stop();
        }
    }
}
