using System;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>A minimal QMP monitor: greeting, qmp_capabilities, query-chardev, query-status, and events on demand.</summary>
public sealed class FakeQmp : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _agentPath;
    private readonly Task _accept;
    private NetworkStream? _client;

    public FakeQmp(string path, string agentPath)
    {
        Path = path;
        _agentPath = agentPath;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
        _accept = Task.Run(ServeAsync);
    }

    public string Path { get; }

    public volatile bool PortOpen = true;

    /// <summary>What query-status answers: QEMU's run state ('running', 'paused', 'finish-migrate', 'postmigrate').</summary>
    public volatile string Status = "running";

    /// <summary>Counts query-status requests (the relay asks while the VM is stopped).</summary>
    public int StatusQueries;

    public async Task SendEventAsync(string name)
    {
        await _client!.WriteAsync(Encoding.ASCII.GetBytes(
            "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"" + name + "\"}\r\n"));
    }

    public TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task SendPortEventAsync(string port, bool open)
    {
        PortOpen = open;
        await _client!.WriteAsync(Encoding.ASCII.GetBytes(
            "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"VSERPORT_CHANGE\", \"data\": {\"open\": " + (open ? "true" : "false") + ", \"id\": \"" + port + "\"}}\r\n"));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        _client?.Dispose();
        try
        {
            await _accept;
        }
        catch (Exception)
        {
        }
    }

    private async Task ServeAsync()
    {
        var s = await _listener.AcceptAsync(_stop.Token);
        _client = new NetworkStream(s, ownsSocket: true);
        await _client.WriteAsync(Encoding.ASCII.GetBytes("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 10}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"));
        using var reader = new JsonMessageReader();
        var buffer = new byte[4096];
        while (true)
        {
            int n = await _client.ReadAsync(buffer, _stop.Token);
            if (n == 0)
            {
                return;
            }

            var input = new ReadOnlyMemory<byte>(buffer, 0, n);
            while (!input.IsEmpty)
            {
                var frame = reader.Read(input, out int consumed);
                input = input.Slice(consumed);
                if (frame.Kind != JsonFrameKind.Message)
                {
                    continue;
                }

                using var d = JsonDocument.Parse(frame.Message.ToArray());
                string cmd = d.RootElement.GetProperty("execute").GetString()!;
                string reply = cmd switch
                {
                    "qmp_capabilities" => "{\"return\": {}}",
                    "query-status" => "{\"return\": {\"status\": \"" + Status + "\", \"singlestep\": false, \"running\": " + (Status == "running" ? "true" : "false") + "}}",
                    "query-chardev" => "{\"return\": [{\"frontend-open\": false, \"filename\": \"pty:/dev/pts/3\", \"label\": \"serial0\"}, {\"frontend-open\": " + (PortOpen ? "true" : "false") + ", \"filename\": \"unix:" + _agentPath + ",server=on\", \"label\": \"qga0\"}]}",
                    _ => "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}",
                };
                await _client.WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"));
                if (cmd == "query-status")
                {
                    Interlocked.Increment(ref StatusQueries);
                }

                if (cmd == "query-chardev")
                {
                    Ready.TrySetResult();
                }
            }
        }
    }
}
