using System;
using System.Buffers;
using System.IO;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Validation;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Endpoints;

/// <summary>
/// Handles one request at a time for a message stream; implemented by the VM endpoint and the
/// control endpoint. Returns the reply bytes (or empty for none) built with the given writer.
/// The envelope is read once, by the session; a handler answers its <see cref="RequestEnvelope.Error"/>.
/// </summary>
internal interface IRequestHandler
{
    ValueTask<ReadOnlyMemory<byte>> HandleAsync(OwnedJson request, RequestEnvelope envelope, JsonMessageWriter writer, object client, CancellationToken cancellationToken);
}

/// <summary>
/// One management client: reads requests with the protocol's framer, answers parse errors as
/// the stock agent does (no id), and hands each parsed request to the endpoint's handler,
/// strictly one at a time, so replies come back in request order like from the agent.
/// A client that pipelines simply waits in its own socket buffer.
/// </summary>
/// <remarks>
/// A socket client (not on Windows) has a thread of its own, which waits for the client's next
/// request in poll(2), so the request wakes the thread that handles it. An asynchronous read
/// instead wakes the runtime's socket event thread, which hands the read on to a pool thread:
/// one more thread hand-off per request, measured at 25-70 µs of the relay's latency on a busy
/// 2-core host (bench/RESULTS.md, issue 19 stage 7). The socket is non-blocking: the reply goes
/// out from the thread that completes the request (the guest link's reader) as far as the
/// socket takes it at once, and only what it does not take waits for this thread, so a slow
/// client never holds the VM's reader. A thread costs a stack of <see cref="ThreadStackBytes"/>
/// reserved, of which little is touched; clients per endpoint are bounded (MaxClientsPerEndpoint).
/// </remarks>
internal sealed class ClientSession : IBulkClient
{
    private const int ChunkSize = 64 * 1024;
    private const int ThreadStackBytes = 256 * 1024;

    private readonly Stream _stream;
    private readonly IRequestHandler _handler;
    private readonly LimitOptions _limits;
    private readonly string _endpoint;
    private readonly ILogger _logger;
    private readonly Socket? _socket;
    private byte[] _buffer = Array.Empty<byte>();
    private ReadOnlyMemory<byte> _pending;
    private bool _closeAfterReply;

    public ClientSession(Stream stream, IRequestHandler handler, LimitOptions limits, string endpoint, ILogger logger)
    {
        _stream = stream;
        _handler = handler;
        _limits = limits;
        _endpoint = endpoint;
        _logger = logger;
        _socket = stream is NetworkStream network && !OperatingSystem.IsWindows() ? network.Socket : null;
    }

