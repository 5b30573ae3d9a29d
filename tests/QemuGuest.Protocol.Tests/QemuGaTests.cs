using System;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Tests;

/// <summary>Against the real Debian qemu-ga, one agent process for the class.</summary>
public class QemuGaTests : IClassFixture<QemuGaFixture>
{
    private readonly QemuGaFixture _agent;

    public QemuGaTests(QemuGaFixture agent) => _agent = agent;

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static string Raw(JsonDocument? document) => document is null ? "(none)" : JsonSerializer.Serialize(document.RootElement);

    private async Task<string> RawCall(GuestAgentClient client, string json)
    {
        using JsonDocument? reply = await client.ExecuteRawAsync(Encoding.UTF8.GetBytes(json), cancellationToken: Ct);
        return Raw(reply);
    }

    private static byte[] RawExchange(string socketPath, byte[] send, TimeSpan wait)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        socket.Send(send);
        var received = new MemoryStream();
        var buffer = new byte[65536];
        socket.ReceiveTimeout = (int)wait.TotalMilliseconds;
        try
        {
            while (true)
            {
                int n = socket.Receive(buffer);
                if (n == 0)
                {
                    break;
                }

                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
        }

        return received.ToArray();
    }

    [Fact]
    public async Task Ping_and_ids_echoed_on_success_and_dispatch_errors()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        Assert.Equal(JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", Ct)).ValueKind);
        Assert.Equal("{\"return\":{},\"id\":\"abc\"}", await RawCall(client, "{\"execute\":\"guest-ping\",\"id\":\"abc\"}"));
        Assert.Equal("{\"return\":{},\"id\":{\"a\":[1,2]}}", await RawCall(client, "{\"execute\":\"guest-ping\",\"id\":{\"a\":[1,2]}}"));
        Assert.Equal("{\"id\":5,\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command guest-nope has not been found\"}}", await RawCall(client, "{\"execute\":\"guest-nope\",\"id\":5}"));
        Assert.Equal("{\"id\":3,\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input member \\u0027foo\\u0027 is unexpected\"}}", await RawCall(client, "{\"execute\":\"guest-ping\",\"foo\":1,\"id\":3}"));
        Assert.Equal(GuestAgentClientState.Ready, client.State);
        Assert.True(client.SupportsSyncDelimited);
    }

    [Theory]
    [InlineData("guest-nope", null, "CommandNotFound", "The command guest-nope has not been found")]
    [InlineData("guest-get-load", null, "CommandNotFound", "The command guest-get-load has not been found")]
    [InlineData("guest-file-open", "{}", "GenericError", "Parameter 'path' is missing")]
    [InlineData("guest-file-open", "{\"path\":1}", "GenericError", "Invalid parameter type for 'path', expected: string")]
    [InlineData("guest-ping", "{\"x\":1}", "GenericError", "Parameter 'x' is unexpected")]
    [InlineData("guest-file-read", "{\"handle\":99}", "GenericError", "handle '99' has not been found")]
    [InlineData("guest-file-open", "{\"path\":\"/nonexistent/x\"}", "GenericError", "failed to open file '/nonexistent/x' (mode: 'r'): No such file or directory")]
    [InlineData("guest-file-open", "{\"path\":\"/tmp/x\",\"mode\":\"zz\"}", "GenericError", "invalid file open mode 'zz'")]
    [InlineData("guest-file-seek", "{\"handle\":1,\"offset\":0,\"whence\":\"bogus\"}", "GenericError", "Parameter 'whence' does not accept value 'bogus'")]
    [InlineData("guest-exec-status", "{\"pid\":1}", "GenericError", "Invalid parameter 'pid'")]
    [InlineData("guest-sync", "{}", "GenericError", "Parameter 'id' is missing")]
    public async Task Error_classes_and_texts_of_qemu_ga_7_2(string command, string? args, string errorClass, string desc)
    {
        await using GuestAgentClient client = _agent.CreateClient();
        var ex = await Assert.ThrowsAnyAsync<QgaCommandException>(() => client.ExecuteAsync(command, args is null ? null : new JsonArgs(args), null, Ct));
        Assert.Equal(errorClass, ex.ErrorClass);
        Assert.Equal(desc, ex.Description);
        Assert.Equal(command, ex.Command);
        Assert.IsType(errorClass == "GenericError" ? typeof(QgaGenericErrorException) : typeof(QgaCommandNotFoundException), ex);

        // The connection is still in step after an error reply.
        await client.ExecuteAsync("guest-ping", Ct);
    }

