using System;
using System.Buffers;
using System.IO;
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
internal sealed class ClientSession
{
    private const int ChunkSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly IRequestHandler _handler;
    private readonly LimitOptions _limits;
    private readonly string _endpoint;
    private readonly ILogger _logger;

    public ClientSession(Stream stream, IRequestHandler handler, LimitOptions limits, string endpoint, ILogger logger)
    {
        _stream = stream;
        _handler = handler;
        _limits = limits;
        _endpoint = endpoint;
        _logger = logger;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        using var reader = new JsonMessageReader(_limits.MaxRequestBytes, _limits.MaxDepth, _limits.MaxTokens);
        using var writer = new JsonMessageWriter();
        string reason = "end of stream";
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                var input = new ReadOnlyMemory<byte>(buffer, 0, n);
                while (!input.IsEmpty)
                {
                    var frame = reader.Read(input, out int consumed);
                    input = input.Slice(consumed);
                    ReadOnlyMemory<byte> reply = frame.Kind switch
                    {
                        JsonFrameKind.None => default,
                        JsonFrameKind.Message => await HandleMessageAsync(frame.Message, writer, cancellationToken).ConfigureAwait(false),
                        _ => writer.WriteError("GenericError", WireTexts.ForFrame(frame), null),
                    };
                    if (!reply.IsEmpty)
                    {
                        await WriteAsync(reply, cancellationToken).ConfigureAwait(false);
                        MemoryGovernor.AfterMessage(reply.Length);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "relay stopping or client too slow";
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            reason = e.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Log.ClientEnded(_logger, _endpoint, reason);
        }
    }

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

        if (!_policy.Allows(command))
        {
            RelayCounters.Inc(ref _channel.Counters.Rejected);
            Log.RequestRejected(_logger, _endpoint, command, "policy " + _policy.Name);
            return writer.WriteError("CommandNotFound", QapiErrorTexts.CommandDisabled(command), id);
        }

        if (command == Protocol.Client.GuestAgentClient.BulkCommand)
        {
            // Its frames would reach this relay's JSON reader: the relay does not check and carry
            // them yet, so it refuses before the guest sees the request, and our clients copy
            // with guest-file-read/write instead.
            RelayCounters.Inc(ref _channel.Counters.Rejected);
            Log.RequestRejected(_logger, _endpoint, command, "bulk frames are not relayed");
            return writer.WriteError("CommandNotFound", "qemuguest-relay: BulkNotRelayed: the relay does not carry the binary frames of " + command + "; use guest-file-read and guest-file-write", id);
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

        var relayRequest = new RelayRequest(descriptor, arguments) { IsLocalSync = isSync };
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
