using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>A request as the fake agent saw it.</summary>
public sealed class FakeRequest
{
    public FakeRequest(string command, string? id, JsonElement? arguments)
    {
        Command = command;
        Id = id;
        Arguments = arguments;
    }

    public string Command { get; }

    /// <summary>The id as raw JSON text (the relay's id), or null.</summary>
    public string? Id { get; }

    public JsonElement? Arguments { get; }

    public string IdMember => Id is null ? "" : ",\"id\":" + Id;
}

/// <summary>One accepted connection of the fake agent.</summary>
public sealed class FakeConnection
{
    private readonly NetworkStream _stream;
    private readonly Socket _socket;

    internal FakeConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        try
        {
            await _stream.WriteAsync(bytes);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Close()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
        }

        _socket.Dispose();
    }
}

/// <summary>
/// An agent the test scripts: answers the sync pair like the stock agent (unless told not to)
/// and hands every other request to <see cref="Behavior"/>. Hostility lives in the behaviours.
/// Runs in the test process; the relay under test is a separate process.
/// </summary>
public sealed class FakeAgent : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public FakeAgent(string path, Func<FakeRequest, FakeConnection, Task> behavior)
    {
        Path = path;
        Behavior = behavior;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(4);
        _accept = Task.Run(AcceptAsync);
    }

    public string Path { get; }

    public Func<FakeRequest, FakeConnection, Task> Behavior { get; set; }

    /// <summary>When false, syncs get no answer (an agent that never comes up).</summary>
    public bool AnswerSync { get; set; } = true;

    public int Connections;

    public ConcurrentQueue<FakeRequest> Seen { get; } = new();

    /// <summary>A well-behaved reply for the few commands tests use.</summary>
    public static Task Normal(FakeRequest r, FakeConnection c) => r.Command switch
    {
        "guest-get-time" => c.SendAsync("{\"return\": 1234567890" + r.IdMember + "}\n"),
        "guest-get-host-name" => c.SendAsync("{\"return\": {\"host-name\": \"fake\"}" + r.IdMember + "}\n"),
        "guest-shutdown" or "guest-suspend-ram" => Task.CompletedTask,
        _ => c.SendAsync("{\"return\": {}" + r.IdMember + "}\n"),
    };

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            await _accept;
        }
        catch (Exception)
        {
        }

        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            Interlocked.Increment(ref Connections);
            _ = Task.Run(() => ServeAsync(s));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var conn = new FakeConnection(socket);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new JsonMessageReader();
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                var input = new ReadOnlyMemory<byte>(buffer, 0, n);
                while (!input.IsEmpty)
                {
                    var frame = reader.Read(input, out int consumed);
                    input = input.Slice(consumed);
                    if (frame.Kind == JsonFrameKind.StrayByte)
                    {
                        await conn.SendAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\ufffd'\"}}\n");
                        continue;
                    }

                    if (frame.Kind != JsonFrameKind.Message)
                    {
                        continue;
                    }

                    using var doc = JsonDocument.Parse(frame.Message.ToArray());
                    var root = doc.RootElement;
                    string command = root.GetProperty("execute").GetString()!;
                    string? id = root.TryGetProperty("id", out var idv) ? idv.GetRawText() : null;
                    JsonElement? args = root.TryGetProperty("arguments", out var a) ? a.Clone() : null;
                    var request = new FakeRequest(command, id, args);
                    if (command is "guest-sync-delimited" or "guest-sync")
                    {
                        if (AnswerSync)
                        {
                            string echo = args!.Value.GetProperty("id").GetRawText();
                            var reply = Encoding.ASCII.GetBytes("{\"return\": " + echo + request.IdMember + "}\n");
                            if (command == "guest-sync-delimited")
                            {
                                await conn.SendAsync(new byte[] { 0xFF });
                            }

                            await conn.SendAsync(reply);
                        }

                        continue;
                    }

                    Seen.Enqueue(request);
                    await Behavior(request, conn);
                }
            }
        }
        catch (Exception)
        {
        }
        finally
        {
            conn.Close();
        }
    }
}