    [Fact]
    public async Task Commands_that_run_on_the_host()
    {
        await using GuestAgentClient client = _agent.CreateClient();

        JsonElement info = await client.ExecuteAsync("guest-info", Ct);
        Assert.StartsWith("7.", info.GetProperty("version").GetString());
        var commands = info.GetProperty("supported_commands").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.True(commands["guest-ping"].GetProperty("enabled").GetBoolean());
        Assert.False(commands["guest-shutdown"].GetProperty("success-response").GetBoolean());
        Assert.False(commands["guest-suspend-ram"].GetProperty("success-response").GetBoolean());

        long now = (await client.ExecuteAsync("guest-get-time", Ct)).GetInt64();
        Assert.InRange(now, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds() * 1_000_000, DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds() * 1_000_000);

        JsonElement os = await client.ExecuteAsync("guest-get-osinfo", Ct);
        Assert.Equal(JsonValueKind.String, os.GetProperty("kernel-release").ValueKind);
        Assert.Equal(JsonValueKind.String, os.GetProperty("machine").ValueKind);

        Assert.Equal(System.Net.Dns.GetHostName(), (await client.ExecuteAsync("guest-get-host-name", Ct)).GetProperty("host-name").GetString());
        Assert.Equal(JsonValueKind.Number, (await client.ExecuteAsync("guest-get-timezone", Ct)).GetProperty("offset").ValueKind);
        Assert.Equal(JsonValueKind.Array, (await client.ExecuteAsync("guest-get-users", Ct)).ValueKind);

        JsonElement interfaces = await client.ExecuteAsync("guest-network-get-interfaces", Ct);
        Assert.Contains(interfaces.EnumerateArray(), i => i.GetProperty("name").GetString() == "lo");

        JsonElement vcpus = await client.ExecuteAsync("guest-get-vcpus", Ct);
        Assert.True(vcpus.GetArrayLength() >= 1);
        Assert.True(vcpus[0].GetProperty("logical-id").GetInt32() >= 0);

        Assert.Equal("thawed", (await client.ExecuteAsync("guest-fsfreeze-status", Ct)).GetString());

        // These depend on the host's devices and privileges: a return of the right shape or a GenericError.
        foreach (var (command, kind) in new[]
                 {
                     ("guest-get-fsinfo", JsonValueKind.Array), ("guest-get-disks", JsonValueKind.Array),
                     ("guest-get-diskstats", JsonValueKind.Array), ("guest-get-cpustats", JsonValueKind.Array),
                     ("guest-get-memory-block-info", JsonValueKind.Object), ("guest-get-memory-blocks", JsonValueKind.Array),
                 })
        {
            try
            {
                Assert.Equal(kind, (await client.ExecuteAsync(command, Ct)).ValueKind);
            }
            catch (QgaGenericErrorException)
            {
            }
        }
    }

    [Fact]
    public async Task File_open_write_seek_read_flush_close()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        string path = Path.Combine(_agent.Directory, "file-" + Guid.NewGuid().ToString("N") + ".bin");
        byte[] content = Enumerable.Range(0, 70000).Select(i => (byte)(i * 7)).ToArray();

        long handle = (await client.ExecuteAsync("guest-file-open", new JsonArgs($"{{\"path\":\"{path}\",\"mode\":\"w+\"}}"), null, Ct)).GetInt64();
        Assert.True(handle >= 1000);

        JsonElement written = await client.ExecuteAsync("guest-file-write", new JsonArgs($"{{\"handle\":{handle},\"buf-b64\":\"{Convert.ToBase64String(content)}\"}}"), null, Ct);
        Assert.Equal(content.Length, written.GetProperty("count").GetInt32());
        await client.ExecuteAsync("guest-file-flush", new JsonArgs($"{{\"handle\":{handle}}}"), null, Ct);
        Assert.Equal(content, File.ReadAllBytes(path));

        JsonElement seek = await client.ExecuteAsync("guest-file-seek", new JsonArgs($"{{\"handle\":{handle},\"offset\":0,\"whence\":\"set\"}}"), null, Ct);
        Assert.Equal(0, seek.GetProperty("position").GetInt64());
        seek = await client.ExecuteAsync("guest-file-seek", new JsonArgs($"{{\"handle\":{handle},\"offset\":-10,\"whence\":2}}"), null, Ct);
        Assert.Equal(content.Length - 10, seek.GetProperty("position").GetInt64());
        await client.ExecuteAsync("guest-file-seek", new JsonArgs($"{{\"handle\":{handle},\"offset\":0,\"whence\":\"set\"}}"), null, Ct);

