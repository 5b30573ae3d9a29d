using System;
using System.Buffers;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Agent.Hosting;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Core;

/// <summary>
/// One request in, at most one reply out: qemu-ga's process_event + qmp_dispatch. Checks the
/// envelope (QEMU's texts), applies the allow/block/freeze policy, runs the command through
/// the generated dispatcher inside its own try/catch and linked cancellation, and writes the
/// reply (with a leading 0xFF after a successful guest-sync-delimited). Nothing thrown by a
/// command escapes: the loop never dies because of one request.
/// </summary>
public sealed class RequestProcessor
{
    public const string SyncDelimited = "guest-sync-delimited";

    // Duplicate names are refused like qemu-ga's parser does ("duplicate key"): taking the last
    // one would let {"execute":"guest-ping","execute":"guest-shutdown"} run a command that a
    // first-wins reader in front of us (a filter, a log) saw as a ping.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = JsonMessageReader.DefaultMaxDepth + 1, AllowDuplicateProperties = false };
    private static readonly byte[] EmptyObjectJson = "{}"u8.ToArray();

    // JsonDocument's row size: its first row table is the request's length plus one row.
    private const int JsonRowSize = 12;

    private readonly IAgentDispatcher _dispatcher;
    private readonly CommandGate _gate;
    private readonly ILogger _logger;
    private readonly JsonElement _emptyObject;

    public RequestProcessor(IAgentDispatcher dispatcher, CommandGate gate, ILogger logger, BulkSlot? bulk = null)
    {
        Bulk = bulk ?? new BulkSlot();
        _dispatcher = dispatcher;
        _gate = gate;
        _logger = logger;
        using var doc = JsonDocument.Parse(EmptyObjectJson);
        _emptyObject = doc.RootElement.Clone();
    }

    /// <summary>Where an accepted bulk transfer waits for the service loop (the handler's context's slot).</summary>
    public BulkSlot Bulk { get; }

    /// <summary>The reply to a framing error (stray byte, unexpected byte, too large / deep).</summary>
    public static ReadOnlyMemory<byte> FramingError(JsonFrame frame, JsonMessageWriter writer) =>
        writer.WriteError("GenericError", WireTexts.ForFrame(frame), null);

    /// <summary>
    /// Processes one framed message. Returns the reply, or an empty memory when the command
    /// sends none (success of guest-shutdown / guest-suspend-*).
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> ProcessAsync(ReadOnlyMemory<byte> message, JsonMessageWriter writer, CancellationToken cancellationToken)
    {
        // Found by fuzzing: JsonDocument accepts bad strings and throws only when one is read.
        string? stringError = JsonStringCheck.FindError(message.Span);
        if (stringError is not null)
        {
            AgentLog.StrayInput(_logger, stringError);
            return writer.WriteError("GenericError", WireTexts.ParseError(stringError), null);
        }

        JsonDocument document;
        try
        {
            document = ParseMessage(message);
        }
        catch (JsonException ex)
        {
            AgentLog.StrayInput(_logger, ex.Message);
            return writer.WriteError("GenericError", WireTexts.ParseError(QemuJsonSyntax.FirstError(message.Span) ?? WireTexts.Describe(ex)), null);
        }

        // A large request's document is left to the GC, not disposed: disposing returns its row
        // table to ArrayPool.Shared, and a request of many small values has one as large as itself
        // (ParseMessage takes the first table out of the pool; this keeps the last one out).
        using (message.Length > SharedPool.MaxPooledBytes ? null : document)
        {
            RequestEnvelope envelope = RequestEnvelope.Read(document.RootElement);
            JsonElement? id = envelope.Id;
            if (envelope.Error is not null)
            {
                return writer.WriteError("GenericError", envelope.Error, id);
            }

            string command = envelope.Command!;
            JsonElement arguments = envelope.Arguments ?? _emptyObject;
            if (!_dispatcher.TryGetCommand(command, out AgentCommandInfo info))
            {
                return writer.WriteError("CommandNotFound", QapiErrorTexts.CommandNotFound(command), id);
            }

            if (!_gate.IsEnabled(command))
            {
                return writer.WriteError("CommandNotFound", _gate.DisabledDescription(command), id);
            }

            AgentLog.RequestReceived(_logger, command);
            using var commandCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

            // The return value goes straight into the reply (a 48 MiB guest-file-read's 64 MiB of
            // base64 is written once, not built aside and copied). A failure half-way through
            // still becomes one clean error reply: WriteError starts the message over.
            Utf8JsonWriter returnWriter = writer.BeginReturn(leadingDelimiter: command == SyncDelimited);
            Bulk.Clear();
            try
            {
                long before = returnWriter.BytesCommitted + returnWriter.BytesPending;
                await _dispatcher.DispatchAsync(command, arguments, returnWriter, commandCancellation.Token).ConfigureAwait(false);
                if (returnWriter.BytesCommitted + returnWriter.BytesPending == before)
                {
                    returnWriter.WriteStartObject();
                    returnWriter.WriteEndObject();
                }

                if (!info.SuccessResponse)
                {
                    return ReadOnlyMemory<byte>.Empty;
                }

                if (Bulk.Peek() is { } bulk)
                {
                    bulk.Id = id?.Clone();
                }

                return writer.EndReturn(id);
            }
            catch (QapiUnmarshalException ex)
            {
                Bulk.Clear();
                AgentLog.RequestFailed(_logger, command, ex.Message);
                return writer.WriteError("GenericError", ex.Message, id);
            }
            catch (AgentCommandException ex)
            {
                Bulk.Clear();
                AgentLog.RequestFailed(_logger, command, ex.Message);
                return writer.WriteError(ex.ErrorClass, ex.Message, id);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Bulk.Clear();
                AgentLog.RequestCancelled(_logger, command);
                return writer.WriteError("GenericError", "Guest agent command failed, error was 'the agent is shutting down'", id);
            }
            catch (Exception ex)
            {
                // Per-command isolation: a bug in one handler becomes an error reply.
                Bulk.Clear();
                AgentLog.RequestCrashed(_logger, command, ex);
                return writer.WriteError("GenericError", "Guest agent command failed, error was '" + ex.Message + "'", id);
            }
        }
    }

    private static JsonDocument ParseMessage(ReadOnlyMemory<byte> message)
    {
        ReadOnlyMemory<byte> json = message;
        if (message.Span.IndexOf((byte)'\'') >= 0)
        {
            json = QemuJsonDialect.ToStandardJson(message.Span);
        }

        JsonDocument document = JsonDocument.Parse(json, DocumentOptions);
        if (json.Length > SharedPool.MaxPooledBytes)
        {
            // Parse rents its row table from ArrayPool.Shared as large as the request (16 MiB for
            // an 8 MiB guest-file-write) and, having copied the few rows it used into a small one,
            // returns it to the pool before it returns. Taken out again here and left to the GC:
            // the pool kept one per thread that parsed one, with nothing to trim them (a JIT
            // agent held 38-55 MiB more after four such writes).
            _ = ArrayPool<byte>.Shared.Rent(json.Length + JsonRowSize);
        }

        return document;
    }
}
