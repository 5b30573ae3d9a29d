using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// A tiny scripted agent on a unix socket, for behaviours the real one cannot be made to show
/// (slow replies, silence, closing after a command, oversize or malformed replies). Requests are
/// handled one at a time per connection, in order, like qemu-ga. It reads with our own reader.
/// </summary>
public sealed class FakeAgent : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private int _connections;

    public FakeAgent(Func<FakeRequest, Task>? handler = null)
    {
        Handler = handler;
        SocketPath = Path.Combine(Path.GetTempPath(), "qgfake-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(8);
        _ = AcceptLoopAsync();
    }

    public Func<FakeRequest, Task>? Handler { get; set; }

    public string SocketPath { get; }

    public string ConnectionString => "unix:" + SocketPath;

    public bool SupportsSyncDelimited { get; set; } = true;

    public bool AnswersSync { get; set; } = true;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>What arrived, in order: command names, "0xFF" for stray bytes.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public int Count(string entry)
    {
        int n = 0;
        foreach (string e in Log)
        {
            n += e == entry ? 1 : 0;
        }

        return n;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = ServeAsync(new NetworkStream(socket, ownsSocket: true));
        }
    }

    /// <summary>Serves one connection over any stream (also used for the named pipe test).</summary>
    public async Task ServeAsync(Stream stream)
    {
        var connection = new FakeConnection(stream);
        using var reader = new JsonMessageReader();
        var buffer = new byte[65536];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                int offset = 0;
                while (offset < n)
                {
                    JsonFrame frame = reader.Read(buffer.AsSpan(offset, n - offset), out int used);
                    offset += used;
                    if (frame.Kind == JsonFrameKind.StrayByte)
                    {
                        Log.Enqueue("0x" + frame.Byte.ToString("X2"));
                        await connection.SendAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n");
                    }
                    else if (frame.Kind == JsonFrameKind.Message)
                    {
                        using JsonDocument document = JsonDocument.Parse(frame.Message.ToArray());
                        await HandleAsync(new FakeRequest(connection, document.RootElement.Clone()));
                        if (connection.Closed)
                        {
                            return;
                        }
                    }
                }
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested || connection.Closed)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    private async Task HandleAsync(FakeRequest request)
    {
        Log.Enqueue(request.Command);
        switch (request.Command)
        {
            case "guest-sync-delimited" when !SupportsSyncDelimited:
                await request.ReplyAsync("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-sync-delimited has not been found\"}}", delimiter: false);
                return;
            case "guest-sync-delimited":
                if (AnswersSync)
                {
                    await request.ReplyAsync($"{{\"return\": {request.Arguments.GetProperty("id").GetRawText()}}}", delimiter: true);
                }

                return;
            case "guest-sync":
                if (AnswersSync)
                {
                    await request.ReplyAsync($"{{\"return\": {request.Arguments.GetProperty("id").GetRawText()}}}");
                }

                return;
            case "guest-ping":
                await request.ReplyAsync("{\"return\": {}}");
                return;
        }

        if (Handler is not null)
        {
            await Handler(request);
            return;
        }

        await request.ReplyAsync($"{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"The command {request.Command} has not been found\"}}}}");
    }
}

public sealed class FakeConnection
{
    private readonly Stream _stream;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public FakeConnection(Stream stream) => _stream = stream;

    public bool Closed { get; private set; }

    public async Task SendAsync(string text, bool delimiter = false)
    {
        await _lock.WaitAsync();
        try
        {
            if (delimiter)
            {
                await _stream.WriteAsync(new byte[] { 0xFF });
            }

            await _stream.WriteAsync(Encoding.ASCII.GetBytes(text));
            await _stream.FlushAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Close()
    {
        Closed = true;
        _stream.Dispose();
    }
}

public sealed class FakeRequest
{
    public FakeRequest(FakeConnection connection, JsonElement request)
    {
        Connection = connection;
        Request = request;
        Command = request.TryGetProperty("execute", out JsonElement e) ? e.GetString() ?? "" : "";
        Arguments = request.TryGetProperty("arguments", out JsonElement a) ? a : default;
        Id = request.TryGetProperty("id", out JsonElement id) ? id : null;
    }

    public FakeConnection Connection { get; }

    public JsonElement Request { get; }

    public string Command { get; }

    public JsonElement Arguments { get; }

    public JsonElement? Id { get; }

    /// <summary>Sends <paramref name="reply"/> (a JSON object text) with the request's id added, then '\n'.</summary>
    public Task ReplyAsync(string reply, bool delimiter = false, string? id = null)
    {
        string idText = id ?? Id?.GetRawText() ?? string.Empty;
        string text = idText.Length == 0 ? reply : reply.Substring(0, reply.LastIndexOf('}')) + ", \"id\": " + idText + "}";
        return Connection.SendAsync(text + "\n", delimiter);
    }
}
