using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.HostileAgent;

/// <summary>
/// A scripted agent on a unix socket, for behaviours the real ones cannot be made to show (slow,
/// silent, closing, oversized, malformed, forged replies). It answers the sync pair like the stock
/// agent (unless told not to) and hands every other request, in order, one at a time per
/// connection, to <see cref="Handler"/> (default <see cref="Normal"/>). Hostility lives in the
/// handlers: <see cref="HostileModes"/>. It reads requests with the protocol's own framer.
/// </summary>
public sealed class FakeAgent : IDisposable, IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    /// <summary>Listens on a fresh socket under /tmp.</summary>
    public FakeAgent(Func<FakeRequest, Task>? handler = null)
        : this(Path.Combine("/tmp", "qgfake-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".sock"), handler)
    {
    }

    public FakeAgent(string socketPath, Func<FakeRequest, Task>? handler = null)
    {
        Handler = handler ?? Normal;
        SocketPath = socketPath;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(16);
        _accept = Task.Run(AcceptLoopAsync);
    }

    public Func<FakeRequest, Task> Handler { get; set; }

    /// <summary>Runs once per accepted connection, beside the request loop (e.g. unsolicited output).</summary>
    public Func<FakeConnection, CancellationToken, Task>? OnConnect { get; set; }

    public string SocketPath { get; }

    public string ConnectionString => "unix:" + SocketPath;

    public bool SupportsSyncDelimited { get; set; } = true;

    /// <summary>When false, syncs get no answer (an agent that never comes up).</summary>
    public bool AnswersSync { get; set; } = true;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>What arrived, in order: command names (syncs included), "0xFF" for stray bytes.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>Every request handed to <see cref="Handler"/> (syncs excluded).</summary>
    public ConcurrentQueue<FakeRequest> Seen { get; } = new();

    /// <summary>A well-behaved reply for the few commands tests use; no reply for the no-response commands.</summary>
    public static Task Normal(FakeRequest r) => r.Command switch
    {
        "guest-get-time" => r.ReplyAsync("{\"return\": 1234567890}"),
        "guest-get-host-name" => r.ReplyAsync("{\"return\": {\"host-name\": \"fake\"}}"),
        "guest-file-open" => r.ReplyAsync("{\"return\": 1000}"),
        "guest-file-read" => r.ReplyAsync("{\"return\": {\"count\": 0, \"buf-b64\": \"\", \"eof\": true}}"),
        "guest-file-write" => r.ReplyAsync("{\"return\": {\"count\": 0, \"eof\": false}}"),
        "guest-file-seek" => r.ReplyAsync("{\"return\": {\"position\": 0, \"eof\": false}}"),
        "guest-exec" => r.ReplyAsync("{\"return\": {\"pid\": 1}}"),
        "guest-info" => r.ReplyAsync(GuestInfo),
        "guest-shutdown" or "guest-suspend-ram" or "guest-suspend-disk" or "guest-suspend-hybrid" => Task.CompletedTask,
        _ => r.ReplyAsync("{\"return\": {}}"),
    };

    /// <summary>A stock-like guest-info: file commands and the basics, no guest-exec (so no extensions, no rename).</summary>
    public static string GuestInfo { get; } = "{\"return\": {\"version\": \"7.2.0\", \"supported_commands\": ["
        + string.Join(", ", new[] { "guest-sync-delimited", "guest-sync", "guest-ping", "guest-info", "guest-get-time", "guest-get-host-name", "guest-file-open", "guest-file-close", "guest-file-read", "guest-file-write", "guest-file-seek", "guest-file-flush" }
            .Select(n => "{\"name\": \"" + n + "\", \"enabled\": true, \"success-response\": true}"))
        + "]}}";

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

    public async ValueTask DisposeAsync()
    {
        Dispose();
        try
        {
            await _accept.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
    }

    /// <summary>Serves one connection over any stream (also used for named pipe and TCP tests).</summary>
    public async Task ServeAsync(Stream stream, Socket? socket = null)
    {
        var connection = new FakeConnection(stream, socket);
        using var reader = new JsonMessageReader();
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        Task? background = OnConnect is { } onConnect ? Task.Run(() => onConnect(connection, closing.Token)) : null;
        var buffer = new byte[65536];
        try
        {
            while (!_stop.IsCancellationRequested && !connection.Closed)
            {
                int n = await stream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                int offset = 0;
                while (offset < n && !connection.Closed)
                {
                    JsonFrame frame = reader.Read(buffer.AsSpan(offset, n - offset), out int used);
                    offset += used;
                    if (frame.Kind == JsonFrameKind.StrayByte)
                    {
                        Log.Enqueue("0x" + frame.Byte.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                        await connection.SendAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\ufffd'\"}}\n").ConfigureAwait(false);
                    }
                    else if (frame.Kind == JsonFrameKind.Message)
                    {
                        using JsonDocument document = JsonDocument.Parse(frame.Message.ToArray());
                        await HandleAsync(new FakeRequest(connection, document.RootElement.Clone())).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception)
        {
            // A fixture never takes the test host down: a broken peer just ends this connection.
        }
        finally
        {
            closing.Cancel();
            connection.Close();
            if (background is not null)
            {
                await Task.WhenAny(background, Task.Delay(5000)).ConfigureAwait(false);
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = Task.Run(() => ServeAsync(new NetworkStream(socket, ownsSocket: true), socket));
        }
    }

    private async Task HandleAsync(FakeRequest request)
    {
        Log.Enqueue(request.Command);
        switch (request.Command)
        {
            case "guest-sync-delimited" when !SupportsSyncDelimited:
                await request.ReplyAsync("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-sync-delimited has not been found\"}}").ConfigureAwait(false);
                return;
            case "guest-sync-delimited" or "guest-sync":
                if (AnswersSync)
                {
                    await request.ReplyAsync("{\"return\": " + request.Arguments.GetProperty("id").GetRawText() + "}", delimiter: request.Command == "guest-sync-delimited").ConfigureAwait(false);
                }

                return;
        }

        Seen.Enqueue(request);
        await Handler(request).ConfigureAwait(false);
    }
}