    /// <summary>Serves the client until it leaves, the relay stops, or a reply cannot be written in time.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            return RunLoopAsync(cancellationToken);
        }

        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(
            () =>
            {
                try
                {
                    // Every await in the loop completes before it returns in this mode: the
                    // whole loop runs on this thread.
                    RunLoopAsync(cancellationToken).GetAwaiter().GetResult();
                    ended.SetResult();
                }
                catch (Exception e)
                {
                    ended.SetException(e);
                }
            },
            ThreadStackBytes)
        {
            IsBackground = true,
            Name = "relay-client",
        };
        thread.Start();
        return ended.Task;
    }

    private async Task RunLoopAsync(CancellationToken cancellationToken)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        // Stopping shuts the socket down, which ends this thread's wait in poll(2).
        using var stopping = _socket is null ? default : cancellationToken.Register(static s => ShutDown((Socket)s!), _socket);
        if (_socket is not null)
        {
            // In user non-blocking mode every call is a plain syscall: no runtime event thread
            // is involved unless a bulk transfer uses the stream's asynchronous calls.
            _socket.Blocking = false;
        }

        using var reader = new JsonMessageReader(_limits.MaxRequestBytes, _limits.MaxDepth, _limits.MaxTokens);
        using var writer = new JsonMessageWriter();
        string reason = "end of stream";
        try
        {
            while (!_closeAfterReply)
            {
                if (_pending.IsEmpty)
                {
                    int n = _socket is null
                        ? await _stream.ReadAsync(_buffer.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false)
                        : ReceiveWaiting(cancellationToken);
                    if (n == 0)
                    {
                        break;
                    }

                    _pending = new ReadOnlyMemory<byte>(_buffer, 0, n);
                }

                while (!_pending.IsEmpty && !_closeAfterReply)
                {
                    // A handler may take input past the request (a bulk transfer's frames) and
                    // give back what follows them: the rest is read from _pending after it.
                    var frame = reader.Read(_pending, out int consumed);
                    _pending = _pending.Slice(consumed);
                    (ReadOnlyMemory<byte> reply, int sent) = frame.Kind switch
                    {
                        JsonFrameKind.None => default,
                        JsonFrameKind.Message when _socket is null => (await HandleMessageAsync(frame.Message, writer, cancellationToken).ConfigureAwait(false), 0),
                        JsonFrameKind.Message => AnswerWaiting(frame.Message, writer, cancellationToken),
                        _ => (writer.WriteError("GenericError", WireTexts.ForFrame(frame), null), 0),
                    };
                    if (!reply.IsEmpty)
                    {
                        if (_socket is null)
                        {
                            await WriteAsync(reply, cancellationToken).ConfigureAwait(false);
                        }
                        else
                        {
                            SendWaiting(reply.Slice(sent), cancellationToken);
                        }

                        MemoryGovernor.AfterMessage(reply.Length);
                    }
                }
            }

            if (_closeAfterReply)
            {
                reason = "a bulk transfer ended out of step";
            }
        }
        catch (OperationCanceledException)
        {
            reason = "relay stopping or client too slow";
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is IOException or ObjectDisposedException or SocketException)
        {
            reason = "relay stopping";
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            reason = e.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            Log.ClientEnded(_logger, _endpoint, reason);
        }
    }

    /// <summary>
    /// Runs the handler for one request, waiting on this thread while the request is with the
    /// guest; returns the reply and how much of it the thread that completed the request sent.
    /// </summary>
    private (ReadOnlyMemory<byte> Reply, int Sent) AnswerWaiting(ReadOnlyMemory<byte> message, JsonMessageWriter writer, CancellationToken cancellationToken)
    {
        var answer = AnswerAsync(message, writer, cancellationToken);
        return answer.IsCompleted ? answer.Result : answer.AsTask().GetAwaiter().GetResult();
    }

    private async ValueTask<(ReadOnlyMemory<byte> Reply, int Sent)> AnswerAsync(ReadOnlyMemory<byte> message, JsonMessageWriter writer, CancellationToken cancellationToken)
    {
        var reply = await HandleMessageAsync(message, writer, cancellationToken).ConfigureAwait(false);
        return (reply, SendNow(reply.Span));
    }

    /// <summary>What the socket takes without waiting; the rest (and any failure) is the session thread's.</summary>
    private int SendNow(ReadOnlySpan<byte> bytes)
    {
        int sent = 0;
        try
        {
            while (sent < bytes.Length)
            {
                int n = _socket!.Send(bytes.Slice(sent), SocketFlags.None, out SocketError error);
                if (error != SocketError.Success)
                {
                    break;
                }

                sent += n;
            }
        }
        catch (ObjectDisposedException)
        {
        }

        return sent;
    }

    /// <summary>Reads what the client sent, waiting in poll(2) for it; 0 at end of stream.</summary>
    private int ReceiveWaiting(CancellationToken cancellationToken)
    {
        while (true)
        {
            int n = _socket!.Receive(_buffer, 0, ChunkSize, SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                return n;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            cancellationToken.ThrowIfCancellationRequested();
            _socket.Poll(-1, SelectMode.SelectRead);
        }
    }

    /// <summary>Writes all of <paramref name="bytes"/>, waiting in poll(2) while the client reads, within the write timeout.</summary>
    private void SendWaiting(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)_limits.WriteTimeout.TotalMilliseconds;
        while (!bytes.IsEmpty)
        {
            int n = _socket!.Send(bytes.Span, SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                bytes = bytes.Slice(n);
                continue;
            }

            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            cancellationToken.ThrowIfCancellationRequested();
            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                throw new OperationCanceledException("the client took no reply bytes within the write timeout");
            }

            _socket.Poll((int)Math.Min(left * 1000, int.MaxValue), SelectMode.SelectWrite);
        }
    }

    private static void ShutDown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    /// <summary>After the reply being made, the connection closes: where the client's next message starts is unknown.</summary>
    public void CloseAfterReply() => _closeAfterReply = true;

    /// <summary>Writes one reply now (a bulk transfer's acceptance, before its frames); false when the client is gone.</summary>
    public async Task<bool> TryWriteAsync(ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        try
        {
            await WriteAsync(reply, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    bool IBulkClient.WriteBlocking(ReadOnlyMemory<byte> bytes)
    {
        using var cts = new CancellationTokenSource(_limits.WriteTimeout);
        try
        {
            _stream.WriteAsync(bytes, cts.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            _closeAfterReply = true;
            return false;
        }
    }

    async ValueTask<ReadOnlyMemory<byte>> IBulkClient.ReadAsync(CancellationToken cancellationToken)
    {
        if (!_pending.IsEmpty)
        {
            var ready = _pending;
            _pending = default;
            return ready;
        }

        int n = await _stream.ReadAsync(_buffer.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false);
        return new ReadOnlyMemory<byte>(_buffer, 0, n);
    }

    void IBulkClient.Unread(ReadOnlyMemory<byte> rest) => _pending = rest;

    private async ValueTask<ReadOnlyMemory<byte>> HandleMessageAsync(ReadOnlyMemory<byte> message, JsonMessageWriter writer, CancellationToken cancellationToken)
    {
        using var request = BoundedJson.TryParse(message.Span, _limits.MaxDepth, out string? error);
        if (request is null)
        {
            return writer.WriteError("GenericError", WireTexts.ParseError(error!), null);
        }

        var envelope = RequestEnvelope.Read(request.Root);
        if (envelope.NotAnObject)
        {
            // Refused before any endpoint sees it, like the agent's parser does: no VM involved.
            return writer.WriteError("GenericError", envelope.Error!, null);
        }

        try
        {
            return await _handler.HandleAsync(request, envelope, writer, this, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One failed request becomes one error reply; the session and the relay go on.
            return writer.WriteError("GenericError", "qemuguest-relay: internal error: " + e.GetType().Name, envelope.Id);
        }
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_limits.WriteTimeout);
        await _stream.WriteAsync(reply, cts.Token).ConfigureAwait(false);
    }
}

/// <summary>
/// A VM endpoint: schema validation and the endpoint's policy before anything is queued for
/// the guest; client syncs answered by the relay; the client's id restored on every reply.
/// </summary>
internal sealed class VmRequestHandler : IRequestHandler
{
    private readonly VmChannel _channel;
    private readonly RelaySchema _schema;
    private readonly EndpointPolicy _policy;
    private readonly LimitOptions _limits;
    private readonly string _endpoint;
    private readonly ILogger _logger;

    public VmRequestHandler(VmChannel channel, RelaySchema schema, EndpointPolicy policy, LimitOptions limits, string endpoint, ILogger logger)
    {
        _channel = channel;
        _schema = schema;
        _policy = policy;
        _limits = limits;
        _endpoint = endpoint;
        _logger = logger;
    }

    public async ValueTask<ReadOnlyMemory<byte>> HandleAsync(OwnedJson request, RequestEnvelope envelope, JsonMessageWriter writer, object client, CancellationToken cancellationToken)
    {
        JsonElement? id = envelope.Id;
        var invalid = _schema.Validator.ValidateRequest(envelope);
        string command = envelope.Command ?? "";
        if (invalid is not null)
        {
            RelayCounters.Inc(ref _channel.Counters.Rejected);
            Log.RequestRejected(_logger, _endpoint, Protocol.GuestText.Printable(ReplyChecker.Clip(command, 64)), Protocol.GuestText.Printable(invalid.Description));
            return writer.WriteError(invalid.ErrorClass, invalid.Description, id);
        }

        if (!_policy.Allows(PolicyName(command, envelope)))
        {
            RelayCounters.Inc(ref _channel.Counters.Rejected);
            Log.RequestRejected(_logger, _endpoint, command, "policy " + _policy.Name);
            return writer.WriteError("CommandNotFound", QapiErrorTexts.CommandDisabled(command), id);
        }

        var descriptor = _schema.Find(command)!;
        byte[]? arguments = null;
        JsonElement syncId = default;
        bool isSync = RelaySchema.IsSync(command);
        if (envelope.Arguments is { } args)
        {
            if (isSync)
            {
                syncId = args.GetProperty("id");
            }
            else
            {
                arguments = Serialize(args);
            }
        }

        BulkRelay? bulk = null;
        if (command == Protocol.Client.GuestAgentClient.BulkCommand)
        {
            var a = envelope.Arguments!.Value;
            bulk = new BulkRelay(a.GetProperty("direction").GetString() == "write", a.GetProperty("count").GetInt64(), (ClientSession)client, _limits.WriteTimeout);
        }

        var relayRequest = new RelayRequest(descriptor, arguments) { IsLocalSync = isSync, Bulk = bulk };
        switch (_channel.Submit(client, relayRequest))
        {
            case EnqueueResult.Queued:
                break;
            case EnqueueResult.ClientQueueFull:
                return RelayError(writer, "this connection already has the most requests queued", id);
            default:
                return RelayError(writer, $"the request queue of VM '{_channel.Name}' is full; try again later", id);
        }

        var completion = relayRequest.Completion;
        while (!completion.IsCompleted)
        {
            // A request still queued when the wait ends is withdrawn; one the channel holds is
            // always completed within the channel's own timeouts (or put back in the queue,
            // never sent, when its connection closed: then the next round withdraws it).
            using var waitCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var queueTimeout = Task.Delay(_limits.QueueTimeout, waitCts.Token);
            bool gaveUp = await Task.WhenAny(completion, queueTimeout).ConfigureAwait(false) != completion;
            waitCts.Cancel();
            if (gaveUp && relayRequest.TryCancel())
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }

                RelayCounters.Inc(ref _channel.Counters.QueueTimeouts);
                return RelayError(writer, $"{command}: the guest agent channel of VM '{_channel.Name}' was not ready within {_limits.QueueTimeoutSeconds:0.###} s (state {_channel.State}); the request was not sent", id, QgaInterruption.NotReady);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                // Stopping while the channel holds it: the channel completes it in bounded time.
                (await completion.ConfigureAwait(false)).Dispose();
                throw new OperationCanceledException(cancellationToken);
            }
        }

        using var outcome = await completion.ConfigureAwait(false);
        if (bulk is not null && outcome.Kind == OutcomeKind.Return)
        {
            return await CarryBulkAsync(bulk, outcome, writer, (ClientSession)client, id, cancellationToken).ConfigureAwait(false);
        }

        switch (outcome.Kind)
        {
            case OutcomeKind.Return:
                var value = outcome.Value;
                if (outcome.Size > LargeReply)
                {
                    return WriteLargeReturn(value, id);
                }

                return writer.WriteReturn(w => value.WriteTo(w), id);
            case OutcomeKind.Error:
                return writer.WriteError(outcome.ErrorClass!, outcome.Description!, id, outcome.Interruption);
            default:
                if (isSync)
                {
                    // Answered by the relay once the guest channel is synchronised: the
                    // client's sync is about its connection to the relay, which the relay owns.
                    var echo = syncId;
                    return writer.WriteReturn(w => echo.WriteTo(w), id, leadingDelimiter: command == "guest-sync-delimited");
                }

                return default;
        }
    }

    private const int LargeReply = 1024 * 1024;

    /// <summary>
    /// A bulk read passes where guest-file-read would, a bulk write where guest-file-write would:
    /// the same bytes move either way, so an endpoint that may read files (and not write them)
    /// may read them in frames too.
    /// </summary>
    private static string PolicyName(string command, RequestEnvelope envelope) =>
        command != Protocol.Client.GuestAgentClient.BulkCommand ? command
        : envelope.Arguments is { } a && a.TryGetProperty("direction", out var d) && d.ValueKind == JsonValueKind.String && d.GetString() == "read" ? "guest-file-read"
        : "guest-file-write";

    /// <summary>
    /// The guest accepted a bulk transfer: the acceptance goes to the client now, then the
    /// frames (the guest's, passed on by the channel's reader; or the client's, pumped here),
    /// and the reply this returns is the transfer's second one.
    /// </summary>
    private async ValueTask<ReadOnlyMemory<byte>> CarryBulkAsync(BulkRelay bulk, GuestOutcome accepted, JsonMessageWriter writer, ClientSession session, JsonElement? id, CancellationToken cancellationToken)
    {
        var value = accepted.Value;
        if (!await session.TryWriteAsync(writer.WriteReturn(w => value.WriteTo(w), id), cancellationToken).ConfigureAwait(false))
        {
            bulk.SetClientFailure("the client did not take the accepting reply");
            session.CloseAfterReply();
        }

        bulk.ClientHasAccept();
        if (bulk.IsWrite)
        {
            await bulk.PumpClientFramesAsync(_limits.LastByteTimeout, _channel.Counters, cancellationToken).ConfigureAwait(false);
        }

        using var done = await bulk.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        bulk.CloseClientFrames();
        if (bulk.ClientFailure is not null)
        {
            session.CloseAfterReply();
        }

        if (done.Kind == OutcomeKind.Return)
        {
            var final = done.Value;
            return writer.WriteReturn(w => final.WriteTo(w), id);
        }

        return writer.WriteError(done.ErrorClass!, done.Description!, id, done.Interruption);
    }

    /// <summary>
    /// The same message JsonMessageWriter.WriteReturn makes, in a plain array the GC takes back,
    /// rather than in a pooled buffer that the shared pool would keep per thread.
    /// </summary>
    private static ReadOnlyMemory<byte> WriteLargeReturn(JsonElement value, JsonElement? id)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonMessageWriter.Options))
        {
            w.WriteStartObject();
            w.WritePropertyName(JsonNames.Return);
            value.WriteTo(w);
            if (id is { } i)
            {
                w.WritePropertyName(JsonNames.Id);
                i.WriteTo(w);
            }

            w.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
    }

    private ReadOnlyMemory<byte> RelayError(JsonMessageWriter writer, string text, JsonElement? id, QgaInterruption? interruption = null)
    {
        RelayCounters.Inc(ref _channel.Counters.ErrorsToClients);
        return writer.WriteError("GenericError", "qemuguest-relay: " + text, id, interruption);
    }

    private static byte[] Serialize(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonMessageWriter.Options))
        {
            value.WriteTo(w);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