        JsonElement read = await client.ExecuteAsync("guest-file-read", new JsonArgs($"{{\"handle\":{handle},\"count\":{content.Length}}}"), null, Ct);
        Assert.Equal(content.Length, read.GetProperty("count").GetInt32());
        Assert.Equal(content, read.GetProperty("buf-b64").GetBytesFromBase64());
        Assert.False(read.GetProperty("eof").GetBoolean()); // POSIX: a read ending exactly at EOF says false
        read = await client.ExecuteAsync("guest-file-read", new JsonArgs($"{{\"handle\":{handle}}}"), null, Ct);
        Assert.Equal(0, read.GetProperty("count").GetInt32());
        Assert.True(read.GetProperty("eof").GetBoolean());

        await client.ExecuteAsync("guest-file-close", new JsonArgs($"{{\"handle\":{handle}}}"), null, Ct);
        var closed = await Assert.ThrowsAsync<QgaGenericErrorException>(() => client.ExecuteAsync("guest-file-close", new JsonArgs($"{{\"handle\":{handle}}}"), null, Ct));
        Assert.Equal($"handle '{handle}' has not been found", closed.Description);
    }

    [Fact]
    public async Task Large_file_read_through_the_client()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        string path = Path.Combine(_agent.Directory, "big-" + Guid.NewGuid().ToString("N") + ".bin");
        var content = new byte[16 * 1024 * 1024];
        new Random(3).NextBytes(content);
        File.WriteAllBytes(path, content);
        long handle = (await client.ExecuteAsync("guest-file-open", new JsonArgs($"{{\"path\":\"{path}\"}}"), null, Ct)).GetInt64();
        JsonElement read = await client.ExecuteAsync("guest-file-read", new JsonArgs($"{{\"handle\":{handle},\"count\":{content.Length}}}"), null, Ct);
        Assert.True(content.AsSpan().SequenceEqual(read.GetProperty("buf-b64").GetBytesFromBase64()));
        await client.ExecuteAsync("guest-file-close", new JsonArgs($"{{\"handle\":{handle}}}"), null, Ct);
    }

    [Fact]
    public async Task Exec_echo_and_status()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        long pid = (await client.ExecuteAsync("guest-exec", new JsonArgs("{\"path\":\"/bin/echo\",\"arg\":[\"hi\",\"\u00e9\"],\"capture-output\":true}"), null, Ct)).GetProperty("pid").GetInt64();
        JsonElement status = default;
        for (int i = 0; i < 200; i++)
        {
            status = await client.ExecuteAsync("guest-exec-status", new JsonArgs($"{{\"pid\":{pid}}}"), null, Ct);
            if (status.GetProperty("exited").GetBoolean())
            {
                break;
            }

            await Task.Delay(25);
        }

        Assert.True(status.GetProperty("exited").GetBoolean());
        Assert.Equal(0, status.GetProperty("exitcode").GetInt32());
        Assert.Equal("hi \u00e9\n", Encoding.UTF8.GetString(status.GetProperty("out-data").GetBytesFromBase64()));
        Assert.False(status.TryGetProperty("err-data", out _)); // data members only when non-empty

        // The record is forgotten after the first "exited" report.
        var gone = await Assert.ThrowsAsync<QgaGenericErrorException>(() => client.ExecuteAsync("guest-exec-status", new JsonArgs($"{{\"pid\":{pid}}}"), null, Ct));
        Assert.Equal("Invalid parameter 'pid'", gone.Description);
    }

    [Fact]
    public async Task Sync_after_a_previous_client_left_a_half_sent_request()
    {
        // Half a request, then close: qemu-ga keeps its parser state across clients...
        RawExchange(_agent.SocketPath, Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\""), TimeSpan.FromMilliseconds(50));

        // ...so a naive client's request is swallowed (no reply at all)...
        byte[] naive = RawExchange(_agent.SocketPath, Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\"}"), TimeSpan.FromMilliseconds(500));
        Assert.Empty(naive);

        // ...while ours resets it with 0xFF and syncs.
        await using GuestAgentClient client = _agent.CreateClient();
        await client.ExecuteAsync("guest-ping", Ct);
        Assert.Equal(42, (await client.ExecuteAsync("guest-sync", new JsonArgs("{\"id\":42}"), null, Ct)).GetInt32());
    }

    [Fact]
    public async Task Sync_after_injected_garbage_and_pending_replies()
    {
        // A transport that, on connect, sends garbage the agent will answer (and half a request)
        // before the client gets the stream: the client must discard all of it.
        var transport = new InjectingTransport(new UnixSocketTransport(_agent.SocketPath),
            Encoding.Latin1.GetBytes("{\"execute\":\"guest-info\"}\x01garbage}{\"execute\":\"guest-get-osinfo\"}{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}{\"execute\":\"guest-ping\""));
        await using var client = new GuestAgentClient(transport, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });
        Assert.Equal(7, (await client.ExecuteAsync("guest-sync", new JsonArgs("{\"id\":7}"), null, Ct)).GetInt32());
        Assert.Equal(JsonValueKind.Object, (await client.ExecuteAsync("guest-ping", Ct)).ValueKind);
    }

    [Fact]
    public async Task Concurrent_callers_get_their_own_replies()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        var tasks = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
            (i, (await client.ExecuteAsync("guest-sync", new JsonArgs($"{{\"id\":{i}}}"), null, Ct)).GetInt32()))).ToArray();
        foreach (var (sent, got) in await Task.WhenAll(tasks))
        {
            Assert.Equal(sent, got);
        }
    }

    [Fact]
    public async Task Pipelined_requests_with_errors_in_between()
    {
        await using GuestAgentClient client = _agent.CreateClient(new GuestAgentClientOptions { MaxPipelineDepth = 16, DefaultTimeout = TimeSpan.FromSeconds(30) });
        var tasks = Enumerable.Range(0, 300).Select(async i =>
        {
            if (i % 7 == 0)
            {
                var ex = await Assert.ThrowsAsync<QgaCommandNotFoundException>(() => client.ExecuteAsync("guest-nope-" + i, Ct));
                Assert.Equal($"The command guest-nope-{i} has not been found", ex.Description);
                return;
            }

            Assert.Equal(i, (await client.ExecuteAsync("guest-sync", new JsonArgs($"{{\"id\":{i}}}"), null, Ct)).GetInt32());
        }).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(GuestAgentClientState.Ready, client.State);
    }

    [Fact]
    public async Task Raw_requests_mixed_with_typed_ones()
    {
        await using GuestAgentClient client = _agent.CreateClient(new GuestAgentClientOptions { MaxPipelineDepth = 4 });
        var raw = Enumerable.Range(0, 20).Select(i => RawCall(client, $"{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{i}}},\"id\":\"r{i}\"}}")).ToArray();
        var typed = Enumerable.Range(0, 20).Select(i => client.ExecuteAsync("guest-sync", new JsonArgs($"{{\"id\":{1000 + i}}}"), null, Ct)).ToArray();
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal($"{{\"return\":{i},\"id\":\"r{i}\"}}", await raw[i]);
            Assert.Equal(1000 + i, (await typed[i]).GetInt32());
        }
    }

    [Fact]
    public async Task Cancelled_call_before_send_leaves_no_trace()
    {
        await using GuestAgentClient client = _agent.CreateClient();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ExecuteAsync("guest-ping", null, null, cts.Token));
        Assert.Equal(5, (await client.ExecuteAsync("guest-sync", new JsonArgs("{\"id\":5}"), null, Ct)).GetInt32());
    }

    [Fact]
    public void Our_own_sockaddr_un_endpoint_works_too()
    {
        // The netstandard2.0 build's fallback for .NET Framework, exercised here on .NET.
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixSocketEndPoint(_agent.SocketPath));
        socket.Send(new byte[] { 0xFF });
        socket.Send(Encoding.ASCII.GetBytes("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":99}}"));
        var buffer = new byte[4096];
        var got = new MemoryStream();
        socket.ReceiveTimeout = 5000;
        while (!Encoding.Latin1.GetString(got.ToArray()).Contains("\xff{\"return\": 99}\n"))
        {
            int n = socket.Receive(buffer);
            Assert.True(n > 0);
            got.Write(buffer, 0, n);
        }

        var endPoint = new UnixSocketEndPoint("/x/y");
        Assert.Equal("/x/y", ((UnixSocketEndPoint)endPoint.Create(endPoint.Serialize())).Path);
    }

    /// <summary>Sends some bytes right after connecting, before the client sees the stream.</summary>
    private sealed class InjectingTransport : IGuestAgentTransport
    {
        private readonly IGuestAgentTransport _inner;
        private readonly byte[] _inject;

        public InjectingTransport(IGuestAgentTransport inner, byte[] inject)
        {
            _inner = inner;
            _inject = inject;
        }

        public string Endpoint => _inner.Endpoint;

        public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
        {
            Stream stream = await _inner.ConnectAsync(cancellationToken);
            await stream.WriteAsync(_inject, cancellationToken);
            await Task.Delay(200, cancellationToken); // let the agent answer some of it
            return stream;
        }
    }
}
